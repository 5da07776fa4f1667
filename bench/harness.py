"""What bench/run.py and bench/profile.py share: the environment and the probe runner."""

from __future__ import annotations

import itertools
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from bench import messages

REPO = Path(__file__).resolve().parents[1]
HANDLERS = {
    "notifier": "notifier.entrypoints.lambda_handler",
    "seed": "bench.baselines.seed_handler",
    "powertools": "bench.baselines.powertools_handler",
}
# What template.yaml adds to the bench's settings: the state table (idempotency, suppression,
# statuses: a DynamoDB client and its adapters built at init) and the status topic.
PRODUCTION_SETTINGS = {
    "NOTIFIER_STATE_TABLE": "notifier-state",
    "NOTIFIER_STATUS_TOPIC_ARN": "arn:aws:sns:us-east-1:000000000000:notifier-status",
}
PROBE_TIMEOUT_S = 300


# Large buffers always mmap'd (freed straight back to the system) and two arenas instead of
# one per thread: without them, ten send threads each keep their own high-water mark.
MALLOC_SETTINGS = {"MALLOC_MMAP_THRESHOLD_": "131072", "MALLOC_ARENA_MAX": "2"}


def environment(tmp: Path) -> dict[str, str]:
    """What Lambda would give the function, with LocalStack's test credentials."""
    env = {
        k: v
        for k, v in os.environ.items()
        # No stray AWS profile or notifier setting; bytecode caches on, as in the image.
        if not k.startswith(("AWS_", "NOTIFIER_", "POWERTOOLS_")) and k != "PYTHONDONTWRITEBYTECODE"
    }
    return env | {
        "AWS_REGION": "us-east-1",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "test",
        "AWS_SECRET_ACCESS_KEY": "test",
        "AWS_CONFIG_FILE": str(tmp / "no-aws-config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(tmp / "no-aws-credentials"),
        "NOTIFIER_ATTACHMENT_BUCKETS": messages.BUCKET,
        "POWERTOOLS_SERVICE_NAME": "notifier",
        "POWERTOOLS_METRICS_NAMESPACE": "Notifier",
        # glibc's malloc settings from template.yaml and the Dockerfile, for every handler.
        **MALLOC_SETTINGS,
    }


class Prober:
    """Runs probes (bench/probes/) as child processes of this interpreter, in the repo."""

    def __init__(self, tmp: Path, env: dict[str, str]) -> None:
        self._tmp = tmp
        self._env = env
        self._count = itertools.count()

    def run(
        self,
        name: str,
        spec: dict[str, Any],
        *,
        endpoint: str | None = None,
        env: dict[str, str] | None = None,
    ) -> Any:
        """`python -m bench.probes.NAME SPEC OUT`; its result."""
        out = self._out()
        self._call(["-m", f"bench.probes.{name}", json.dumps(spec), str(out)], endpoint, env)
        return json.loads(out.read_text())

    def cold(
        self,
        module: str,
        *,
        endpoint: str | None,
        event: Path | None,
        env: dict[str, str] | None = None,
    ) -> Any:
        """A fresh interpreter imports `module` (and calls its handler twice with `event`)."""
        out = self._out()
        extra = [str(event)] if event else []
        self._call(["-m", "bench.probes.cold", module, str(out), *extra], endpoint, env)
        return json.loads(out.read_text())

    def cold_parts(self, which: str) -> Any:
        """bench/probes/cold_parts.py in a fresh interpreter, for `notifier` or `seed`."""
        out = self._out()
        self._call(["-m", "bench.probes.cold_parts", which, str(out)], None, None)
        return json.loads(out.read_text())

    def stderr_of(self, args: list[str]) -> str:
        """Run this interpreter with `args` (no endpoint); what it wrote to stderr."""
        return self._call(args, None, None)

    def _out(self) -> Path:
        return self._tmp / f"probe-{next(self._count)}.json"

    def _call(self, args: list[str], endpoint: str | None, env: dict[str, str] | None) -> str:
        child_env = self._env | (env or {})
        if endpoint:
            child_env["AWS_ENDPOINT_URL"] = endpoint
        # stdout carries the handlers' logs and EMF lines, as in Lambda: not ours to keep.
        completed = subprocess.run(  # noqa: S603 - this interpreter, our own modules
            [sys.executable, *args],
            cwd=REPO,
            env=child_env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            check=False,
            timeout=PROBE_TIMEOUT_S,
        )
        if completed.returncode:
            raise SystemExit(f"probe {args[:3]} failed:\n{completed.stderr[-4000:]}")
        return completed.stderr


def say(text: str) -> None:
    """Progress on stderr (stdout is the table)."""
    print(f"bench: {text}", file=sys.stderr, flush=True)
