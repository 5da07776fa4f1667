"""The application through its composition root, with fakes: responses, isolation, logs."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from structlog.testing import capture_logs

from notifier.domain.errors import DependencyUnavailable, MessageRejected, SendThrottled
from notifier.entrypoints.app import App, RecordsFailed
from tests.fakes import FakeAttachmentStore, FakeContext, FakeMailer, FakeMetrics
from tests.unit.conftest import seed_message

EVENTS = Path(__file__).parent.parent / "events"


def load_event(name: str) -> Any:
    return json.loads((EVENTS / name).read_text(encoding="utf-8"))


def sqs_event(*bodies: str) -> dict[str, Any]:
    """An SQS batch shaped like tests/events/sqs.json, one record per body, ids m0, m1..."""
    template = load_event("sqs.json")["Records"][0]
    return {
        "Records": [
            {**template, "messageId": f"m{i}", "body": body} for i, body in enumerate(bodies)
        ]
    }


def test_the_seed_direct_event_is_sent(app: App, mailer: FakeMailer) -> None:
    """GIVEN the seed's direct event WHEN invoked THEN 200 with the SES message id."""
    response = app.handle(load_event("direct.json"), FakeContext())
    assert response == {"statusCode": 200, "messageId": "fake-ses-1"}
    (sent,) = mailer.sent
    assert sent.source == "noreply@acubeapi.com"
    assert sent.destinations == ("user@example.com",)
    assert sent.message["Subject"] == "Votre facture est prête"


def test_the_seed_message_with_its_bucket_name_is_sent(app: App, mailer: FakeMailer) -> None:
    """The seed message exactly as producers send it (with bucket_name) returns 200."""
    response = app.handle(seed_message(), FakeContext())
    assert response["statusCode"] == 200
    assert len(mailer.sent) == 1


def test_an_invalid_direct_message_is_a_400_naming_each_field(app: App, mailer: FakeMailer) -> None:
    """Unknown and bad fields come back as field-level errors; nothing is sent."""
    message = seed_message(recipients=None, recipient=["user@example.com"], sender="nope")
    response = app.handle(message, FakeContext())
    assert response["statusCode"] == 400
    fields = {e["field"]: e["message"] for e in response["errors"]}
    assert fields["recipient"] == "is not a known field (did you mean 'recipients'?)"
    assert fields["recipients"] == "is required"
    assert mailer.sent == []


@pytest.mark.parametrize(
    ("error", "status"),
    [
        (MessageRejected("Email address is not verified", code="MessageRejected"), 422),
        (SendThrottled("Maximum sending rate exceeded"), 503),
        (DependencyUnavailable("SES unreachable"), 503),
    ],
)
def test_direct_failures_map_to_status_codes(
    make_app: Callable[..., App], mailer: FakeMailer, error: Exception, status: int
) -> None:
    """Permanent SES rejection is 422, transient failure after retries 503."""
    mailer.errors.append(error)  # type: ignore[arg-type]
    response = make_app().handle(seed_message(), FakeContext())
    assert response["statusCode"] == status
    assert response["errors"][0]["field"] is None
    assert response["errors"][0]["message"]


@pytest.mark.parametrize("event", [[], "text", 42, None, {"Records": []}, {"Records": [{"x": 1}]}])
def test_an_unrecognised_event_is_a_400(app: App, event: Any) -> None:
    """Whatever the shape, an unknown event gets a 400, never a traceback."""
    response = app.handle(event, FakeContext())
    assert response["statusCode"] == 400


def test_an_sqs_batch_reports_exactly_the_records_not_sent(app: App, mailer: FakeMailer) -> None:
    """GIVEN a batch of valid, invalid JSON and invalid messages
    THEN only the bad records are in batchItemFailures and the good ones are sent."""
    good = json.dumps(seed_message())
    other = json.dumps(seed_message(recipients=["second@example.com"]))
    event = sqs_event(good, "{not json", json.dumps(seed_message(subject="")), other)
    response = app.handle(event, FakeContext())
    assert response == {"batchItemFailures": [{"itemIdentifier": "m1"}, {"itemIdentifier": "m2"}]}
    assert sorted(s.destinations for s in mailer.sent) == [
        ("second@example.com",),
        ("user@example.com",),
    ]


def test_transient_and_permanent_sqs_failures_are_both_reported(
    app: App, mailer: FakeMailer
) -> None:
    """Both kinds go back to SQS: it retries, then redrives to the DLQ. (Throttling is not a
    failure but a wait: tests/unit/test_deferral.py.)"""
    mailer.errors.extend([DependencyUnavailable("SES failed (ServiceUnavailable)")])
    response = app.handle(
        sqs_event(json.dumps(seed_message()), json.dumps(seed_message(sender="bad"))),
        FakeContext(),
    )
    assert response == {"batchItemFailures": [{"itemIdentifier": "m0"}, {"itemIdentifier": "m1"}]}


def test_the_sqs_fixture_batch_is_sent(app: App, mailer: FakeMailer) -> None:
    """The real-shaped fixture: two records, both sent, no failures."""
    assert app.handle(load_event("sqs.json"), FakeContext()) == {"batchItemFailures": []}
    assert len(mailer.sent) == 2


