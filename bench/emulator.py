"""LocalStack for the benchmark (SES and S3), provisioned; and the delaying proxy before it.

LocalStack is started by the project's own launcher, `start_localstack(services=, workdir=)`
(a host process from .venv-localstack when no Docker engine answers; DEVELOPERS.md), found by
that public name wherever the launcher module lives.
"""

from __future__ import annotations

import contextlib
import importlib
import json
import subprocess
import sys
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import attrs
import boto3

from bench import messages

LAUNCHER_MODULES = ("devtools.localstack", "tests.support.localstack")
SERVICES = "ses,s3"


def running(stack: contextlib.ExitStack, tmp: Path, env: dict[str, str]) -> str:
    """Start LocalStack (stopped when `stack` closes), provision it; its endpoint URL.

    `env` (the probes' environment) supplies the credentials and region for provisioning.
    """
    workdir = tmp / "localstack"
    workdir.mkdir()
    localstack = _launcher()(services=SERVICES, workdir=workdir)
    stack.callback(localstack.stop)
    provision(localstack.endpoint_url, env)
    return str(localstack.endpoint_url)


def _launcher() -> Callable[..., Any]:
    for name in LAUNCHER_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name is not None and name.startswith(exc.name):
                continue  # that module (or its package) is not there: try the next one
            raise
        return module.start_localstack  # type: ignore[no-any-return]
    raise SystemExit(f"no LocalStack launcher: none of {', '.join(LAUNCHER_MODULES)} exists")


def provision(endpoint_url: str, env: dict[str, str]) -> None:
    """Verify the sender's domain in SES; the bucket and the attachments in S3."""
    session = boto3.session.Session(
        aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
        region_name=env["AWS_REGION"],
    )
    ses = session.client("ses", endpoint_url=endpoint_url)
    ses.verify_domain_identity(Domain=messages.SENDER_DOMAIN)
    s3 = session.client("s3", endpoint_url=endpoint_url)
    s3.create_bucket(Bucket=messages.BUCKET)
    for key, size in (
        (messages.LARGE_ATTACHMENT_KEY, messages.LARGE_ATTACHMENT_BYTES),
        (messages.HUGE_ATTACHMENT_KEY, messages.HUGE_ATTACHMENT_BYTES),
    ):
        s3.put_object(Bucket=messages.BUCKET, Key=key, Body=messages.attachment_bytes(size))


def version(endpoint_url: str) -> str:
    """LocalStack's own version, from its health endpoint."""
    url = f"{endpoint_url}/_localstack/health"
    with urllib.request.urlopen(url, timeout=5) as response:  # noqa: S310 - our LocalStack's URL
        return str(json.load(response).get("version", "unknown"))


def clear_outbox(endpoint_url: str) -> None:
    """Empty LocalStack's SES outbox, which keeps every message sent in memory."""
    url = f"{endpoint_url}/_aws/ses"
    request = urllib.request.Request(url, method="DELETE")  # noqa: S310 - our LocalStack's URL
    with urllib.request.urlopen(request, timeout=30):  # noqa: S310 - our LocalStack's URL
        pass


@attrs.frozen
class DelayProxy:
    """bench/delay_proxy.py as a child process."""

    endpoint_url: str
    process: subprocess.Popen[str]

    @classmethod
    def start(cls, upstream_url: str, *, delay: float) -> DelayProxy:
        upstream = upstream_url.removeprefix("http://")
        process = subprocess.Popen(  # noqa: S603 - our own module, fixed arguments
            [
                sys.executable,
                "-m",
                "bench.delay_proxy",
                "--upstream",
                upstream,
                "--delay",
                str(delay),
            ],
            stdout=subprocess.PIPE,
            text=True,
        )
        assert process.stdout is not None
        port = process.stdout.readline().strip()
        if not port.isdigit():
            process.kill()
            raise SystemExit("the delaying proxy did not start")
        return cls(endpoint_url=f"http://127.0.0.1:{port}", process=process)

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
