"""The HTTP API end to end: a real HTTP client -> `python -m devtools serve --http` (its own
process) -> the handler -> LocalStack's SES and SQS, moto's DynamoDB.

The same requests a producer would send with curl: send now, send again, read the status;
queue, then see the email arrive through the queue and its status by tracking id; and the bad
input that must get a clear 4xx with nothing sent.
"""

from __future__ import annotations

import http.client
import json
import os
import socket
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from devtools.provision import Provisioned
from tests.e2e.conftest import message, provision_stack, wait_until
from tests.support.openapi import Reply
from tests.support.serve import ServeProcess, serve_environment
from tests.support.ses_outbox import SesOutbox

pytestmark = pytest.mark.timeout(120)
PROBLEM = "tag:acubeapi.com,2026:notifier/problems/"
JSON = {"Content-Type": "application/json"}


@pytest.fixture
def stack(monkeypatch: pytest.MonkeyPatch) -> Provisioned:
    """Its own queue and state table (idempotency and statuses on), given to the handler."""
    provisioned = provision_stack(state_table=True)
    monkeypatch.setenv("NOTIFIER_STATE_TABLE", provisioned.state_table)
    return provisioned


@pytest.fixture
def api(stack: Provisioned, tmp_path: Path) -> Iterator[str]:
    """`python -m devtools serve --http` on the stack's queue; its HTTP API's base URL."""
    process = ServeProcess.start(
        queue_url=stack.queue_url,
        env=serve_environment(os.environ),
        log_path=tmp_path / "serve.log",
        http=True,
    )
    try:
        process.wait_until_serving()
        yield process.http_url()
    finally:
        assert process.stop() == 0, process.output()


def post(api: str, route: str, body: Any, **headers: str) -> requests.Response:
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    return requests.post(f"{api}{route}", data=data, headers={**JSON, **headers}, timeout=30)


def sent_with(outbox: SesOutbox, token: str) -> list[str]:
    """The SES message ids of what the outbox holds with `token` in its subject."""
    return [email.message_id for email in outbox.messages() if token in email.subject]


def test_an_email_posted_is_sent_once_and_its_status_read_back(
    api: str, ses_outbox: SesOutbox
) -> None:
    """GIVEN the sample with an Idempotency-Key WHEN it is posted twice and its messageId read
    THEN 200 with the SES message id of the one email in the outbox, then 200 duplicate with
    the same id, then its status record: `sent`, the recipient masked."""
    token = uuid.uuid4().hex[:8]
    body = message(f"http {token}")

    first = post(api, "/v1/emails", body, **{"Idempotency-Key": f"http-{token}"})
    again = post(api, "/v1/emails", body, **{"Idempotency-Key": f"http-{token}"})
    status = requests.get(f"{api}/v1/emails/{first.json()['messageId']}", timeout=30)

    (email,) = ses_outbox.wait_for(1, matching=lambda e: token in e.subject)
    assert (first.status_code, first.json()) == (200, {"messageId": email.message_id})
    assert (again.status_code, again.json()) == (
        200,
        {"messageId": email.message_id, "duplicate": True},
    )
    assert status.status_code == 200
    record = status.json()
    assert (record["ses_message_id"], record["idempotency_key"]) == (
        email.message_id,
        f"http-{token}",
    )
    assert record["status"] in {"sent", "delivered"}
    assert [r["masked"] for r in record["recipients"]] == ["u***@example.com"]
    assert "user@example.com" not in status.text
    assert sent_with(ses_outbox, token) == [email.message_id]


def test_an_invalid_message_is_a_400_and_nothing_is_sent(api: str, ses_outbox: SesOutbox) -> None:
    token = uuid.uuid4().hex[:8]

    reply = post(api, "/v1/emails", message(f"http {token}", recipients=["nope"], sender="x"))

    assert reply.status_code == 400
    assert reply.headers["Content-Type"] == "application/problem+json"
    assert reply.json()["type"] == PROBLEM + "invalid-message"
    assert [e["field"] for e in reply.json()["errors"]] == ["sender", "recipients[0]"]
    assert sent_with(ses_outbox, token) == []


def test_a_key_reused_for_another_message_is_a_409(api: str, ses_outbox: SesOutbox) -> None:
    token = uuid.uuid4().hex[:8]
    key = {"Idempotency-Key": f"reused-{token}"}

    first = post(api, "/v1/emails", message(f"first {token}"), **key)
    second = post(api, "/v1/emails", message(f"second {token}"), **key)

    assert (first.status_code, second.status_code) == (200, 409)
    assert second.json()["type"] == PROBLEM + "idempotency-conflict"
    assert sent_with(ses_outbox, token) == [first.json()["messageId"]]


