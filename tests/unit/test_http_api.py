"""The HTTP API through the real app with fakes: API Gateway HTTP API events in, responses out.

Every response a test here gets is held to docs/openapi.yaml (`Api.call` checks its status,
content type, required headers and body against what the document says of that operation),
so no test can pass on an answer the contract does not describe. test_openapi.py checks the
document and the code against each other.
"""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest
from structlog.testing import capture_logs

from notifier.adapters.inbound.http import MAX_BODY_BYTES, scoped_key_of, tracking_id
from notifier.domain.errors import (
    DependencyUnavailable,
    DuplicateInProgress,
    MessageRejected,
    SendThrottled,
)
from notifier.entrypoints.app import App
from tests.fakes import FakeContext, FakeSuppressionList
from tests.unit.api_support import JSON, PROBLEM, Api, BrokenStatusStore, http_event, load_event
from tests.unit.conftest import seed_message

# ---------------------------------------------------------------- the SAM fixtures


def test_the_sam_send_event_sends_the_invoice_under_its_idempotency_key(api: Api) -> None:
    """GIVEN tests/events/http_send.json (what `sam local generate-event apigateway
    http-api-proxy` writes: mixed-case headers, a base64 body) WHEN invoked twice THEN the
    invoice is sent once: 200 with the SES message id, then 200 `duplicate` with the same id;
    its status record is found by the `Idempotency-Key` it came with."""
    event = load_event("http_send.json")

    first = api.call(event)
    again = api.call(event)

    assert first.status == again.status == 200
    assert first.json == {"messageId": "fake-ses-1"}
    assert again.json == {"messageId": "fake-ses-1", "duplicate": True}
    (sent,) = api.mailer.sent
    assert sent.message["Subject"] == "Votre facture est prête"
    record = api.statuses.find("noreply@acubeapi.com#key:invoice-12345")
    assert record is not None
    assert record.ses_message_id == "fake-ses-1"


def test_the_sam_enqueue_event_queues_the_message_and_answers_a_tracking_id(api: Api) -> None:
    """GIVEN tests/events/http_enqueue.json WHEN invoked THEN 202 with a tracking id (and a
    Location to its status), the message on the queue exactly as a producer would send it,
    nothing sent yet."""
    reply = api.call(load_event("http_enqueue.json"))

    assert reply.status == 202
    assert reply.json["queueMessageId"] == "fake-sqs-1"
    assert reply.headers["location"] == f"/v1/emails/{reply.json['trackingId']}"
    (body,) = api.queue.bodies
    assert json.loads(body) == load_event("direct.json")
    assert api.mailer.sent == []
    assert api.metrics.total("EmailsEnqueued") == 1


def test_the_sam_status_event_of_an_unknown_message_is_a_404(api: Api) -> None:
    """GIVEN tests/events/http_status.json, an SES message id nobody sent WHEN invoked THEN
    404 not-found."""
    reply = api.call(load_event("http_status.json"))

    assert reply.status == 404
    assert reply.json["type"] == PROBLEM + "not-found"


# ---------------------------------------------------------------- the three routes


def test_a_sent_email_s_status_is_read_by_its_message_id_without_any_full_address(
    api: Api,
) -> None:
    """GIVEN an email sent over HTTP WHEN its messageId is read THEN 200 with its status
    record: `sent`, the masked recipient and its hash, never the address."""
    sent = api.send(seed_message(idempotency_key="inv-1", tags={"tenant": "billing"}))

    reply = api.status(sent.json["messageId"])

    assert reply.status == 200
    assert reply.json["status"] == "sent"
    assert reply.json["idempotency_key"] == "inv-1"
    assert reply.json["tenant"] == "billing"
    assert [(r["masked"], r["status"]) for r in reply.json["recipients"]] == [
        ("u***@example.com", "sent")
    ]
    assert "user@example.com" not in reply.body.decode()


