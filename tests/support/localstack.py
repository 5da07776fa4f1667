"""Start LocalStack for the integration tests: in Docker when an engine answers, else on the host.

The host process runs from `.venv-localstack` (built by `make init`), listens on a free port of
127.0.0.1 and keeps all its files under the work directory it is given. DEVELOPERS.md explains
the set-up and its limits.
"""

from __future__ import annotations

import contextlib
import gc
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import attrs

if TYPE_CHECKING:
    from testcontainers.community.localstack import LocalStackContainer

REPO_ROOT = Path(__file__).resolve().parents[2]
LOCALSTACK_VENV = REPO_ROOT / ".venv-localstack"
# The last community image that starts without an auth token; later tags need an account.
LOCALSTACK_IMAGE = "localstack/localstack:4.14.0"
READY_STATES = frozenset({"available", "running"})
START_TIMEOUT_S = 60.0
STOP_GRACE_S = 5.0
LOG_TAIL_LINES = 40


class LocalStackError(RuntimeError):
    """LocalStack could not be started."""


class LocalStack(Protocol):
    """A running LocalStack that the caller owns and must stop."""

    @property
    def endpoint_url(self) -> str:
        """The edge URL every AWS client of the tests talks to."""
        ...

    def stop(self) -> None:
        """Stop LocalStack and wait until it has gone."""
        ...


@attrs.frozen
class HostLocalStack:
    """LocalStack running as a child process group of the test session."""

    endpoint_url: str
    process: subprocess.Popen[bytes]
    log_path: Path

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


@attrs.frozen
class ContainerLocalStack:
    """LocalStack running in a container that testcontainers manages."""

    endpoint_url: str
    container: LocalStackContainer

    def stop(self) -> None:
        """Stop and remove the container."""
        self.container.stop()


def start_localstack(*, services: str, workdir: Path) -> LocalStack:
    """Start LocalStack with `services` (comma-separated) and wait until they are ready.

    Uses a pinned LocalStack image when a Docker engine answers, else the host process from
    `.venv-localstack`, with its files and `localstack.log` under `workdir`.
    """
    if _docker_answers():
        return _start_container(services=services)
    return _start_host_process(services=services, workdir=workdir)


def _docker_answers() -> bool:
    try:
        # Imported here: only the container path needs them, and they come with testcontainers.
        import docker  # type: ignore[import-untyped]
        import requests
    except ImportError:
        return False
    # When nothing listens, the docker SDK drops its socket without closing it; pytest turns the
    # ResourceWarning into an error in whichever test the garbage collector happens to run.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ResourceWarning)
        try:
            client = docker.from_env(timeout=3)
            try:
                return bool(client.ping())
            finally:
                client.close()
        except (docker.errors.DockerException, requests.RequestException, OSError):
            return False
        finally:
            gc.collect()  # collect the dropped socket while its warning is still ignored


def _start_container(*, services: str) -> LocalStack:
    from testcontainers.community.localstack import LocalStackContainer

    container = LocalStackContainer(image=LOCALSTACK_IMAGE, region_name="us-east-1")
    container.with_services(*services.split(","))
    container.with_env("DISABLE_EVENTS", "1")
    container.start(timeout=START_TIMEOUT_S)
    return ContainerLocalStack(endpoint_url=container.get_url(), container=container)


def _start_host_process(*, services: str, workdir: Path) -> LocalStack:
    python = LOCALSTACK_VENV / "bin" / "python"
    if not python.exists():
        raise LocalStackError(
            f"no Docker engine and no LocalStack venv at {LOCALSTACK_VENV}: run `make init`"
        )
    port = _free_port()
    endpoint_url = f"http://127.0.0.1:{port}"
    env = {
        **os.environ,
        "GATEWAY_LISTEN": f"127.0.0.1:{port}",
        "SERVICES": services,
        "DNS_ADDRESS": "0",  # no DNS server: it would need port 53 and is of no use here
        "DISABLE_EVENTS": "1",  # no analytics calls home
        # Inside a container LocalStack ignores FILESYSTEM_ROOT and writes to /var/lib/localstack.
        "OVERRIDE_IN_DOCKER": "0",
        "LOCALSTACK_VOLUME_DIR": str(workdir / "volume"),
        "FILESYSTEM_ROOT": str(workdir / "filesystem"),
        "CONFIG_DIR": str(workdir / "config"),
    }
    log_path = workdir / "localstack.log"
    with log_path.open("wb") as log:
        # A new session so stop() can signal LocalStack's whole process group, and no inherited
        # stdin/stdout, which would keep pytest waiting for LocalStack's output to close.
        process = subprocess.Popen(
            [str(python), "-m", "localstack.runtime.main"],
            env=env,
            cwd=workdir,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    localstack = HostLocalStack(endpoint_url=endpoint_url, process=process, log_path=log_path)
    try:
        _wait_until_ready(localstack, services=services)
    except BaseException:
        localstack.stop()
        raise
    return localstack


def _wait_until_ready(localstack: HostLocalStack, *, services: str) -> None:
    wanted = {name.strip() for name in services.split(",") if name.strip()}
    deadline = time.monotonic() + START_TIMEOUT_S
    states: dict[str, str] = {}
    while time.monotonic() < deadline:
        if localstack.process.poll() is not None:
            raise LocalStackError(
                f"LocalStack exited with code {localstack.process.returncode}\n"
                + _tail(localstack.log_path)
            )
        states = _service_states(localstack.endpoint_url)
        if all(states.get(name) in READY_STATES for name in wanted):
            return
        time.sleep(0.2)
    pending = {name: states.get(name, "unknown") for name in sorted(wanted)}
    raise LocalStackError(
        f"LocalStack not ready after {START_TIMEOUT_S:.0f} s: {pending}\n"
        + _tail(localstack.log_path)
    )


def _service_states(endpoint_url: str) -> dict[str, str]:
    try:
        with urllib.request.urlopen(f"{endpoint_url}/_localstack/health", timeout=2) as response:
            health = json.load(response)
    except (OSError, ValueError):  # not listening yet, or a half-written answer
        return {}
    services: dict[str, str] = health.get("services", {})
    return services


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
    """Run LocalStack by hand until Ctrl-C: `python -m tests.support.localstack [SERVICES]`.

    Its files and log go to `.localstack/` in the repository (git ignores it).
    """
    services = sys.argv[1] if len(sys.argv) > 1 else "sqs,sns,ses,s3,cloudwatch"
    workdir = REPO_ROOT / ".localstack"
    workdir.mkdir(exist_ok=True)
    localstack = start_localstack(services=services, workdir=workdir)
    print(f"LocalStack ({services}) at {localstack.endpoint_url}; Ctrl-C stops it", flush=True)
    try:
        signal.pause()
    except KeyboardInterrupt:
        pass
    finally:
        localstack.stop()


if __name__ == "__main__":
    main()