def test_an_sns_envelope_in_an_sqs_body_is_unwrapped(app: App, mailer: FakeMailer) -> None:
    """SNS -> SQS without raw delivery: the body's `Message` is the notifier message."""
    assert app.handle(load_event("sns_via_sqs.json"), FakeContext()) == {"batchItemFailures": []}
    assert mailer.sent[0].destinations == ("user@example.com",)


def test_an_sns_notification_is_sent(app: App, mailer: FakeMailer) -> None:
    """Each SNS record's Message is a message."""
    app.handle(load_event("sns.json"), FakeContext())
    assert len(mailer.sent) == 1


def test_a_failed_sns_record_raises_so_lambda_retries_it(app: App) -> None:
    """The invocation fails, keeping the record for async retries and the failure destination."""
    event = load_event("sns.json")
    event["Records"][0]["Sns"]["Message"] = json.dumps(seed_message(sender="bad"))
    with pytest.raises(RecordsFailed, match="1 SNS record"):
        app.handle(event, FakeContext())


def test_an_attachment_is_read_and_attached(app: App, mailer: FakeMailer) -> None:
    """The S3 object is attached with its file name and media type."""
    message = seed_message(
        attachments=[{"key": "invoices/12345.pdf", "filename": "facture-12345.pdf"}]
    )
    assert app.handle(message, FakeContext())["statusCode"] == 200
    (attachment,) = mailer.sent[0].message.iter_attachments()
    assert attachment.get_filename() == "facture-12345.pdf"
    assert attachment.get_content_type() == "application/pdf"
    assert attachment.get_payload(decode=True) == b"%PDF-1.4 facture"


def test_a_missing_attachment_is_a_field_error(app: App, mailer: FakeMailer) -> None:
    """A key that does not exist is a permanent error naming the key."""
    response = app.handle(seed_message(attachments=[{"key": "nope.pdf"}]), FakeContext())
    assert response["statusCode"] == 400
    assert response["errors"][0]["field"] == "attachments[0].key"
    assert "'nope.pdf' does not exist" in response["errors"][0]["message"]
    assert mailer.sent == []


def test_oversized_attachments_are_refused_before_download(
    make_app: Callable[..., App], store: FakeAttachmentStore, mailer: FakeMailer
) -> None:
    """The size check uses metadata: an attachment that cannot fit is never read."""
    store.objects[("acube-invoices", "big.bin")] = b"x" * 4000
    app = make_app(max_message_bytes=4096)
    response = app.handle(seed_message(attachments=[{"key": "big.bin"}]), FakeContext())
    assert response["statusCode"] == 400
    assert response["errors"][0]["field"] == "attachments"
    assert store.reads == []
    assert mailer.sent == []


def test_a_composed_message_over_the_limit_is_refused(
    make_app: Callable[..., App], mailer: FakeMailer
) -> None:
    """Checked after encoding, before SES is called."""
    app = make_app(max_message_bytes=2048)
    response = app.handle(seed_message(text_content="x" * 3000), FakeContext())
    assert response["statusCode"] == 400
    assert "over the 2048-byte limit" in response["errors"][0]["message"]
    assert mailer.sent == []


def test_one_canonical_log_line_per_message_with_masked_addresses(app: App) -> None:
    """Each message logs `email.processed` with ids, outcome and duration; no full address."""
    event = sqs_event(json.dumps(seed_message()), json.dumps(seed_message(sender="bad")))
    with capture_logs() as logs:
        app.handle(event, FakeContext(aws_request_id="req-42"))
    lines = [line for line in logs if line["event"] == "email.processed"]
    assert [(line["message_id"], line["outcome"]) for line in lines] == [
        ("m0", "sent"),
        ("m1", "failed"),
    ]
    assert lines[0]["recipients"] == ["u***@example.com"]
    assert lines[0]["sender"] == "n***@acubeapi.com"
    assert lines[1]["reason"] == "invalid"
    assert lines[1]["invalid_fields"] == ["sender"]
    assert all(line["aws_request_id"] == "req-42" for line in lines)
    assert all("duration_ms" in line for line in lines)
    assert "user@example.com" not in repr(logs)
    assert "noreply@acubeapi.com" not in repr(logs)


def test_metrics_count_sent_and_failed_by_reason(app: App, metrics: FakeMetrics) -> None:
    """EmailsSent, Recipients, SendLatency, EmailsFailed by reason and the cold start."""
    event = sqs_event(json.dumps(seed_message(cc=["c@example.com"])), "[]")
    app.handle(event, FakeContext())
    assert metrics.total("EmailsSent") == 1
    assert metrics.total("Recipients") == 2
    assert metrics.total("EmailsFailed", reason="invalid") == 1
    assert metrics.total("ColdStart") == 1
    assert [n for n, *_ in metrics.flushed].count("SendLatency") == 1
    app.handle(event, FakeContext())
    assert metrics.total("ColdStart") == 1
