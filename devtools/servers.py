"""The servers `make run` needs: LocalStack (every service but DynamoDB) and moto (DynamoDB)."""

from __future__ import annotations

import contextlib
import importlib.metadata
import os
import time
from collections.abc import Iterator
from pathlib import Path

import attrs

from devtools.console import say, shown
from devtools.localstack import localstack_version, start_host_localstack
from devtools.moto import start_moto

SERVICES = "sqs,sns,ses,s3,cloudwatch"


@attrs.frozen
class Endpoints:
    aws: str  # LocalStack
    dynamodb: str  # moto


def start_servers(running: contextlib.ExitStack, *, workdir: Path, port: int) -> Endpoints:
    """LocalStack on `port`, then moto; closing `running` stops them (moto first), says so,
    and removes their pid files. Raises what `start_host_localstack` and `start_moto` raise."""
    started = time.monotonic()
    localstack = start_host_localstack(services=SERVICES, workdir=workdir, port=port)
    running.callback(say, "LocalStack stopped")
    running.callback(localstack.stop)
    running.enter_context(_pidfile(workdir / "localstack.pid", localstack.process.pid))
    say(
        f"LocalStack {localstack_version(localstack.endpoint_url)} on {localstack.endpoint_url}"
        f" ({SERVICES.replace(',', ', ')}) ready in {time.monotonic() - started:.1f} s;"
        f" log {shown(localstack.log_path)}"
    )
    moto = start_moto(workdir=workdir)
    running.callback(say, "moto stopped")
    running.callback(moto.stop)
    running.enter_context(_pidfile(workdir / "moto.pid", moto.process.pid))
    say(
        f"moto {importlib.metadata.version('moto')} on {moto.endpoint_url} for DynamoDB;"
        f" log {shown(moto.log_path)}"
    )
    return Endpoints(aws=localstack.endpoint_url, dynamodb=moto.endpoint_url)


def port_taken(port: int, workdir: Path) -> str:
    """What to say when LocalStack's port is taken: by whom, if we can tell, and what to do."""
    version = localstack_version(f"http://127.0.0.1:{port}")
    holder = f"a LocalStack {version} answers there" if version else "it is not a LocalStack"
    lines = [f"port {port} of 127.0.0.1 is already in use: {holder}."]
    pidfile = workdir / "localstack.pid"
    leftover = _live_pid(pidfile)
    if leftover is not None:
        lines.append(
            f"It is another `make run`'s (pid {leftover}, from {shown(pidfile)}): stop that one"
            f" with Ctrl-C, or `kill {leftover}` if it was left behind."
        )
    elif version:
        lines.append("Is `docker compose up` running? Stop it, or use another port.")
    lines.append(f"Another port: LOCALSTACK_PORT={port + 1} make run")
    return "\n".join(lines)


@contextlib.contextmanager
def _pidfile(path: Path, pid: int) -> Iterator[None]:
    """A server's pid, on disk while it runs: a `make run` killed hard leaves it behind."""
    path.write_text(f"{pid}\n")
    try:
        yield
    finally:
        path.unlink(missing_ok=True)


def _live_pid(pidfile: Path) -> int | None:
    try:
        pid = int(pidfile.read_text())
        os.kill(pid, 0)
    except (OSError, ValueError):
        return None
    return pid
