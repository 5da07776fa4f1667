"""`python -m devtools serve` as a child process, as Lambda runs the function: apart.

A process of its own can be killed (SIGKILL mid-batch), measured (its resident memory, from
/proc) and heard: everything it writes, structlog's JSON lines and the runner's batch lines,
goes to one file the tests read while it runs and scan for private data afterwards (a file,
not a pipe: a pipe nobody drains would block a chatty runner).
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import attrs

from tests.support.privacy import Leak, PrivateData

ROOT = Path(__file__).resolve().parents[2]
_HTTP = re.compile(r"^serving the HTTP API on (http://127\.0\.0\.1:\d+) ", re.MULTILINE)
_BATCH = re.compile(
    r"^batch (\d+): received (\d+), ok (\d+), failed (\d+), deleted (\d+)", re.MULTILINE
)


@attrs.frozen
class Batch:
    """One `batch N: received R, ok O, failed F, deleted D` line of the runner."""

    number: int
    received: int
    ok: int
    failed: int
    deleted: int


def serve_environment(base: Mapping[str, str], **settings: str) -> dict[str, str]:
    """`base` (the test's environment) with `settings` on top, for a child runner.

    No AWS profile or session token is inherited: the child talks to the endpoints it is given
    with the credentials it is given, never to an account a developer is logged into.
    """
    env = {
        name: value
        for name, value in base.items()
        if name not in {"AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN"}
    }
    env.update(settings)
    env["PYTHONUNBUFFERED"] = "1"
    return env


class ServeProcess:
    """One `python -m devtools serve` child, its stdout and stderr in `log_path`."""

    def __init__(self, process: subprocess.Popen[bytes], log_path: Path) -> None:
        self.process = process
        self.log_path = log_path
        self._read_up_to = 0

    @classmethod
    def start(
        cls,
        *,
        queue_url: str,
        env: Mapping[str, str],
        log_path: Path,
        wait_seconds: int = 1,
        http: bool = False,
    ) -> ServeProcess:
        """Start serving `queue_url` with the handler in the child; its output in `log_path`.
        `http`: also the HTTP API (`--http`), on a free port (`http_url()` says which)."""
        with log_path.open("wb") as log:
            process = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "devtools",
                    "serve",
                    f"--queue-url={queue_url}",
                    f"--wait-seconds={wait_seconds}",
                    *(["--http", "--port=0"] if http else []),
                ],
                cwd=ROOT,
                env=dict(env),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        return cls(process, log_path)

    @property
    def pid(self) -> int:
        return self.process.pid

    def alive(self) -> bool:
        return self.process.poll() is None

    def output(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def new_lines(self) -> list[str]:
        """The complete lines written since the last call (for a long run: no re-reading)."""
        with self.log_path.open("rb") as log:
            log.seek(self._read_up_to)
            data = log.read()
        end = data.rfind(b"\n") + 1
        self._read_up_to += end
        return data[:end].decode("utf-8", errors="replace").splitlines()

    def batches(self) -> list[Batch]:
        return [Batch(*map(int, found)) for found in _BATCH.findall(self.output())]

    def records(self) -> list[dict[str, Any]]:
        """The structlog JSON lines written so far, decoded."""
        found = []
        for line in self.output().splitlines():
            if line.startswith("{"):
                try:
                    found.append(json.loads(line))
                except ValueError:
                    continue  # a line being written as we read
        return found

    def rss_kib(self) -> int:
        """Resident memory now (VmRSS of /proc/PID/status), in KiB."""
        status = Path(f"/proc/{self.pid}/status").read_text(encoding="ascii")
        found = re.search(r"^VmRSS:\s+(\d+) kB", status, re.MULTILINE)
        if found is None:
            raise RuntimeError(f"no VmRSS for pid {self.pid}: has it exited?")
        return int(found[1])

    def wait_until_serving(self, timeout_s: float = 30.0) -> None:
        """Until the runner has bootstrapped the handler and starts polling."""
        self.wait_for(lambda text: "\nserving " in f"\n{text}", timeout_s, "serving")

    def http_url(self, timeout_s: float = 30.0) -> str:
        """The HTTP API's URL, once `serve --http` says it serves it."""
        self.wait_for(lambda text: _HTTP.search(text) is not None, timeout_s, "the HTTP API")
        found = _HTTP.search(self.output())
        assert found is not None
        return found[1]

    def wait_for_batches(self, count: int, timeout_s: float = 30.0) -> list[Batch]:
        self.wait_for(lambda _: len(self.batches()) >= count, timeout_s, f"{count} batch(es)")
        return self.batches()

    def wait_for(self, condition: Any, timeout_s: float, what: str) -> None:
        deadline = time.monotonic() + timeout_s
        while not condition(self.output()):
            if not self.alive():
                raise AssertionError(f"serve exited ({self.process.returncode}):\n{self.output()}")
            if time.monotonic() > deadline:
                raise AssertionError(f"not within {timeout_s} s: {what}\n{self.output()[-3000:]}")
            time.sleep(0.05)

    def kill(self) -> None:
        """SIGKILL: no batch finished, no delete, no flush, as when Lambda's sandbox dies."""
        if self.alive():
            self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self, timeout_s: float = 15.0) -> int:
        """SIGTERM (the batch in flight is finished), then wait; SIGKILL if it hangs."""
        if self.alive():
            self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            self.kill()
            raise AssertionError(f"serve ignored SIGTERM for {timeout_s} s") from None


def load_note() -> str:
    """The load this machine was under, to print beside timings and memory figures."""
    one, five, _fifteen = os.getloadavg()
    return f"load average {one:.1f} (1 min), {five:.1f} (5 min) on {os.cpu_count()} CPUs"


class Runners:
    """The `serve` children of one test, all with planted credentials, and what they wrote.

    Each child gets a distinctive fake access key, secret key and session token (LocalStack and
    moto accept any), so a credential in a log line can be told from chance; `private` holds
    them, and the test adds the addresses and bodies it queues. `close()` kills whatever still
    runs; `leaks()` scans every line every child wrote.
    """

    def __init__(self, *, workdir: Path, base_env: Mapping[str, str]) -> None:
        self.workdir = workdir
        self.base_env = dict(base_env)
        self.credentials = {
            "AWS_ACCESS_KEY_ID": "AKIAPLANTEDKEY000001",
            "AWS_SECRET_ACCESS_KEY": f"plantedSecretKey/{uuid.uuid4().hex}",
            "AWS_SESSION_TOKEN": f"plantedSessionToken/{uuid.uuid4().hex}",
        }
        self.private = PrivateData()
        for value in self.credentials.values():
            self.private.add_credential(value)
        self.started: list[ServeProcess] = []

    def start(self, queue_url: str, **settings: str) -> ServeProcess:
        """A child serving `queue_url`, with `settings` (NOTIFIER_*, AWS_ENDPOINT_URL_*)."""
        env = serve_environment(self.base_env, **{**self.credentials, **settings})
        log_path = self.workdir / f"serve-{len(self.started) + 1}.log"
        process = ServeProcess.start(queue_url=queue_url, env=env, log_path=log_path)
        self.started.append(process)
        process.wait_until_serving()
        return process

    def lines(self) -> list[str]:
        return [line for process in self.started for line in process.output().splitlines()]

    def leaks(self) -> list[Leak]:
        return self.private.leaks(self.lines())

    def close(self) -> None:
        for process in self.started:
            process.kill()
