"""Rootful podman with the project's configuration, and invocations of a function container
through `devtools.runtime_api.RuntimeApi`.

podman stands in for the Docker engine this machine lacks: it builds the real Dockerfile on a
local stand-in of the AWS base image (mk/podman/build-standin.sh) and runs the function's
image, whose runtime interface client then takes invocations from `RuntimeApi` exactly as it
would from Lambda. Configuration and storage are the checkout's own, under `.podman/` (written
by `make init.podman`), passed through CONTAINERS_CONF and CONTAINERS_STORAGE_CONF.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
import uuid
from collections.abc import Mapping
from concurrent.futures import FIRST_COMPLETED, wait
from pathlib import Path
from typing import Any

import attrs

from devtools.processes import spawn, stop_group, tail
from devtools.runtime_api import Posted, RuntimeApi
from tests.container.harness import BUILD_TIMEOUT_S, REPO_ROOT, run

PODMAN_DIR = REPO_ROOT / ".podman"
CONTAINERS_CONF = PODMAN_DIR / "containers.conf"
STORAGE_CONF = PODMAN_DIR / "storage.conf"
STANDIN_SCRIPT = REPO_ROOT / "mk" / "podman" / "build-standin.sh"
STANDIN_IMAGE = "localhost/lambda-python-standin:3.12"
# podman runs containers with runc; debootstrap builds the stand-in (make init.podman installs).
REQUIRED_PROGRAMS = ("podman", "runc", "debootstrap")
PROBE_TIMEOUT_S = 30.0
COMMAND_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 30.0
ANSWER_TIMEOUT_S = 60.0  # an invocation's deadline, and how long a test waits for its answer
POLL_S = 0.2  # how often a wait looks whether the container is still running


def unavailable_reason() -> str | None:
    """Why podman cannot build and run the image on this machine, or None when it can."""
    if os.geteuid() != 0:
        return f"the podman image tests need root (rootful podman, debootstrap): uid {os.geteuid()}"
    missing = [program for program in REQUIRED_PROGRAMS if shutil.which(program) is None]
    if missing:
        return f"not installed: {', '.join(missing)} (as root on Debian: make init.podman)"
    for conf in (CONTAINERS_CONF, STORAGE_CONF):
        if not conf.exists():
            return f"no {conf.relative_to(REPO_ROOT)}: make init.podman writes it"
    try:
        info = run(["podman", "info"], env=podman_env(), timeout_s=PROBE_TIMEOUT_S, check=False)
    except subprocess.TimeoutExpired:
        return f"`podman info` did not answer within {PROBE_TIMEOUT_S:.0f} s"
    if info.returncode != 0:
        last_line = (info.stderr.strip().splitlines() or ["(no output)"])[-1]
        return f"`podman info` exited with {info.returncode}: {last_line}"
    return None


def podman_env() -> dict[str, str]:
    """This process's environment with podman pointed at the checkout's configuration."""
    return {
        **os.environ,
        "CONTAINERS_CONF": str(CONTAINERS_CONF),
        "CONTAINERS_STORAGE_CONF": str(STORAGE_CONF),
    }


@attrs.frozen
class Container:
    """A `podman run` in the foreground, its output in a file; remove() stops and removes it."""

    name: str
    process: subprocess.Popen[bytes]
    log_path: Path

    def exit_code(self) -> int | None:
        """The `podman run` exit status once the container has stopped, else None."""
        return self.process.poll()

    def logs(self) -> str:
        """The end of the container's output, for failure messages."""
        return f"--- output of container {self.name}:\n{tail(self.log_path)}"

    def remove(self) -> None:
        """Remove the container at once (no grace period) and wait for `podman run` to end."""
        run(
            ["podman", "rm", "--force", "--time", "0", self.name],
            env=podman_env(),
            timeout_s=STOP_TIMEOUT_S,
            check=False,
        )
        stop_group(self.process, grace_s=STOP_TIMEOUT_S)


def build_standin(*, python: str) -> str:
    """The stand-in base image, built from Debian and `python`'s CPython unless up to date."""
    run(
        [str(STANDIN_SCRIPT)],
        env={**podman_env(), "PYTHON": python},
        timeout_s=BUILD_TIMEOUT_S,
    )
    return STANDIN_IMAGE


def build(*, target: str, tag: str) -> str:
    """The repository's Dockerfile built up to `target` on the stand-in, tagged `tag`.

    The host's network, for pip in the build stage (PyPI); never a pull: the base is local.
    """
    run(
        [
            "podman",
            "build",
            "--network",
            "host",
            "--pull=never",
            "--build-arg",
            f"BASE_IMAGE={STANDIN_IMAGE}",
            "--target",
            target,
            "--tag",
            tag,
            str(REPO_ROOT),
        ],
        env=podman_env(),
        timeout_s=BUILD_TIMEOUT_S,
    )
    return tag


def start(image: str, *, env: Mapping[str, str], log_path: Path) -> Container:
    """Run `image` with its own entry point and command, on the host's network."""
    name = f"notifier-test-{uuid.uuid4().hex[:12]}"
    env_args = [arg for item in env.items() for arg in ("--env", "=".join(item))]
    command = ["podman", "run", "--rm", "--name", name, "--network", "host", *env_args, image]
    process = spawn(command, env=podman_env(), workdir=REPO_ROOT, log_path=log_path)
    return Container(name=name, process=process, log_path=log_path)


def contents(image: str, probe: str) -> Any:
    """Run the Python `probe` in `image` with `python3` as the entry point; its JSON output."""
    result = run(
        [
            "podman",
            "run",
            "--rm",
            "--network",
            "host",
            "--entrypoint",
            "python3",
            image,
            "-c",
            probe,
        ],
        env=podman_env(),
        timeout_s=COMMAND_TIMEOUT_S,
    )
    return json.loads(result.stdout)


def invoke(
    api: RuntimeApi, event: Any, *, container: Container, timeout_s: float = ANSWER_TIMEOUT_S
) -> Posted:
    """Hand `event` to the function through `api` and wait for its response or error; fail
    with the container's output if the cold start fails, the container stops or no answer
    comes in time."""
    invocation = api.invoke(json.dumps(event).encode(), timeout_s=timeout_s)
    deadline = time.monotonic() + timeout_s
    while not invocation.posted.done():
        if api.init_error.done():
            failure = f"the cold start failed: {api.init_error.result()}"
            raise AssertionError(f"{failure}\n{_context(api, container)}")
        if (code := container.exit_code()) is not None:
            raise AssertionError(f"the container exited with {code}\n{_context(api, container)}")
        if time.monotonic() > deadline:
            raise AssertionError(f"no answer in {timeout_s:.0f} s\n{_context(api, container)}")
        wait([invocation.posted, api.init_error], timeout=POLL_S, return_when=FIRST_COMPLETED)
    return invocation.posted.result()


def wait_for_init_error(
    api: RuntimeApi, *, container: Container, timeout_s: float = ANSWER_TIMEOUT_S
) -> Posted:
    """What the function posted to init/error; fail if it posts none in time."""
    try:
        return api.init_error.result(timeout=timeout_s)
    except TimeoutError:
        failure = f"no init/error in {timeout_s:.0f} s"
        raise AssertionError(f"{failure}\n{_context(api, container)}") from None


def _context(api: RuntimeApi, container: Container) -> str:
    requests = "\n".join(f"  {line}" for line in api.requests) or "  (none)"
    return f"Runtime API requests:\n{requests}\n{container.logs()}"