def test_an_11_mb_body_is_a_413_and_a_base64_body_is_measured_decoded(
    api: str, ses_outbox: SesOutbox
) -> None:
    """GIVEN an 11 MB JSON body WHEN posted THEN 413 too-large. GIVEN a 9 MB body with a byte
    that is not UTF-8 (the gateway passes it base64-encoded, 12 MB of text) WHEN posted THEN it
    is measured decoded, under the limit, and refused for what it is: 400, not UTF-8."""
    token = uuid.uuid4().hex[:8]
    big = json.dumps(message(f"big {token}", text_content="x" * 11_000_000)).encode()
    binary = json.dumps(message(f"bin {token}", text_content="x" * 9_000_000)).encode()
    binary = binary.replace(b"xxxx", b"x\xffxx", 1)

    too_large = post(api, "/v1/emails", big)
    not_utf8 = post(api, "/v1/emails", binary)

    assert too_large.status_code == 413
    assert too_large.json()["type"] == PROBLEM + "too-large"
    assert not_utf8.status_code == 400
    assert not_utf8.json()["errors"] == [{"field": "(body)", "message": "is not UTF-8 text"}]
    assert sent_with(ses_outbox, token) == []


def test_a_queued_email_arrives_through_the_queue_and_its_tracking_id_finds_it(
    api: str, ses_outbox: SesOutbox
) -> None:
    """GIVEN the sample posted to the enqueue route WHEN the runner of the same `serve`
    process takes it from the queue THEN 202 with a tracking id and a Location, the email in
    the outbox, and the tracking id's status answering 200 with its SES message id (404 until
    it was sent)."""
    token = uuid.uuid4().hex[:8]

    queued = post(api, "/v1/emails/enqueue", message(f"queued {token}"))

    assert queued.status_code == 202
    tracking = queued.json()["trackingId"]
    assert queued.headers["Location"] == f"/v1/emails/{tracking}"
    (email,) = ses_outbox.wait_for(1, matching=lambda e: token in e.subject, timeout_s=30)
    found: list[requests.Response] = []

    def tracked() -> bool:
        found.append(requests.get(f"{api}/v1/emails/{tracking}", timeout=30))
        return found[-1].status_code == 200

    wait_until(tracked, timeout_s=30, what="the tracking id's status record")
    assert {r.status_code for r in found} <= {200, 404}
    assert found[-1].json()["ses_message_id"] == email.message_id


def test_bad_http_input_gets_a_clear_4xx_and_nothing_is_sent(
    api: str, ses_outbox: SesOutbox
) -> None:
    """Not JSON, not declared as JSON, a header folded over two lines (CR LF in its value), a
    malformed Idempotency-Key, an unknown route, a wrong method: each a 4xx problem, and no
    email."""
    token = uuid.uuid4().hex[:8]
    body = json.dumps(message(f"bad {token}")).encode()

    replies = {
        "not json": _reply(post(api, "/v1/emails", b"{" + body)),
        "text/plain": _reply(post(api, "/v1/emails", body, **{"Content-Type": "text/plain"})),
        "folded header": _raw_post(api, "/v1/emails", body, b"X-Trace: a\r\n Bcc: v@e.com\r\n"),
        "bad key": _reply(post(api, "/v1/emails", body, **{"Idempotency-Key": '"open'})),
        "unknown route": _reply(post(api, "/v1/mails", body)),
        "wrong method": _reply(requests.delete(f"{api}/v1/emails", timeout=30)),
    }

    statuses = {
        name: (r.status, r.json["type"].removeprefix(PROBLEM)) for name, r in replies.items()
    }
    assert statuses == {
        "not json": (400, "invalid-message"),
        "text/plain": (415, "unsupported-media-type"),
        "folded header": (400, "invalid-request"),
        "bad key": (400, "invalid-message"),
        "unknown route": (404, "not-found"),
        "wrong method": (405, "method-not-allowed"),
    }
    assert replies["wrong method"].headers["allow"] == "POST"
    assert sent_with(ses_outbox, token) == []


def _reply(response: requests.Response) -> Reply:
    headers = {name.lower(): value for name, value in response.headers.items()}
    return Reply(status=response.status_code, headers=headers, body=response.content)


def _raw_post(api: str, path: str, body: bytes, extra_headers: bytes) -> Reply:
    """A POST written byte by byte (requests refuses CR LF in a header value, as it should)."""
    host, port = api.removeprefix("http://").split(":")
    head = f"POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
    head += f"Content-Length: {len(body)}\r\nConnection: close\r\n"
    with socket.create_connection((host, int(port)), timeout=30) as sock:
        sock.sendall(head.encode() + extra_headers + b"\r\n" + body)
        response = http.client.HTTPResponse(sock)
        response.begin()
        return Reply(
            status=response.status,
            headers={k.lower(): v for k, v in response.getheaders()},
            body=response.read(),
        )


def test_an_unknown_id_is_a_404(api: str) -> None:
    """An id nobody sent, SES message id or tracking id, is a 404 problem, never an error."""
    for unknown in (f"k.{uuid.uuid4().hex}", uuid.uuid4().hex, "%F0%9F%93%A7"):
        reply = requests.get(f"{api}/v1/emails/{unknown}", timeout=30)

        assert (reply.status_code, reply.json()["type"]) == (404, PROBLEM + "not-found")