def test_a_queued_email_is_tracked_by_its_tracking_id_once_the_queue_has_sent_it(
    api: Api,
) -> None:
    """GIVEN a message enqueued over HTTP WHEN its tracking id is read before and after the
    queue's consumer (the same app, an SQS event of the queued body) sent it THEN 404 while
    queued, then 200 with the SES message id."""
    reply = api.enqueue(seed_message())
    tracking = reply.json["trackingId"]
    assert api.status(tracking).status == 404
    sqs = load_event("sqs.json")
    sqs["Records"] = [{**sqs["Records"][0], "body": api.queue.bodies[0]}]

    assert api.app.handle(sqs, FakeContext()) == {"batchItemFailures": []}

    found = api.status(tracking)
    assert found.status == 200
    assert found.json["ses_message_id"] == "fake-ses-1"
    assert found.json["idempotency_key"] is None  # no key of its own: the content hash


def test_the_idempotency_key_header_is_the_message_s_key(api: Api) -> None:
    """GIVEN a message without `idempotency_key` sent with an `Idempotency-Key` header WHEN it
    is queued THEN the queued body carries that key, and the tracking id names it."""
    reply = api.enqueue(seed_message(), **{"Idempotency-Key": "order-7"})

    assert json.loads(api.queue.bodies[0])["idempotency_key"] == "order-7"
    assert scoped_key_of(reply.json["trackingId"]) == "noreply@acubeapi.com#key:order-7"
    assert tracking_id("noreply@acubeapi.com#key:order-7") == reply.json["trackingId"]


def test_the_same_key_with_another_message_is_a_409_and_nothing_is_sent(api: Api) -> None:
    """GIVEN a message sent under key k WHEN another message comes with the same key (in the
    header) THEN 409 idempotency-conflict and only the first was sent."""
    api.send(seed_message(subject="first"), **{"Idempotency-Key": "k"})

    reply = api.send(seed_message(subject="second"), **{"Idempotency-Key": "k"})

    assert reply.status == 409
    assert reply.json["type"] == PROBLEM + "idempotency-conflict"
    assert [s.message["Subject"] for s in api.mailer.sent] == ["first"]


def test_without_a_key_an_exact_retry_is_a_duplicate(api: Api) -> None:
    """The Idempotency-Key is optional: GIVEN no key at all WHEN the same body is posted twice
    THEN one email, the second answer a duplicate (the key is the content's hash)."""
    first = api.send(seed_message())
    second = api.send(seed_message())

    assert second.json == {"messageId": first.json["messageId"], "duplicate": True}
    assert len(api.mailer.sent) == 1


def test_an_invalid_message_is_a_400_naming_each_field_and_nothing_is_sent(api: Api) -> None:
    """Every field error, each on its field, in the problem's `errors` member."""
    misspelt = api.send(seed_message(recipient=["x@example.com"]))
    invalid = api.send(seed_message(sender="nope", recipients=["not an address"], subject=" "))

    assert (misspelt.status, invalid.status) == (400, 400)
    assert misspelt.json["type"] == invalid.json["type"] == PROBLEM + "invalid-message"
    assert misspelt.json["errors"] == [
        {"field": "recipient", "message": "is not a known field (did you mean 'recipients'?)"}
    ]
    assert [e["field"] for e in invalid.json["errors"]] == ["sender", "recipients[0]", "subject"]
    assert api.mailer.sent == []


@pytest.mark.parametrize(
    ("error", "status", "kind"),
    [
        (MessageRejected("Email address is not verified", code="MessageRejected"), 422, "rejected"),
        (SendThrottled("Maximum sending rate exceeded"), 503, "unavailable"),
        (DependencyUnavailable("SES unreachable"), 503, "unavailable"),
    ],
)
def test_ses_failures_are_422_for_good_and_503_with_retry_after_for_now(
    api: Api, error: Exception, status: int, kind: str
) -> None:
    """A permanent refusal is 422 (do not retry); a transient one 503 with Retry-After."""
    api.mailer.errors.append(error)  # type: ignore[arg-type]

    reply = api.send(seed_message())

    assert (reply.status, reply.json["type"]) == (status, PROBLEM + kind)
    assert ("retry-after" in reply.headers) is (status == 503)


