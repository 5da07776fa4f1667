"""`python -m devtools serve --http`'s gateway: a real HTTP request on 127.0.0.1 becomes the
event API Gateway would send, and the function's answer the HTTP response it would give.

The server is real (a socket on 127.0.0.1, a free port); the function is a recorder, or the
real app with fakes."""

from __future__ import annotations

import base64
import http.client
import json
import socket
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import pytest

from devtools.http_gateway import MAX_FORWARDED_BYTES, Running, SerialFunction, start
from devtools.runner.invokers import InProcessFunction, InvokeFailed
from notifier.entrypoints.app import App
from tests.fakes import FakeMailer
from tests.support.openapi import Reply
from tests.unit.api_support import load_event
from tests.unit.conftest import seed_message


class Recorder:
    """A function that keeps each event and answers `response` (or raises `InvokeFailed`)."""

    def __init__(self, response: Any = None) -> None:
        self.events: list[dict[str, Any]] = []
        self.response = response if response is not None else {"statusCode": 204, "body": ""}

    def invoke(self, event: Mapping[str, Any], *, budget_seconds: float) -> Any:
        self.events.append(dict(event))
        if isinstance(self.response, Exception):
            raise self.response
        return self.response


@pytest.fixture
def serve() -> Iterator[Callable[..., Running]]:
    """Start the gateway for a function on a free port; stopped at the end."""
    started: list[Running] = []

    def start_for(function: Any) -> Running:
        running = start(function, port=0)
        started.append(running)
        return running

    yield start_for
    for running in started:
        running.stop()


def request(
    running: Running,
    method: str,
    path: str,
    body: bytes | None = None,
    headers: Mapping[str, str] | None = None,
    *,
    raw_headers: bytes = b"",
) -> Reply:
    """One request over a socket; `raw_headers` are written as given (folded lines...)."""
    host, port = running.server.server_address[:2]
    lines = [f"{method} {path} HTTP/1.1", f"Host: {host}:{port}", "Connection: close"]
    lines += [f"{name}: {value}" for name, value in (headers or {}).items()]
    if body is not None:
        lines.append(f"Content-Length: {len(body)}")
    head = ("\r\n".join(lines) + "\r\n").encode("latin-1") + raw_headers + b"\r\n"
    with socket.create_connection((str(host), int(port)), timeout=10) as sock:
        sock.sendall(head + (body or b""))
        response = http.client.HTTPResponse(sock)
        response.begin()
        return Reply(
            status=response.status,
            headers={k.lower(): v for k, v in response.getheaders()},
            body=response.read(),
        )


def test_it_listens_on_the_loopback_interface_only(serve: Callable[..., Running]) -> None:
    running = serve(Recorder())

    assert running.server.server_address[0] == "127.0.0.1"
    assert running.url.startswith("http://127.0.0.1:")


def test_a_request_becomes_the_event_the_sam_cli_describes(serve: Callable[..., Running]) -> None:
    """GIVEN a JSON POST with a query string and cookies WHEN it reaches the gateway THEN the
    function gets a payload format 2.0 event with the fields of tests/events/http_send.json
    (`sam local generate-event apigateway http-api-proxy`): lower-case header names, the body
    as text, the cookies apart, the raw path still percent-encoded."""
    recorder = Recorder()
    running = serve(recorder)
    body = json.dumps(seed_message()).encode()

    request(
        running,
        "POST",
        "/v1/emails%3Aenqueue?a=1&a=2",
        body,
        {"Content-Type": "application/json", "Cookie": "c1=v1; c2=v2", "X-Trace": "t"},
    )

    (event,) = recorder.events
    sam = load_event("http_send.json")
    assert set(event) <= set(sam)
    assert set(event["requestContext"]) <= set(sam["requestContext"])
    assert set(event["requestContext"]["http"]) == set(sam["requestContext"]["http"])
    assert event["version"] == "2.0"
    assert event["rawPath"] == event["requestContext"]["http"]["path"] == "/v1/emails%3Aenqueue"
    assert event["requestContext"]["http"]["method"] == "POST"
    assert event["rawQueryString"] == "a=1&a=2"
    assert event["queryStringParameters"] == {"a": "1,2"}
    assert event["cookies"] == ["c1=v1", "c2=v2"]
    assert event["headers"]["content-type"] == "application/json"
    assert event["headers"]["x-trace"] == "t"
    assert "cookie" not in event["headers"]
    assert event["isBase64Encoded"] is False
    assert json.loads(event["body"]) == seed_message()


