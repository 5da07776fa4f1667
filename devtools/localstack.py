"""Start LocalStack: in Docker when an engine answers, else as a process on this host.

The host process runs from `.venv-localstack` (built by `make init`), listens on 127.0.0.1 (a
free port, or the one asked for) and keeps all its files under the work directory it is given.
The tests, `make run` and `python -m devtools.localstack` share it; DEVELOPERS.md explains the
set-up and its limits.
"""

from __future__ import annotations

import gc
import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import attrs

from devtools.processes import free_port, port_in_use, spawn, stop_group, tail

if TYPE_CHECKING:
    from testcontainers.community.localstack import LocalStackContainer

REPO_ROOT = Path(__file__).resolve().parents[1]
LOCALSTACK_VENV = REPO_ROOT / ".venv-localstack"
# The last community image that starts without an auth token; later tags need an account.
LOCALSTACK_IMAGE = "localstack/localstack:4.14.0"
READY_STATES = frozenset({"available", "running"})
START_TIMEOUT_S = 60.0


class LocalStackError(RuntimeError):
    """LocalStack could not be started."""


class PortTaken(LocalStackError):
    """Something already listens on the port LocalStack was asked to use."""

    def __init__(self, port: int) -> None:
        super().__init__(f"port {port} of 127.0.0.1 is already in use")
        self.port = port


class LocalStack(Protocol):
    """A running LocalStack that the caller owns and must stop."""

    @property
    def endpoint_url(self) -> str:
        """The edge URL every AWS client talks to."""
        ...

    def stop(self) -> None:
        """Stop LocalStack and wait until it has gone."""
        ...


@attrs.frozen
class HostLocalStack:
    """LocalStack running as a child process group of this process."""

    endpoint_url: str
    process: subprocess.Popen[bytes]
    log_path: Path

    def stop(self) -> None:
        """SIGTERM the process group, SIGKILL it if it is still there after a grace period."""
        stop_group(self.process)


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
    return start_host_localstack(services=services, workdir=workdir)


def start_host_localstack(
    *, services: str, workdir: Path, port: int | None = None
) -> HostLocalStack:
    """Start LocalStack from `.venv-localstack` on `port` (None: a free one) of 127.0.0.1.

    A process group of its own (`devtools.processes.spawn`), its output in
    `workdir/localstack.log`. Raises `PortTaken` when something listens on `port`,
    `LocalStackError` when it does not get ready.
    """
    python = LOCALSTACK_VENV / "bin" / "python"
    if not python.exists():
        raise LocalStackError(f"no LocalStack venv at {LOCALSTACK_VENV}: run `make init`")
    if port is None:
        port = free_port()
    elif port_in_use(port):
        raise PortTaken(port)
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
    process = spawn(
        [str(python), "-m", "localstack.runtime.main"], env=env, workdir=workdir, log_path=log_path
    )
    localstack = HostLocalStack(endpoint_url=endpoint_url, process=process, log_path=log_path)
    try:
        _wait_until_ready(localstack, services=services)
    except BaseException:
        localstack.stop()
        raise
    return localstack


def localstack_version(endpoint_url: str, *, timeout_s: float = 0.5) -> str | None:
    """The version a LocalStack at `endpoint_url` reports, or None if none answers there."""
    health = _health(endpoint_url, timeout_s=timeout_s)
    return str(health.get("version", "?")) if health else None


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


def _wait_until_ready(localstack: HostLocalStack, *, services: str) -> None:
    wanted = {name.strip() for name in services.split(",") if name.strip()}
    deadline = time.monotonic() + START_TIMEOUT_S
    states: dict[str, str] = {}
    while time.monotonic() < deadline:
        if localstack.process.poll() is not None:
            raise LocalStackError(
                f"LocalStack exited with code {localstack.process.returncode}\n"
                + tail(localstack.log_path)
            )
        states = _health(localstack.endpoint_url).get("services", {})
        if all(states.get(name) in READY_STATES for name in wanted):
            return
        time.sleep(0.2)
    pending = {name: states.get(name, "unknown") for name in sorted(wanted)}
    raise LocalStackError(
        f"LocalStack not ready after {START_TIMEOUT_S:.0f} s: {pending}\n"
        + tail(localstack.log_path)
    )


def _health(endpoint_url: str, *, timeout_s: float = 2.0) -> dict[str, Any]:
    """LocalStack's health document; {} when nothing (or not yet LocalStack) answers."""
    url = f"{endpoint_url}/_localstack/health"
    try:
        # An http URL this module built: no file:// or custom scheme reaches urlopen.
        with urllib.request.urlopen(url, timeout=timeout_s) as response:  # noqa: S310
            health = json.load(response)
    except (OSError, ValueError):  # not listening yet, or a half-written answer
        return {}
    return health if isinstance(health, dict) else {}


def main() -> None:
    """Run LocalStack by hand until Ctrl-C: `python -m devtools.localstack [SERVICES]`.

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
