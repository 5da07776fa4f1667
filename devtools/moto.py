"""Start moto's server for DynamoDB: LocalStack as a host process has none that works offline.

`moto.server` runs from the project's own `.venv` (`moto[server]` is a dev dependency) in a
process group of its own, on a free port of 127.0.0.1, its output in `moto.log`. Clients reach
it through AWS_ENDPOINT_URL_DYNAMODB, which boto3 prefers to AWS_ENDPOINT_URL for DynamoDB
alone. It keeps every table in memory until it stops.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import attrs

from devtools.processes import free_port, spawn, stop_group, tail

START_TIMEOUT_S = 30.0


class MotoError(RuntimeError):
    """moto's server could not be started."""


@attrs.frozen
class MotoServer:
    """moto's server running as a child process group of this process."""

    endpoint_url: str
    process: subprocess.Popen[bytes]
    log_path: Path

    def stop(self) -> None:
        """SIGTERM the process group, SIGKILL it if it is still there after a grace period."""
        stop_group(self.process)


def start_moto(*, workdir: Path) -> MotoServer:
    """Start `python -m moto.server` and wait until it answers; its log is `workdir/moto.log`."""
    port = free_port()
    log_path = workdir / "moto.log"
    process = spawn(
        [sys.executable, "-m", "moto.server", "--host", "127.0.0.1", "--port", str(port)],
        env=os.environ,
        workdir=workdir,
        log_path=log_path,
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
                + tail(server.log_path)
            )
        try:
            with urllib.request.urlopen(f"{server.endpoint_url}/moto-api/", timeout=2):  # noqa: S310
                return
        except OSError:  # not listening yet
            time.sleep(0.1)
    raise MotoError(
        f"moto's server not answering after {START_TIMEOUT_S:.0f} s\n" + tail(server.log_path)
    )


def main() -> None:
    """Run moto's server by hand until Ctrl-C: `python -m devtools.moto`.

    Its log goes to `.localstack/moto.log` in the repository (git ignores `.localstack/`).
    """
    workdir = Path(__file__).resolve().parents[1] / ".localstack"
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
