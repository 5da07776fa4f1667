"""Rootful podman with the project's configuration, and a Lambda Runtime API for a function
container to poll.

podman stands in for the Docker engine this machine lacks: it builds the real Dockerfile on a
local stand-in of the AWS base image (mk/podman/build-standin.sh) and runs the function's
image, whose runtime interface client then takes invocations from `RuntimeApi` exactly as it
would from Lambda. Configuration and storage are the checkout's own, under `.podman/` (written
by `make init.podman`), passed through CONTAINERS_CONF and CONTAINERS_STORAGE_CONF.
"""

from __future__ import annotations

import json
import os
import queue
import shutil
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator, Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Literal

import attrs

from devtools.processes import spawn, stop_group, tail
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


@attrs.frozen
class Answer:
    """What the function posted for one invocation: its response, or its error."""

    kind: Literal["response", "error"]
    body: Any


@attrs.define
class _Invocation:
    request_id: str
    event: bytes
    answered: threading.Event = attrs.field(factory=threading.Event)
    answer: Answer | None = None


RUNTIME = "/2018-06-01/runtime"
FUNCTION_ARN = "arn:aws:lambda:us-east-1:000000000000:function:notifier"
POLL_S = 0.2


class RuntimeApi:
    """Lambda's Runtime API for one function, on a free port of 127.0.0.1.

    `invoke` queues an event and waits for the answer. The function's runtime interface client
    takes the event from GET invocation/next (with the request id, deadline and function ARN
    headers) and posts invocation/{id}/response or invocation/{id}/error; a cold start that
    fails posts init/error instead, which `invoke` reports at once.
    """

    def __init__(self, *, timeout_s: float = 60.0) -> None:
        self.timeout_s = timeout_s
        self.init_error: Any = None
        self._pending: queue.Queue[_Invocation] = queue.Queue()
        self._invocations: dict[str, _Invocation] = {}
        self._closing = threading.Event()
        self._server = _RuntimeApiServer(self)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def address(self) -> str:
        """host:port, the value of AWS_LAMBDA_RUNTIME_API."""
        host, port = self._server.server_address[:2]
        return f"{host!s}:{port}"

    def __enter__(self) -> RuntimeApi:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._closing.set()  # releases a GET invocation/next that is waiting
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()

    def invoke(self, event: Any, *, container: Container) -> Answer:
        """Hand `event` to the function and wait for its answer; fail with the container's
        output if the cold start fails, the container stops or no answer comes in time."""
        invocation = _Invocation(request_id=str(uuid.uuid4()), event=json.dumps(event).encode())
        self._invocations[invocation.request_id] = invocation
        self._pending.put(invocation)
        deadline = time.monotonic() + self.timeout_s
        while not invocation.answered.wait(POLL_S):
            if self.init_error is not None:
                raise AssertionError(
                    f"the cold start failed: {self.init_error}\n{container.logs()}"
                )
            if (code := container.exit_code()) is not None:
                raise AssertionError(f"the container exited with {code}\n{container.logs()}")
            if time.monotonic() > deadline:
                raise AssertionError(f"no answer in {self.timeout_s:.0f} s\n{container.logs()}")
        assert invocation.answer is not None
        return invocation.answer

    def wait_for_init_error(self, *, container: Container) -> Any:
        """The body the function posted to init/error; fail if it never posts one."""
        deadline = time.monotonic() + self.timeout_s
        while self.init_error is None:
            if time.monotonic() > deadline:
                raise AssertionError(f"no init/error in {self.timeout_s:.0f} s\n{container.logs()}")
            time.sleep(POLL_S)
        return self.init_error

    def next_invocation(self) -> _Invocation | None:
        """The next queued invocation, waiting for one; None once the server is closing."""
        while not self._closing.is_set():
            try:
                return self._pending.get(timeout=POLL_S)
            except queue.Empty:
                continue
        return None

    def record(self, request_id: str, kind: Literal["response", "error"], body: Any) -> bool:
        """Keep the function's answer to `request_id`; False when no such invocation exists."""
        invocation = self._invocations.get(request_id)
        if invocation is None:
            return False
        invocation.answer = Answer(kind=kind, body=body)
        invocation.answered.set()
        return True

    def headers(self, invocation: _Invocation) -> dict[str, str]:
        """The headers of GET invocation/next that the runtime interface client reads."""
        deadline_ms = int((time.time() + self.timeout_s) * 1000)
        return {
            "Lambda-Runtime-Aws-Request-Id": invocation.request_id,
            "Lambda-Runtime-Deadline-Ms": str(deadline_ms),
            "Lambda-Runtime-Invoked-Function-Arn": FUNCTION_ARN,
            "Content-Type": "application/json",
        }


class _RuntimeApiServer(ThreadingHTTPServer):
    def __init__(self, api: RuntimeApi) -> None:
        super().__init__(("127.0.0.1", 0), _RuntimeApiHandler)
        self.api = api

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Quiet about a connection the container dropped (it was removed mid-request)."""
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


class _RuntimeApiHandler(BaseHTTPRequestHandler):
    # HTTP/1.1: the client keeps its connection and may send "Expect: 100-continue".
    protocol_version = "HTTP/1.1"
    server: _RuntimeApiServer

    @property
    def api(self) -> RuntimeApi:
        return self.server.api

    def do_GET(self) -> None:
        if self.path != f"{RUNTIME}/invocation/next":
            self._reply(404, {"errorMessage": f"no route {self.path}"})
            return
        invocation = self.api.next_invocation()
        if invocation is None:  # closing: the container is gone, nobody reads an answer
            self.close_connection = True
            return
        self._send(200, invocation.event, self.api.headers(invocation))

    def do_POST(self) -> None:
        body = json.loads(self._body() or b"null")
        parts = self.path.removeprefix(RUNTIME).strip("/").split("/")
        match parts:
            case ["init", "error"]:
                self.api.init_error = body
                self._reply(202, {"status": "OK"})
            case ["invocation", request_id, ("response" | "error") as kind]:
                if self.api.record(request_id, kind, body):
                    self._reply(202, {"status": "OK"})
                else:
                    self._reply(400, {"errorMessage": f"unknown request id {request_id}"})
            case _:
                self._reply(404, {"errorMessage": f"no route {self.path}"})

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: a failing test prints the container's output, not the access log."""

    def _body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            return b"".join(self._chunks())
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))

    def _chunks(self) -> Iterator[bytes]:
        while size := int(self.rfile.readline().split(b";")[0], 16):
            yield self.rfile.read(size)
            self.rfile.readline()  # the CRLF after the chunk
        while self.rfile.readline() not in (b"\r\n", b"\n", b""):  # trailers
            pass

    def _reply(self, status: int, body: Any) -> None:
        self._send(status, json.dumps(body).encode(), {"Content-Type": "application/json"})

    def _send(self, status: int, body: bytes, headers: Mapping[str, str]) -> None:
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
