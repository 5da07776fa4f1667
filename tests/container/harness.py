"""The docker CLI, run as a subprocess, and the Lambda Runtime Interface Emulator's Invoke API.

Plain `docker` commands rather than an SDK: the tests exercise exactly what a developer types,
and `docker compose` has no Python API.
"""

from __future__ import annotations

import json
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[2]
EVENTS = REPO_ROOT / "tests" / "events"
# Where the emulator in the AWS base image takes invocations (port 8080 in the container).
INVOKE_PATH = "/2015-03-31/functions/function/invocations"
OUTPUT_TAIL_CHARS = 4000
# A cold build pulls the Lambda base image and every wheel of the lock file.
BUILD_TIMEOUT_S = 900.0


class CommandFailed(AssertionError):
    """A docker command exited non-zero; the message carries its output."""


def run(
    args: Sequence[str],
    *,
    timeout_s: float,
    env: dict[str, str] | None = None,
    check: bool = True,
) -> subprocess.CompletedProcess[str]:
    """Run a command from the repository root and capture its output.

    With `check`, a non-zero exit raises `CommandFailed` with the end of stdout and stderr.
    """
    result = subprocess.run(
        list(args),
        cwd=REPO_ROOT,
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=timeout_s,
        check=False,
    )
    if check and result.returncode != 0:
        raise CommandFailed(
            f"`{' '.join(args)}` exited with {result.returncode}\n"
            f"stdout:\n{result.stdout[-OUTPUT_TAIL_CHARS:]}\n"
            f"stderr:\n{result.stderr[-OUTPUT_TAIL_CHARS:]}"
        )
    return result


def succeeds(args: Sequence[str], *, timeout_s: float) -> bool:
    """Whether a command runs and exits 0 (a missing program or a time-out count as no)."""
    try:
        return run(args, timeout_s=timeout_s, check=False).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


def free_port() -> int:
    """A TCP port of 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_for_port(host: str, port: int, *, timeout_s: float) -> None:
    """Poll until something accepts TCP connections on host:port."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            with socket.create_connection((host, port), timeout=1):
                return
        except OSError:
            if time.monotonic() >= deadline:
                raise
            time.sleep(0.2)


def load_event(name: str, **changes: Any) -> dict[str, Any]:
    """A real-shaped event from tests/events, with `changes` applied to its top level."""
    event: dict[str, Any] = json.loads((EVENTS / name).read_text(encoding="utf-8"))
    event.update(changes)
    return event


def invoke(base_url: str, event: Any, *, timeout_s: float = 60.0) -> Any:
    """POST `event` to the emulator's Invoke API and return the decoded JSON response."""
    request = urllib.request.Request(
        base_url.rstrip("/") + INVOKE_PATH,
        data=json.dumps(event).encode("utf-8"),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout_s) as response:
            body = response.read()
    except urllib.error.HTTPError as error:
        raise AssertionError(f"the emulator answered {error.code}: {error.read()!r}") from error
    try:
        return json.loads(body)
    except ValueError as error:
        raise AssertionError(f"the emulator's answer is not JSON: {body!r}") from error
