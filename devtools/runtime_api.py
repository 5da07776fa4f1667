"""Lambda's Runtime API, served on 127.0.0.1 for a runtime interface client to poll.

Lambda's side of the runtime protocol
(https://docs.aws.amazon.com/lambda/latest/dg/runtimes-api.html), for one execution
environment: invocations are handed out one at a time, and what the runtime posts back is kept.

- `GET /2018-06-01/runtime/invocation/next`: held until an invocation is queued, then 200 with
  the event and the `Lambda-Runtime-Aws-Request-Id`, `Lambda-Runtime-Deadline-Ms`,
  `Lambda-Runtime-Invoked-Function-Arn` and `Lambda-Runtime-Trace-Id` headers;
- `POST .../invocation/{id}/response` and `POST .../invocation/{id}/error` (with its
  `Lambda-Runtime-Function-Error-Type`): 202, kept as that invocation's answer; 400 for a
  request id not handed out or already answered;
- `POST /2018-06-01/runtime/init/error`: 202, kept as the init error;
- any other path: 404.

`RuntimeApi.invoke` queues an event and returns its `Invocation`, whose `posted` future the
runtime's answer resolves; `init_error` resolves if the runtime reports that it could not start.
"""

from __future__ import annotations

import json
import queue
import re
import sys
import threading
import time
import uuid
from concurrent.futures import Future
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Literal, Self

import attrs

PREFIX = "/2018-06-01/runtime"
NEXT_PATH = f"{PREFIX}/invocation/next"
INIT_ERROR_PATH = f"{PREFIX}/init/error"
INVOCATION_PATH = re.compile(
    rf"{re.escape(PREFIX)}/invocation/(?P<id>[^/]+)/(?P<kind>response|error)"
)
ERROR_TYPE_HEADER = "Lambda-Runtime-Function-Error-Type"
POLL_S = 0.05  # how often the server and a held `next` look whether the API is closing


@attrs.frozen
class Posted:
    """What the runtime posted: an invocation's response or error, or its init error."""

    kind: Literal["response", "error", "init-error"]
    body: bytes
    error_type: str | None  # the Lambda-Runtime-Function-Error-Type header

    def json(self) -> Any:
        """The body, decoded (the runtime posts JSON)."""
        return json.loads(self.body)


@attrs.frozen
class Invocation:
    """One event handed to the runtime; `posted` resolves with its answer."""

    request_id: str
    event: bytes
    deadline_ms: int  # epoch milliseconds, as Lambda-Runtime-Deadline-Ms
    function_arn: str
    trace_id: str
    posted: Future[Posted] = attrs.field(factory=Future, eq=False, repr=False)


class RuntimeApi:
    """The Runtime API on a free port of 127.0.0.1, until `close()` (or the `with` block ends)."""

    def __init__(self, *, function_arn: str) -> None:
        self.function_arn = function_arn
        self.init_error: Future[Posted] = Future()
        self.requests: list[str] = []  # "GET /path 200", in order: for failure messages
        self._queue: queue.Queue[Invocation] = queue.Queue()
        self._handed_out: dict[str, Invocation] = {}
        self._lock = threading.Lock()
        self._closed = threading.Event()
        self._server = _Server(("127.0.0.1", 0), _Handler, api=self)
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(POLL_S,), name="runtime-api", daemon=True
        )
        self._thread.start()

    @property
    def address(self) -> str:
        """`host:port`, as AWS_LAMBDA_RUNTIME_API gives it to the runtime."""
        host, port = self._server.server_address[:2]
        return f"{host!s}:{port}"

    def invoke(self, event: bytes, *, timeout_s: float) -> Invocation:
        """Queue `event` for the runtime's next `GET next`, with `timeout_s` until its deadline."""
        now = time.time()
        invocation = Invocation(
            request_id=str(uuid.uuid4()),
            event=event,
            deadline_ms=int((now + timeout_s) * 1000),
            function_arn=self.function_arn,
            trace_id=f"Root=1-{int(now):08x}-{uuid.uuid4().hex[:24]};Sampled=0",
        )
        self._queue.put(invocation)
        return invocation

    def close(self) -> None:
        """Stop serving; a `GET next` still held is answered 500, as a dying service would."""
        self._closed.set()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def _next(self) -> Invocation | None:
        while not self._closed.is_set():
            try:
                invocation = self._queue.get(timeout=POLL_S)
            except queue.Empty:
                continue
            with self._lock:
                self._handed_out[invocation.request_id] = invocation
            return invocation
        return None

    def _post(self, path: str, body: bytes, error_type: str | None) -> int:
        if path == INIT_ERROR_PATH:
            if not self.init_error.done():
                self.init_error.set_result(Posted("init-error", body, error_type))
            return 202
        match = INVOCATION_PATH.fullmatch(path)
        if match is None:
            return 404
        with self._lock:
            invocation = self._handed_out.pop(match["id"], None)
        if invocation is None:
            return 400
        kind: Literal["response", "error"] = "response" if match["kind"] == "response" else "error"
        invocation.posted.set_result(Posted(kind, body, error_type))
        return 202


class _Server(ThreadingHTTPServer):
    daemon_threads = True  # a `GET next` held at shutdown must not keep the test waiting

    def __init__(
        self, address: tuple[str, int], handler: type[_Handler], *, api: RuntimeApi
    ) -> None:
        super().__init__(address, handler)
        self.api = api

    def handle_error(self, request: object, client_address: object) -> None:
        """Kept with the requests, not printed: a runtime stopped mid-request is no failure."""
        self.api.requests.append(f"error answering {client_address}: {sys.exc_info()[1]!r}")


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # the runtime client keeps its connection open
    server: _Server

    def do_GET(self) -> None:
        if self.path != NEXT_PATH:
            self._answer(404, _error("InvalidRequest", f"no such path: {self.path}"))
            return
        invocation = self.server.api._next()
        if invocation is None:
            self._answer(500, _error("ServiceShutdown", "the Runtime API is closing"))
            return
        self._answer(
            200,
            invocation.event,
            headers={
                "Lambda-Runtime-Aws-Request-Id": invocation.request_id,
                "Lambda-Runtime-Deadline-Ms": str(invocation.deadline_ms),
                "Lambda-Runtime-Invoked-Function-Arn": invocation.function_arn,
                "Lambda-Runtime-Trace-Id": invocation.trace_id,
            },
        )

    def do_POST(self) -> None:
        body = self._body()
        status = self.server.api._post(self.path, body, self.headers.get(ERROR_TYPE_HEADER))
        if status == 202:
            self._answer(status, b'{"status":"OK"}')
        elif status == 400:
            self._answer(status, _error("InvalidRequestID", "no invocation awaits this answer"))
        else:
            self._answer(status, _error("InvalidRequest", f"no such path: {self.path}"))

    def log_message(self, format: str, *args: Any) -> None:
        """Kept for failure messages instead of printed: pytest shows them when it matters."""
        self.server.api.requests.append(format % args)

    def _body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks = []
            while size := int(self.rfile.readline().split(b";")[0], 16):
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
            while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                pass  # trailers
            return b"".join(chunks)
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))

    def _answer(self, status: int, body: bytes, *, headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)


def _error(error_type: str, message: str) -> bytes:
    return json.dumps({"errorType": error_type, "errorMessage": message}).encode()
