"""API Gateway's part, locally: `python -m devtools serve --http` and `make run`.

A WSGI application turns each real HTTP request into the HTTP API's Lambda event (payload
format 2.0, the shape `sam local generate-event apigateway http-api-proxy` writes), invokes the
function (in this process, or over the Runtime Interface Emulator) and turns its answer back
into the HTTP response, as API Gateway does:

- header names in lower case, repeated headers joined with commas, cookies in `cookies`;
- a body whose media type is not text, or that is not UTF-8, passed base64-encoded;
- an answer without `statusCode` sent as 200 `application/json`; an invocation that fails
  answered 500 `{"message": "Internal Server Error"}`.

Not emulated: SigV4 (nothing is checked: the server listens on 127.0.0.1 only), throttling,
and Lambda's 6 MB request limit. Bodies up to `MAX_FORWARDED_BYTES` reach the handler, which
refuses over 10 MiB itself; larger ones are refused here with the same 413 problem.
"""

from __future__ import annotations

import base64
import json
import socketserver
import threading
import time
import urllib.parse
import uuid
from collections.abc import Callable, Iterable, Mapping
from http import HTTPStatus
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server
from wsgiref.types import StartResponse, WSGIEnvironment

from devtools.runner.invokers import Function, InvokeFailed
from notifier.adapters.inbound.http import MAX_BODY_BYTES
from notifier.domain.errors import FieldError
from notifier.entrypoints.context import DEFAULT_TIMEOUT_SECONDS
from notifier.entrypoints.problems import problem

HOST = "127.0.0.1"
DEFAULT_PORT = 8080
# Enough for a body over the handler's own limit to reach it (and be refused there).
MAX_FORWARDED_BYTES = MAX_BODY_BYTES + 6 * 1024 * 1024
_TEXT_TYPES = ("application/json", "application/javascript", "application/xml")
_GATEWAY_FAILURE = b'{"message":"Internal Server Error"}'
_RAW_PATH = "devtools.raw_path"


class ApiGateway:
    """The WSGI application: request -> HTTP API event -> `function` -> response."""

    def __init__(self, function: Function, *, budget_seconds: float = DEFAULT_TIMEOUT_SECONDS):
        self._function = function
        self._budget_seconds = budget_seconds

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        length = _content_length(environ)
        if length > MAX_FORWARDED_BYTES:
            refused = problem(
                "too-large",
                "(body): over what the local gateway forwards",
                errors=(FieldError("(body)", f"is over {MAX_FORWARDED_BYTES} bytes"),),
            )
            return _respond(start_response, 413, refused["headers"], refused["body"].encode())
        body = environ["wsgi.input"].read(length) if length else b""
        event = http_api_event(environ, body)
        try:
            response = self._function.invoke(event, budget_seconds=self._budget_seconds)
        except InvokeFailed:
            return _respond(
                start_response, 500, {"content-type": "application/json"}, _GATEWAY_FAILURE
            )
        return _answer(start_response, response)


def http_api_event(environ: WSGIEnvironment, body: bytes) -> dict[str, Any]:
    """The payload format 2.0 event API Gateway would send the function for this request."""
    headers = _headers(environ)
    cookies = [c.strip() for c in headers.pop("cookie", "").split(";") if c.strip()]
    query = environ.get("QUERY_STRING", "")
    raw_path = environ.get(_RAW_PATH) or urllib.parse.quote(
        environ.get("PATH_INFO", "/").encode("latin-1"), safe="/:@!$&'()*+,;="
    )
    now = time.time()
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": raw_path,
        "rawQueryString": query,
        "headers": headers,
        "requestContext": {
            "accountId": "000000000000",
            "apiId": "local",
            "domainName": headers.get("host", HOST),
            "domainPrefix": headers.get("host", HOST).split(".")[0],
            "http": {
                "method": environ["REQUEST_METHOD"],
                "path": raw_path,
                "protocol": environ.get("SERVER_PROTOCOL", "HTTP/1.1"),
                "sourceIp": environ.get("REMOTE_ADDR", HOST),
                "userAgent": headers.get("user-agent", ""),
            },
            "requestId": str(uuid.uuid4()),
            "routeKey": "$default",
            "stage": "$default",
            "time": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(now)),
            "timeEpoch": int(now * 1000),
        },
        "isBase64Encoded": False,
    }
    if cookies:
        event["cookies"] = cookies
    if query:
        parsed = urllib.parse.parse_qs(query, keep_blank_values=True)
        event["queryStringParameters"] = {k: ",".join(v) for k, v in parsed.items()}
    if body:
        text = _text(body, headers.get("content-type", ""))
        event["isBase64Encoded"] = text is None
        event["body"] = text if text is not None else base64.b64encode(body).decode("ascii")
    return event


