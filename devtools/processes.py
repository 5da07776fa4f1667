"""Local servers (LocalStack, moto) as child processes: started detached, stopped as a group."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path

STOP_GRACE_S = 5.0
LOG_TAIL_LINES = 40


def spawn(
    command: Sequence[str], *, env: Mapping[str, str], workdir: Path, log_path: Path
) -> subprocess.Popen[bytes]:
    """Start `command` in `workdir`, in a session of its own, its output in `log_path`.

    Its own session: a terminal's Ctrl-C reaches only its owner, and `stop_group` can signal
    the whole group. No inherited stdin or stdout, which would keep a caller (pytest, make)
    waiting for the output to close.
    """
    with log_path.open("wb") as log:
        return subprocess.Popen(  # noqa: S603 - the callers' fixed commands, from our venvs
            list(command),
            env=dict(env),
            cwd=workdir,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def stop_group(process: subprocess.Popen[bytes], *, grace_s: float = STOP_GRACE_S) -> None:
    """SIGTERM the process group, SIGKILL it if it is still there after `grace_s`."""
    if process.poll() is not None:
        return
    _signal_group(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=grace_s)
    except subprocess.TimeoutExpired:
        _signal_group(process.pid, signal.SIGKILL)
        process.wait()


def free_port() -> int:
    """A port of 127.0.0.1 that nothing listens on (for now)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def port_in_use(port: int) -> bool:
    """Whether something listens on `port` of 127.0.0.1 (or of every address)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        # As a server binds: a closed connection lingering in TIME_WAIT does not count.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return True
        return False


def tail(path: Path) -> str:
    """The end of a log, to quote when a server did not start."""
    try:
        lines = path.read_text(errors="replace").splitlines()
    except OSError as error:
        return f"(no log at {path}: {error})"
    return f"last lines of {path}:\n" + "\n".join(lines[-LOG_TAIL_LINES:])


def _signal_group(pid: int, signum: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError):  # the group has already gone
        os.killpg(pid, signum)