def test_a_message_being_sent_by_another_invocation_is_a_503(make_api: Callable[..., Api]) -> None:
    """GIVEN the same message in flight elsewhere (its key claimed) WHEN it is posted THEN 503,
    to be retried after Retry-After seconds."""
    api = make_api()
    api.mailer.errors.append(DuplicateInProgress("the same message is being sent"))

    reply = api.send(seed_message())

    assert reply.status == 503
    assert reply.headers["retry-after"] == "5"


def test_every_recipient_suppressed_is_a_422(make_api: Callable[..., Api]) -> None:
    api = make_api(suppression=FakeSuppressionList("user@example.com"))

    reply = api.send(seed_message())

    assert (reply.status, reply.json["type"]) == (422, PROBLEM + "suppressed")
    assert api.mailer.sent == []


def test_a_composed_message_over_the_size_limit_is_a_413(make_api: Callable[..., Api]) -> None:
    """GIVEN NOTIFIER_MAX_MESSAGE_BYTES=2048 WHEN a message composes to more THEN 413 too-large
    with the (message) error, nothing sent (a direct invocation still answers 400)."""
    api = make_api(max_message_bytes=2048)

    reply = api.send(seed_message(text_content="x" * 3000))

    assert (reply.status, reply.json["type"]) == (413, PROBLEM + "too-large")
    assert [e["field"] for e in reply.json["errors"]] == ["(message)"]
    assert api.mailer.sent == []


def test_a_message_too_large_for_the_queue_is_a_413(api: Api) -> None:
    """SQS holds 256 KiB: a bigger message cannot be queued (it can be sent now)."""
    reply = api.enqueue(seed_message(text_content="x" * 300_000))

    assert (reply.status, reply.json["type"]) == (413, PROBLEM + "too-large")
    assert api.queue.bodies == []


def test_an_invalid_message_is_not_queued(api: Api) -> None:
    reply = api.enqueue(seed_message(sender="nobody"))

    assert reply.status == 400
    assert api.queue.bodies == []


def test_without_a_queue_the_enqueue_route_is_a_501(make_app: Callable[..., App]) -> None:
    """GIVEN no NOTIFIER_QUEUE_URL (the null queue) WHEN a message is enqueued THEN 501."""
    app = make_app()

    response = app.handle(
        http_event("POST", "/v1/emails/enqueue", body=json.dumps(seed_message()), headers=JSON),
        FakeContext(),
    )

    assert response["statusCode"] == 501


# ---------------------------------------------------------------- bad HTTP input


@pytest.mark.parametrize(
    "body",
    ["{not json", "", "   ", '["a list"]', '"a string"', "null"],
)
def test_a_body_that_is_not_a_json_object_is_a_400_and_nothing_is_sent(api: Api, body: str) -> None:
    reply = api.send(body)

    assert reply.status == 400
    assert reply.json["errors"][0]["field"] == "(body)"
    assert api.mailer.sent == []


@pytest.mark.parametrize(
    "content_type",
    [None, "text/plain", "application/x-www-form-urlencoded", "application/json; charset=latin-1"],
)
def test_a_body_not_sent_as_json_is_a_415(api: Api, content_type: str | None) -> None:
    headers = {"content-type": content_type} if content_type else {}
    event = http_event("POST", "/v1/emails", body=json.dumps(seed_message()), headers=headers)

    reply = api.call(event)

    assert (reply.status, reply.json["type"]) == (415, PROBLEM + "unsupported-media-type")
    assert api.mailer.sent == []


def test_json_in_utf8_with_its_charset_named_is_accepted(api: Api) -> None:
    reply = api.send(seed_message(), **{"content-type": "Application/JSON; charset=UTF-8"})

    assert reply.status == 200


