"""The HTTP API's unit tests' tools: API Gateway events shaped as the SAM CLI writes them, and
`Api`, the app behind API Gateway, holding every reply to docs/openapi.yaml."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import attrs

from notifier.entrypoints.app import App
from tests.fakes import FakeContext, FakeEmailQueue, FakeMailer, FakeMetrics, FakeStatusStore
from tests.support.openapi import Reply, nonconformities, operation_for

EVENTS = Path(__file__).parent.parent / "events"
PROBLEM = "tag:acubeapi.com,2026:notifier/problems/"
JSON = {"content-type": "application/json"}


def load_event(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((EVENTS / name).read_text(encoding="utf-8"))
    return loaded


def http_event(
    method: str,
    path: str,
    *,
    body: str | bytes | None = None,
    headers: dict[str, str] | None = None,
    base64_encoded: bool = False,
) -> dict[str, Any]:
    """An HTTP API event shaped as `sam local generate-event apigateway http-api-proxy` writes
    it (tests/events/http_send.json), with API Gateway's lower-case header names."""
    event = load_event("http_send.json")
    event["rawPath"] = event["requestContext"]["http"]["path"] = path
    event["requestContext"]["http"]["method"] = method
    event["headers"] = {"user-agent": "tests", **{k.lower(): v for k, v in (headers or {}).items()}}
    event["isBase64Encoded"] = base64_encoded
    if body is None:
        del event["body"]
    elif base64_encoded:
        raw = body if isinstance(body, bytes) else body.encode("utf-8")
        event["body"] = base64.b64encode(raw).decode("ascii")
    else:
        event["body"] = body if isinstance(body, str) else body.decode("utf-8")
    return event


@attrs.define
class Api:
    """The app behind API Gateway, and what its fakes saw."""

    app: App
    mailer: FakeMailer
    queue: FakeEmailQueue
    statuses: FakeStatusStore
    metrics: FakeMetrics

    def call(self, event: dict[str, Any]) -> Reply:
        """Invoke the handler with `event`; fail unless the answer conforms to the document."""
        response = self.app.handle(event, FakeContext())
        reply = Reply(
            status=response["statusCode"],
            headers={name.lower(): value for name, value in response["headers"].items()},
            body=response["body"].encode("utf-8"),
        )
        assert response["isBase64Encoded"] is False
        method, path = event["requestContext"]["http"]["method"], event["rawPath"]
        found = operation_for(method, path) if isinstance(method, str) and path else None
        documented_method, template = found or (method, None)
        assert nonconformities(documented_method, template, reply) == []
        return reply

    def post(self, path: str, message: Any, **headers: str) -> Reply:
        body = message if isinstance(message, str) else json.dumps(message)
        return self.call(http_event("POST", path, body=body, headers={**JSON, **headers}))

    def send(self, message: Any, **headers: str) -> Reply:
        return self.post("/v1/emails", message, **headers)

    def enqueue(self, message: Any, **headers: str) -> Reply:
        return self.post("/v1/emails/enqueue", message, **headers)

    def status(self, message_id: str) -> Reply:
        return self.call(http_event("GET", f"/v1/emails/{message_id}"))


class BrokenStatusStore(FakeStatusStore):
    """A status store whose reads fail with `failure`."""

    def __init__(self, failure: Exception) -> None:
        super().__init__()
        self.failure = failure

    def read(self, ses_message_id: str) -> None:
        raise self.failure
