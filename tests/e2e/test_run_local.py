"""`make run` (`python -m devtools.run_local`) as a developer sees it, in a subprocess: its own
LocalStack, the two sample emails through SQS and SNS, serving until Ctrl-C, a clean stop."""

from __future__ import annotations

import contextlib
import json
import os
import queue
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from devtools.provision import sample_pdf

pytestmark = pytest.mark.timeout(60)
ROOT = Path(__file__).parent.parent.parent
SAMPLE_LINES = (
    "  from        noreply@acubeapi.com",
    "  to          user@example.com",
    "  subject     Votre facture est prête",
    "  parts       multipart/mixed [multipart/alternative [text/plain, text/html],"
    " application/pdf]",
    f"  attachment  facture-12345.pdf (application/pdf, {len(sample_pdf())} bytes)",
)


class RunLocal:
    """One `python -m devtools.run_local` and its output (stdout and stderr), read as it comes."""

    def __init__(self, *args: str, port: int, workdir: Path, http_port: int) -> None:
        # A developer's shell: no AWS or notifier settings.
        env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "NOTIFIER_"))}
        env |= {"LOCALSTACK_PORT": str(port), "HTTP_PORT": str(http_port), "PYTHONUNBUFFERED": "1"}
        self.port = port
        self.http_port = http_port
        self.workdir = workdir
        self.process = subprocess.Popen(
            [sys.executable, "-m", "devtools.run_local", "--workdir", str(workdir), *args],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self.lines: list[str] = []
        self._incoming: queue.Queue[str | None] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        with self.process.stdout:
            for line in self.process.stdout:
                self._incoming.put(line.rstrip("\n"))
        self._incoming.put(None)

    def wait_for(self, text: str, *, timeout_s: float) -> None:
        """Read output until a line contains `text`; fail with the output so far if none does."""
        deadline = time.monotonic() + timeout_s
        while not any(text in line for line in self.lines):
            try:
                line = self._incoming.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                line = None
            if line is None:
                raise AssertionError(f"no {text!r} in the output:\n{self.output()}")
            self.lines.append(line)

    def finish(self, *, timeout_s: float) -> int:
        """Wait for the exit and read the rest of the output; return the exit status."""
        status = self.process.wait(timeout=timeout_s)
        while (line := self._incoming.get(timeout=5)) is not None:
            self.lines.append(line)
        return status

    def output(self) -> str:
        return "\n".join(self.lines)

    def pid(self, server: str) -> int:
        """The pid of a server it started ("localstack" or "moto"), from its pid file."""
        return int((self.workdir / f"{server}.pid").read_text())


@pytest.fixture(autouse=True)
def environment() -> None:
    """Overrides the e2e tier's: run_local starts its own servers and sets its own environment,
    so these tests need neither the session's LocalStack nor its AWS_* variables."""


@pytest.fixture
def run_local(tmp_path: Path) -> Iterator[Callable[..., RunLocal]]:
    """Start run_local on a free port; whatever is left running at the end is killed."""
    started: list[RunLocal] = []

    def start(*args: str, port: int | None = None, http_port: int | None = None) -> RunLocal:
        run = RunLocal(
            *args,
            port=port or free_port(),
            http_port=http_port or free_port(),
            workdir=tmp_path / "localstack",
        )
        started.append(run)
        return run

    yield start
    for run in started:
        if run.process.poll() is None:
            for server in ("localstack", "moto"):
                if (run.workdir / f"{server}.pid").exists():
                    with contextlib.suppress(ProcessLookupError):
                        os.killpg(run.pid(server), signal.SIGKILL)
            run.process.kill()
            run.process.wait()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def listening(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


def gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


def test_once_shows_the_sample_sent_through_sqs_and_through_sns(
    run_local: Callable[..., RunLocal],
) -> None:
    """GIVEN a free LOCALSTACK_PORT
    WHEN `run_local --once` runs
    THEN it shows the sample invoice twice, as SES sent it (from, to, subject, MIME parts, the
    attachment's name and size), once through SQS and once through SNS, and exits 0."""
    run = run_local("--once")

    status = run.finish(timeout_s=45)

    output = run.output()
    assert status == 0, output
    assert "sample 1 -> SQS queue notifier-email" in output
    assert "sample 2 -> SNS topic notifier-email with channel=email" in output
    assert "email 1 in the SES outbox" in output
    assert "email 2 in the SES outbox" in output
    for line in SAMPLE_LINES:
        assert run.lines.count(line) == 2, output
    assert "serving:" not in output
    assert output.endswith("LocalStack stopped")
    assert list(run.workdir.glob("*.pid")) == []
    assert not listening(run.port)


def test_it_serves_what_is_sent_later_and_ctrl_c_stops_it_and_localstack(
    run_local: Callable[..., RunLocal],
) -> None:
    """GIVEN run_local serving after its two samples
    WHEN a third email is sent with the command its serving line prints and its status asked
    with the status command it prints, a fourth with its curl example (the HTTP API), its
    status read with the other curl example, and then SIGINT comes
    THEN the third and fourth emails are shown, each has a status record, the mail viewer it
    names lists the four, the runner, the HTTP API and the viewer stop, LocalStack and moto
    have gone, and the exit status is 0."""
    run = run_local()
    run.wait_for("Ctrl-C to stop", timeout_s=40)
    servers = [run.pid("localstack"), run.pid("moto")]
    commands = [line.strip() for line in run.lines if line.startswith("    ")]
    export, send = commands[0], commands[1]
    (status_command,) = [c for c in commands if " -m notifier status " in c]
    (post,) = [c for c in commands if c.startswith("curl ") and "--data-binary" in c]
    (get,) = [c for c in commands if c.startswith("curl ") and c.endswith("/MESSAGE_ID")]

    sent = subprocess.run(
        ["bash", "-c", f"{export} && {send}"], cwd=ROOT, capture_output=True, text=True, check=False
    )
    assert sent.returncode == 0, sent.stderr
    run.wait_for("email 3 in the SES outbox", timeout_s=15)
    (shown,) = [line for line in run.lines if line.startswith("email 3 in the SES outbox")]
    message_id = shown.rsplit("message id ", 1)[1].rstrip(")")
    asked = subprocess.run(
        ["bash", "-c", f"{export} && {status_command.replace('MESSAGE_ID', message_id)}"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert asked.returncode == 0, asked.stderr
    assert json.loads(asked.stdout)["status"] in {"sent", "delivered"}
    posted = subprocess.run(["bash", "-c", post], cwd=ROOT, capture_output=True, check=False)
    message_id = json.loads(posted.stdout)["messageId"]
    run.wait_for("email 4 in the SES outbox", timeout_s=15)
    read = subprocess.run(
        ["bash", "-c", get.replace("MESSAGE_ID", message_id)], capture_output=True, check=False
    )
    (viewer,) = [line.split(": ", 1)[1] for line in run.lines if line.startswith("  mail viewer:")]
    with urllib.request.urlopen(viewer, timeout=5) as response:
        listed = response.read().decode()
    run.process.send_signal(signal.SIGINT)
    status = run.finish(timeout_s=20)

    assert status == 0, run.output()
    assert json.loads(read.stdout)["ses_message_id"] == message_id
    assert any(line.startswith("runner  stopped after") for line in run.lines)
    assert run.lines[-2:] == ["moto stopped", "LocalStack stopped"]
    assert all(gone(pid) for pid in servers)
    assert not listening(run.port)
    assert not listening(run.http_port)
    assert listed.count("<tr data-id=") == 4  # the mail viewer lists the four emails
    assert not listening(int(viewer.rsplit(":", 1)[1]))


def test_a_taken_http_port_fails_at_once_and_says_what_to_do(
    run_local: Callable[..., RunLocal],
) -> None:
    """GIVEN something listening on HTTP_PORT WHEN run_local starts THEN it exits 1 at once,
    starting nothing, naming the port and another one to try."""
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        run = run_local(http_port=port)

        status = run.finish(timeout_s=20)

    assert status == 1
    assert f"port {port} of 127.0.0.1 (the HTTP API) is already in use." in run.lines
    assert f"Another port: HTTP_PORT={port + 1} make run" in run.lines
    assert list(run.workdir.glob("*.pid")) == []


def test_a_taken_port_fails_at_once_and_says_what_to_do(
    run_local: Callable[..., RunLocal],
) -> None:
    """GIVEN something listening on LOCALSTACK_PORT
    WHEN run_local starts
    THEN it exits 1 at once, starting nothing, naming the port and another one to try."""
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        run = run_local(port=port)

        status = run.finish(timeout_s=20)

    assert status == 1
    assert f"port {port} of 127.0.0.1 is already in use: it is not a LocalStack." in run.lines
    assert f"Another port: LOCALSTACK_PORT={port + 1} make run" in run.lines