@pytest.mark.parametrize(
    ("content_type", "body"),
    [("application/octet-stream", b"{}"), ("application/json", b"\xff\xfe not utf-8")],
)
def test_a_binary_body_is_passed_base64_encoded(
    serve: Callable[..., Running], content_type: str, body: bytes
) -> None:
    """A media type that is not text, or bytes that are not UTF-8, as API Gateway passes
    them: base64, with isBase64Encoded."""
    recorder = Recorder()

    request(serve(recorder), "POST", "/v1/emails", body, {"Content-Type": content_type})

    (event,) = recorder.events
    assert event["isBase64Encoded"] is True
    assert base64.b64decode(event["body"]) == body


def test_a_folded_header_reaches_the_function_with_its_line_break(
    serve: Callable[..., Running],
) -> None:
    """An obsolete line folding (RFC 9112 obs-fold) puts CR LF inside a header value: the
    gateway passes it on as it came, and the handler refuses it (test_http_api.py)."""
    recorder = Recorder()

    request(serve(recorder), "GET", "/v1/emails/x", raw_headers=b"X-Trace: a\r\n b\r\n")

    (event,) = recorder.events
    assert "\r\n" in event["headers"]["x-trace"]


def test_the_function_s_answer_becomes_the_response(serve: Callable[..., Running]) -> None:
    """statusCode, headers, a base64 body decoded, cookies as Set-Cookie."""
    answer = {
        "statusCode": 202,
        "headers": {"Content-Type": "application/json", "Location": "/v1/emails/k.x"},
        "body": base64.b64encode(b'{"ok":true}').decode(),
        "isBase64Encoded": True,
        "cookies": ["s=1"],
    }

    reply = request(serve(Recorder(answer)), "GET", "/")

    assert reply.status == 202
    assert reply.headers["location"] == "/v1/emails/k.x"
    assert reply.headers["set-cookie"] == "s=1"
    assert reply.json == {"ok": True}


def test_an_answer_without_a_status_is_a_200_json_response(serve: Callable[..., Running]) -> None:
    reply = request(serve(Recorder({"hello": "world"})), "GET", "/")

    assert (reply.status, reply.content_type, reply.json) == (
        200,
        "application/json",
        {"hello": "world"},
    )


def test_a_failed_invocation_is_api_gateway_s_500(serve: Callable[..., Running]) -> None:
    reply = request(serve(Recorder(InvokeFailed("the handler raised"))), "GET", "/")

    assert (reply.status, reply.json) == (500, {"message": "Internal Server Error"})


def test_a_body_too_large_to_forward_is_refused_unread(serve: Callable[..., Running]) -> None:
    """Over MAX_FORWARDED_BYTES (declared): 413 with the API's problem, the function never
    invoked, the body never read."""
    recorder = Recorder()
    running = serve(recorder)
    host, port = running.server.server_address[:2]
    with socket.create_connection((str(host), int(port)), timeout=10) as sock:
        sock.sendall(
            f"POST /v1/emails HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            f"Content-Length: {MAX_FORWARDED_BYTES + 1}\r\n\r\n".encode()
        )
        response = http.client.HTTPResponse(sock)
        response.begin()
        status, body = response.status, json.loads(response.read())

    assert status == 413
    assert body["type"].endswith("/too-large")
    assert recorder.events == []


def test_the_real_app_answers_through_the_gateway(
    serve: Callable[..., Running], app: App, mailer: FakeMailer
) -> None:
    """GIVEN the app (with fakes) behind the gateway WHEN the sample is posted, then posted with
    a folded header THEN 200 and one email, then 400 invalid-request and still one."""
    running = serve(SerialFunction(InProcessFunction(app)))
    body = json.dumps(seed_message()).encode()
    headers = {"Content-Type": "application/json"}

    sent = request(running, "POST", "/v1/emails", body, headers)
    folded = request(running, "POST", "/v1/emails", body, headers, raw_headers=b"X-A: a\r\n b\r\n")

    assert (sent.status, sent.json) == (200, {"messageId": "fake-ses-1"})
    assert folded.status == 400
    assert folded.json["errors"][0]["field"] == "headers.x-a"
    assert len(mailer.sent) == 1
