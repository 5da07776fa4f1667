"""Start moto's server for DynamoDB: LocalStack as a host process has none that works offline.

`moto.server` runs from the project's own `.venv` (`moto[server]` is a dev dependency) as a
child process in its own session, on a free port of 127.0.0.1, with its output in a log file.
Clients reach it through AWS_ENDPOINT_URL_DYNAMODB, which boto3 prefers to AWS_ENDPOINT_URL for
DynamoDB alone. It keeps every table in memory until it stops.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import attrs

START_TIMEOUT_S = 30.0
STOP_GRACE_S = 5.0
LOG_TAIL_LINES = 40


class MotoError(RuntimeError):
    """moto's server could not be started."""


@attrs.frozen
class MotoServer:
    """moto's server running as a child process group of the test session."""

    endpoint_url: str
    process: subprocess.Popen[bytes]
    log_path: Path

    def reset(self) -> None:
        """Forget every resource (all services, all accounts)."""
        request = urllib.request.Request(f"{self.endpoint_url}/moto-api/reset", method="POST")
        with urllib.request.urlopen(request, timeout=5):
            pass

    def stop(self) -> None:
        """SIGTERM the process group, SIGKILL it if it is still there after a grace period."""
        if self.process.poll() is not None:
            return
        _signal_group(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=STOP_GRACE_S)
        except subprocess.TimeoutExpired:
            _signal_group(self.process.pid, signal.SIGKILL)
            self.process.wait()


def start_moto(*, workdir: Path) -> MotoServer:
    """Start `python -m moto.server` and wait until it answers; its log is `workdir/moto.log`."""
    port = _free_port()
    log_path = workdir / "moto.log"
    with log_path.open("wb") as log:
        # As for LocalStack: a new session so stop() can signal the whole group, and no
        # inherited stdin/stdout that would keep pytest waiting.
        process = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "--host", "127.0.0.1", "--port", str(port)],
            cwd=workdir,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    server = MotoServer(endpoint_url=f"http://127.0.0.1:{port}", process=process, log_path=log_path)
    try:
        _wait_until_ready(server)
    except BaseException:
        server.stop()
        raise
    return server


def _wait_until_ready(server: MotoServer) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise MotoError(
                f"moto's server exited with code {server.process.returncode}\n"
                + _tail(server.log_path)
            )
        try:
            with urllib.request.urlopen(f"{server.endpoint_url}/moto-api/", timeout=2):
                return
        except OSError:  # not listening yet
            time.sleep(0.1)
    raise MotoError(
        f"moto's server not answering after {START_TIMEOUT_S:.0f} s\n" + _tail(server.log_path)
    )


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _signal_group(pid: int, signum: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError):  # the group has already gone
        os.killpg(pid, signum)


def _tail(path: Path) -> str:
    try:
        lines = path.read_text(errors="replace").splitlines()
    except OSError as error:
        return f"(no log at {path}: {error})"
    return f"last lines of {path}:\n" + "\n".join(lines[-LOG_TAIL_LINES:])


def main() -> None:
    """Run moto's server by hand until Ctrl-C: `python -m tests.support.moto`.

    Its log goes to `.moto/` in the repository.
    """
    workdir = Path(__file__).resolve().parents[2] / ".moto"
    workdir.mkdir(exist_ok=True)
    server = start_moto(workdir=workdir)
    print(f"moto at {server.endpoint_url} (AWS_ENDPOINT_URL_DYNAMODB); Ctrl-C stops it", flush=True)
    try:
        signal.pause()
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()


if __name__ == "__main__":
    main()