def serve(
    function: Function, *, port: int = DEFAULT_PORT, log: Callable[[str], None] | None = None
) -> ThreadingServer:
    """A server for `function` on 127.0.0.1:`port` (0: any free port), not yet serving: call
    `serve_forever()` (on a thread), then `shutdown()` and `server_close()`."""
    handler = _quiet_handler(log)
    server = make_server(HOST, port, ApiGateway(function), ThreadingServer, handler)
    assert isinstance(server, ThreadingServer)
    return server


def start(function: Function, *, port: int, log: Callable[[str], None] | None = None) -> Running:
    """Serve `function` on a daemon thread until `Running.stop()`."""
    server = serve(function, port=port, log=log)
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.1}, name="http-gateway", daemon=True
    )
    thread.start()
    return Running(server, thread)


class Running:
    """A server on its thread."""

    def __init__(self, server: ThreadingServer, thread: threading.Thread) -> None:
        self.server = server
        self.thread = thread

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.server.server_address[1]}"

    def stop(self) -> None:
        """Stop accepting, let requests in flight finish, close the socket."""
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=10)


class ThreadingServer(socketserver.ThreadingMixIn, WSGIServer):
    """One thread per request, as API Gateway takes requests in parallel."""

    daemon_threads = True
    block_on_close = True


class SerialFunction:
    """One invocation at a time, as one Lambda sandbox runs them: the HTTP server's threads and
    the SQS runner share one function (and one app, which is not made for concurrent calls)."""

    def __init__(self, function: Function) -> None:
        self._function = function
        self._lock = threading.Lock()

    def invoke(self, event: Mapping[str, Any], *, budget_seconds: float) -> Any:
        with self._lock:
            return self._function.invoke(event, budget_seconds=budget_seconds)


def _answer(start_response: StartResponse, response: Any) -> Iterable[bytes]:
    if not isinstance(response, Mapping) or "statusCode" not in response:
        body = json.dumps(response).encode("utf-8")
        return _respond(start_response, 200, {"content-type": "application/json"}, body)
    headers = {str(k).lower(): str(v) for k, v in (response.get("headers") or {}).items()}
    text = response.get("body") or ""
    body = base64.b64decode(text) if response.get("isBase64Encoded") else str(text).encode()
    cookies = [str(cookie) for cookie in response.get("cookies") or ()]
    return _respond(start_response, int(response["statusCode"]), headers, body, cookies)


def _respond(
    start_response: StartResponse,
    status: int,
    headers: Mapping[str, str],
    body: bytes,
    cookies: Iterable[str] = (),
) -> Iterable[bytes]:
    try:
        phrase = HTTPStatus(status).phrase
    except ValueError:
        phrase = "Status"
    listed = [(name, value) for name, value in headers.items() if name != "content-length"]
    listed += [("set-cookie", cookie) for cookie in cookies]
    listed.append(("content-length", str(len(body))))
    start_response(f"{status} {phrase}", listed)
    return [body]


def _headers(environ: WSGIEnvironment) -> dict[str, str]:
    headers = {
        key[5:].replace("_", "-").lower(): str(value)
        for key, value in environ.items()
        if key.startswith("HTTP_")
    }
    for key, name in (("CONTENT_TYPE", "content-type"), ("CONTENT_LENGTH", "content-length")):
        if environ.get(key):
            headers[name] = str(environ[key])
    return headers


def _content_length(environ: WSGIEnvironment) -> int:
    try:
        return max(0, int(environ.get("CONTENT_LENGTH") or 0))
    except ValueError:
        return 0


def _text(body: bytes, content_type: str) -> str | None:
    """The body as API Gateway passes it: text for textual media types, else None (base64)."""
    media_type = content_type.partition(";")[0].strip().lower()
    textual = (
        media_type.startswith("text/")
        or media_type in _TEXT_TYPES
        or media_type.endswith(("+json", "+xml"))
    )
    if not textual:
        return None
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError:
        return None


def _quiet_handler(log: Callable[[str], None] | None) -> type[WSGIRequestHandler]:
    class Handler(WSGIRequestHandler):
        """wsgiref's handler, keeping the raw path (PATH_INFO is percent-decoded) and logging
        one line per request to `log` instead of stderr."""

        def get_environ(self) -> WSGIEnvironment:
            environ = super().get_environ()
            environ[_RAW_PATH] = self.path.partition("?")[0]
            return environ

        def log_message(self, format: str, *args: Any) -> None:
            if log is not None:
                log("http    " + format % args)

    return Handler