@pytest.mark.parametrize("base64_encoded", [False, True])
def test_an_11_mb_body_is_a_413_and_nothing_is_sent(api: Api, base64_encoded: bool) -> None:
    """Over 10 MiB, measured decoded when API Gateway passed it base64-encoded."""
    body = json.dumps(seed_message(text_content="x" * 11_000_000))
    event = http_event("POST", "/v1/emails", body=body, headers=JSON, base64_encoded=base64_encoded)
    assert len(body) > MAX_BODY_BYTES

    reply = api.call(event)

    assert (reply.status, reply.json["type"]) == (413, PROBLEM + "too-large")
    assert reply.json["errors"][0]["field"] == "(body)"
    assert api.mailer.sent == []


def test_a_base64_encoded_body_is_decoded(api: Api) -> None:
    """As API Gateway passes a body it deems binary: decoded, then read as any other."""
    event = http_event(
        "POST", "/v1/emails", body=json.dumps(seed_message()), headers=JSON, base64_encoded=True
    )

    assert api.call(event).status == 200


def test_a_body_flagged_base64_that_is_not_is_a_400(api: Api) -> None:
    event = http_event("POST", "/v1/emails", body="{}", headers=JSON)
    event["isBase64Encoded"] = True

    reply = api.call(event)

    assert (reply.status, reply.json["type"]) == (400, PROBLEM + "invalid-request")


def test_a_body_that_is_not_utf8_is_a_400(api: Api) -> None:
    event = http_event(
        "POST", "/v1/emails", body=b'{"subject": "\xe9"}', headers=JSON, base64_encoded=True
    )

    reply = api.call(event)

    assert reply.status == 400
    assert reply.json["errors"] == [{"field": "(body)", "message": "is not UTF-8 text"}]


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("x-trace", "a\r\nBcc: victim@example.com"),
        ("x-trace", "a\nb"),
        ("idempotency-key", "k\r\n"),
        ("x-trace", "nul\x00"),
        ("bad header", "value"),
    ],
)
def test_a_header_with_a_line_break_or_a_bad_name_is_a_400_and_nothing_is_sent(
    api: Api, name: str, value: str
) -> None:
    event = http_event(
        "POST", "/v1/emails", body=json.dumps(seed_message()), headers={**JSON, name: value}
    )

    reply = api.call(event)

    assert (reply.status, reply.json["type"]) == (400, PROBLEM + "invalid-request")
    assert reply.json["errors"][0]["field"].startswith("headers.")
    assert api.mailer.sent == []


@pytest.mark.parametrize(
    "key", ["", "   ", "x" * 257, "clé", '"unterminated', '"bad\\escape"', 'a"b', "\t"]
)
def test_a_malformed_idempotency_key_is_a_400_and_nothing_is_sent(api: Api, key: str) -> None:
    reply = api.send(seed_message(), **{"Idempotency-Key": key})

    assert reply.status == 400
    assert reply.json["errors"][0]["field"] == "Idempotency-Key"
    assert api.mailer.sent == []


def test_a_quoted_idempotency_key_is_the_same_key_as_the_token(api: Api) -> None:
    """`Idempotency-Key: "k-1"` (an RFC 8941 string, the IETF draft's form) and `k-1` name one
    key."""
    api.send(seed_message(), **{"Idempotency-Key": '"k-1"'})

    again = api.send(seed_message(), **{"Idempotency-Key": "k-1"})

    assert again.json.get("duplicate") is True


def test_a_header_key_and_a_body_key_must_agree(api: Api) -> None:
    same = api.send(seed_message(idempotency_key="a"), **{"Idempotency-Key": "a"})
    different = api.send(seed_message(idempotency_key="b"), **{"Idempotency-Key": "c"})

    assert same.status == 200
    assert different.status == 400
    assert different.json["errors"] == [
        {
            "field": "Idempotency-Key",
            "message": "must equal the body's idempotency_key when both are given",
        }
    ]
    assert len(api.mailer.sent) == 1


# ---------------------------------------------------------------- routing


@pytest.mark.parametrize(
    "path", ["/", "/v1", "/v1/emails/", "/v2/emails", "/v1/emails/a/b", "/v1/emails:send"]
)
def test_an_unknown_route_is_a_404(api: Api, path: str) -> None:
    reply = api.call(http_event("GET", path))

    assert (reply.status, reply.json["type"]) == (404, PROBLEM + "not-found")


@pytest.mark.parametrize(
    ("method", "path", "allowed"),
    [
        ("GET", "/v1/emails", "POST"),
        ("PUT", "/v1/emails", "POST"),
        ("DELETE", "/v1/emails/abc", "GET"),
        ("POST", "/v1/emails/abc", "GET"),
        ("PUT", "/v1/emails/enqueue", "POST"),
        ("GET", "/v1/emails/enqueue", "POST"),
        ("HEAD", "/v1/emails/abc", "GET"),
    ],
)
def test_a_wrong_method_is_a_405_naming_the_allowed_ones(
    api: Api, method: str, path: str, allowed: str
) -> None:
    reply = api.call(http_event(method, path))

    assert (reply.status, reply.headers["allow"]) == (405, allowed)


def test_a_percent_encoded_slash_is_read_once(api: Api) -> None:
    """A `%2F` inside an id stays in the id: no route takes `/v1/emails/a/b`, but
    `/v1/emails/a%2Fb` is a status lookup, of an unknown id; `/v1/emails%2Fenqueue` is no
    route at all (one segment)."""
    unknown = api.call(http_event("GET", "/v1/emails/a%2Fb"))
    not_a_route = api.call(
        http_event("POST", "/v1/emails%2Fenqueue", body=json.dumps(seed_message()), headers=JSON)
    )

    assert not_a_route.status == 404
    assert unknown.json["type"] == PROBLEM + "not-found"
    assert unknown.json["detail"].startswith("no status for this id")


def test_a_named_stage_s_prefix_is_not_part_of_the_route(api: Api) -> None:
    """With a stage other than `$default`, API Gateway puts its name first in rawPath."""
    event = http_event("GET", "/prod/v1/emails/abc")
    event["requestContext"]["stage"] = "prod"

    response = api.app.handle(event, FakeContext())

    assert json.loads(response["body"])["detail"].startswith("no status for this id")


def test_a_malformed_gateway_event_is_a_400(api: Api) -> None:
    """A direct invocation shaped like an HTTP API event, with a method that is not text."""
    event = http_event("GET", "/v1/emails/abc")
    event["requestContext"]["http"]["method"] = 7

    reply = api.call(event)

    assert (reply.status, reply.json["type"]) == (400, PROBLEM + "invalid-request")


def test_an_over_long_id_is_never_looked_up(make_api: Callable[..., Api]) -> None:
    """An id longer than any SES message id or tracking id is a 404 without a store read
    (DynamoDB would refuse the key, and that must not be a 503)."""
    statuses = BrokenStatusStore(RuntimeError("must not be read"))
    api = make_api(statuses=statuses)

    assert api.status("x" * 300).status == 404


# ---------------------------------------------------------------- observability


def test_an_http_send_is_logged_and_counted_as_any_other(api: Api) -> None:
    """The canonical `email.processed` line (source `http`, masked addresses) and one
    `http.response` line with the route template, never the body."""
    with capture_logs() as logs:
        api.send(seed_message())

    processed = [line for line in logs if line["event"] == "email.processed"]
    responses = [line for line in logs if line["event"] == "http.response"]
    assert [(p["outcome"], p["source"], p["recipients"]) for p in processed] == [
        ("sent", "http", ["u***@example.com"])
    ]
    assert [(r["method"], r["route"], r["status"]) for r in responses] == [
        ("POST", "/v1/emails", 200)
    ]
    assert "user@example.com" not in json.dumps(logs, default=str)
    assert api.metrics.total("EmailsSent") == 1
