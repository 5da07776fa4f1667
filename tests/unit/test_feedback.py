"""SES feedback and the suppression list; deliverability fields; sending paused."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from structlog.testing import capture_logs

from notifier.adapters.inbound.ses_feedback import parse_ses_notification
from notifier.domain.errors import SendingPaused
from notifier.domain.feedback import FeedbackKind
from notifier.domain.state import SuppressionReason
from notifier.entrypoints.app import App, RecordsFailed
from tests.fakes import FakeContext, FakeMailer, FakeMetrics, FakeSuppressionList
from tests.unit.conftest import seed_message
from tests.unit.test_handler import load_event, sqs_event

SES = Path(__file__).parent.parent / "events" / "ses"
FEEDBACK_TOPIC = "arn:aws:sns:us-east-1:123456789012:notifier-feedback"


def notification(name: str) -> dict[str, Any]:
    return json.loads((SES / f"{name}.json").read_text(encoding="utf-8"))


def transient_bounce(number: int) -> dict[str, Any]:
    """The transient bounce example as the `number`th distinct bounce (its own feedbackId)."""
    bounce = notification("bounce_transient")
    bounce["bounce"]["feedbackId"] = f"feedback-{number}"
    return bounce


def sns_with(message: dict[str, Any]) -> dict[str, Any]:
    """The SNS fixture carrying an SES notification as its Message."""
    event = load_event("sns.json")
    event["Records"][0]["Sns"]["Message"] = json.dumps(message)
    event["Records"][0]["Sns"]["TopicArn"] = FEEDBACK_TOPIC
    return event


@pytest.fixture
def app(make_app: Callable[..., App], suppression: FakeSuppressionList) -> App:
    return make_app(suppression=suppression, feedback_topic_arns=(FEEDBACK_TOPIC,))


@pytest.mark.parametrize(
    ("name", "kind", "recipients", "feedback_type"),
    [
        (
            "bounce_permanent",
            FeedbackKind.BOUNCE,
            ("jane@example.com", "richard@example.com"),
            "Permanent",
        ),
        ("bounce_transient", FeedbackKind.BOUNCE, ("full@example.com",), "Transient"),
        ("complaint", FeedbackKind.COMPLAINT, ("richard@example.com",), "abuse"),
        ("delivery", FeedbackKind.DELIVERY, ("jane@example.com",), ""),
        ("event_bounce", FeedbackKind.BOUNCE, ("recipient@example.com",), "Permanent"),
        ("event_complaint", FeedbackKind.COMPLAINT, ("recipient@example.com",), "abuse"),
        ("event_send", FeedbackKind.SEND, (), ""),
        ("event_delivery", FeedbackKind.DELIVERY, ("recipient@example.com",), ""),
        (
            "event_delivery_delay",
            FeedbackKind.DELIVERY_DELAY,
            ("recipient@example.com",),
            "TransientCommunicationFailure",
        ),
        ("event_reject", FeedbackKind.REJECT, (), ""),
        ("event_open", FeedbackKind.OPEN, (), ""),
        ("event_click", FeedbackKind.CLICK, (), ""),
        ("event_rendering_failure", FeedbackKind.RENDERING_FAILURE, (), ""),
        ("event_subscription", FeedbackKind.SUBSCRIPTION, (), ""),
    ],
)
def test_ses_notification_shapes_are_parsed(
    name: str, kind: FeedbackKind, recipients: tuple[str, ...], feedback_type: str
) -> None:
    """Identity notifications (notificationType) and event publishing (eventType), every event
    type, from the SES documentation's examples, several recipients included."""
    feedback = parse_ses_notification(notification(name))
    assert feedback is not None
    assert (feedback.kind, feedback.recipients, feedback.feedback_type) == (
        kind,
        recipients,
        feedback_type,
    )
    assert feedback.ses_message_id


def test_an_email_request_is_not_an_ses_notification() -> None:
    """The parser leaves notifier messages alone."""
    assert parse_ses_notification(seed_message()) is None


def test_a_permanent_bounce_suppresses_every_bounced_recipient(
    app: App, suppression: FakeSuppressionList, metrics: FakeMetrics
) -> None:
    """Both recipients go on the list with reason, type, sub-type and feedback id."""
    assert app.handle(sns_with(notification("bounce_permanent")), FakeContext()) == {"processed": 1}
    entries = {e.address: e for e in suppression.entries()}
    assert set(entries) == {"jane@example.com", "richard@example.com"}
    jane = entries["jane@example.com"]
    assert (jane.reason, jane.feedback_type, jane.feedback_sub_type) == (
        SuppressionReason.BOUNCE,
        "Permanent",
        "General",
    )
    assert jane.feedback_id.startswith("00000138111222aa")
    assert metrics.total("Bounces", reason="Permanent.General") == 2


def test_a_complaint_suppresses_the_complainer(
    app: App, suppression: FakeSuppressionList, metrics: FakeMetrics
) -> None:
    """Configuration-set event publishing shape, too."""
    app.handle(sns_with(notification("event_complaint")), FakeContext())
    (entry,) = suppression.entries()
    assert (entry.address, entry.reason) == ("recipient@example.com", SuppressionReason.COMPLAINT)
    assert metrics.total("Complaints") == 1


def test_transient_bounces_suppress_at_the_limit(
    make_app: Callable[..., App], suppression: FakeSuppressionList
) -> None:
    """Two transient bounces are counted; the third in 7 days suppresses (limit 3)."""
    app = make_app(
        suppression=suppression, transient_bounce_limit=3, feedback_topic_arns=(FEEDBACK_TOPIC,)
    )
    for number in range(2):
        app.handle(sns_with(transient_bounce(number)), FakeContext())
    assert suppression.entries() == []
    app.handle(sns_with(transient_bounce(2)), FakeContext())
    (entry,) = suppression.entries()
    assert entry.reason is SuppressionReason.TRANSIENT_BOUNCES


def test_one_transient_bounce_delivered_three_times_counts_once(
    make_app: Callable[..., App], suppression: FakeSuppressionList
) -> None:
    """SNS and SQS deliver at least once, and a failed batch comes back whole: the same
    notification (same feedbackId) three times is one bounce, and suppresses nobody."""
    app = make_app(
        suppression=suppression, transient_bounce_limit=2, feedback_topic_arns=(FEEDBACK_TOPIC,)
    )
    for _ in range(3):
        app.handle(sns_with(transient_bounce(0)), FakeContext())

    assert suppression.entries() == []
    app.handle(sns_with(transient_bounce(1)), FakeContext())
    assert [e.reason for e in suppression.entries()] == [SuppressionReason.TRANSIENT_BOUNCES]


def test_deliveries_and_other_events_only_count(
    app: App, suppression: FakeSuppressionList, metrics: FakeMetrics
) -> None:
    """Delivery and Send events change nothing and do not fail the invocation."""
    app.handle(sns_with(notification("delivery")), FakeContext())
    app.handle(sns_with(notification("event_send")), FakeContext())
    assert suppression.entries() == []
    assert metrics.total("Deliveries") == 1


def test_feedback_without_a_state_table_is_logged_and_counted(
    make_app: Callable[..., App], metrics: FakeMetrics
) -> None:
    """NOTIFIER_STATE_TABLE unset: no suppression (the null list keeps nothing, and the log
    line does not claim otherwise), but the invocation succeeds and counts."""
    app = make_app(feedback_topic_arns=(FEEDBACK_TOPIC,))
    with capture_logs() as logs:
        assert app.handle(sns_with(notification("complaint")), FakeContext()) == {"processed": 1}
    assert metrics.total("Complaints") == 1
    assert metrics.total("AddressesSuppressed") == 0
    (line,) = [line for line in logs if line["event"] == "feedback.processed"]
    assert line["suppressed"] == []
    assert line["recipients"] != []


def test_feedback_through_sqs_is_understood(app: App, suppression: FakeSuppressionList) -> None:
    """An SES notification relayed SNS -> SQS (envelope in the body) is feedback too."""
    envelope = {
        "Type": "Notification",
        "TopicArn": FEEDBACK_TOPIC,
        "Message": json.dumps(notification("bounce_permanent")),
    }
    assert app.handle(sqs_event(json.dumps(envelope)), FakeContext()) == {"batchItemFailures": []}
    assert len(suppression.entries()) == 2


def test_forged_feedback_from_a_producer_suppresses_nobody(
    app: App, suppression: FakeSuppressionList, mailer: FakeMailer
) -> None:
    """An SES-shaped complaint on the email topic, in a raw SQS body or a direct call is refused
    as invalid: only the feedback topic is trusted."""
    forged = notification("complaint")
    on_email_topic = sns_with(forged)
    on_email_topic["Records"][0]["Sns"]["TopicArn"] = "arn:aws:sns:us-east-1:123456789012:email"
    with pytest.raises(RecordsFailed):
        app.handle(on_email_topic, FakeContext())
    assert app.handle(sqs_event(json.dumps(forged)), FakeContext()) == {
        "batchItemFailures": [{"itemIdentifier": "m0"}]
    }
    assert app.handle(forged, FakeContext())["statusCode"] == 400
    assert suppression.entries() == []


def test_suppressed_recipients_are_left_out(
    app: App, suppression: FakeSuppressionList, mailer: FakeMailer, metrics: FakeMetrics
) -> None:
    """GIVEN one of two recipients suppressed THEN the other still gets the email."""
    app.handle(sns_with(notification("complaint")), FakeContext())  # richard@example.com
    response = app.handle(
        seed_message(recipients=["Richard@Example.com"], cc=["jane@example.com"]), FakeContext()
    )
    assert response["statusCode"] == 200
    (sent,) = mailer.sent
    assert sent.destinations == ("jane@example.com",)
    assert "To" not in sent.message
    assert metrics.total("SuppressedSkips") == 1


def test_a_message_to_suppressed_recipients_only_is_a_permanent_failure(
    app: App, suppression: FakeSuppressionList, mailer: FakeMailer, metrics: FakeMetrics
) -> None:
    """Nobody left: 422 with reason suppressed, nothing sent."""
    app.handle(sns_with(notification("complaint")), FakeContext())
    response = app.handle(seed_message(recipients=["richard@example.com"]), FakeContext())
    assert response["statusCode"] == 422
    assert "suppressed" in response["errors"][0]["message"]
    assert mailer.sent == []
    assert metrics.total("EmailsFailed", reason="suppressed") == 1


def test_list_unsubscribe_headers_for_one_click(app: App, mailer: FakeMailer) -> None:
    """An https URL adds List-Unsubscribe and RFC 8058's List-Unsubscribe-Post."""
    uris = ["https://acubeapi.com/u/123", "mailto:unsubscribe@acubeapi.com"]
    app.handle(seed_message(list_unsubscribe=uris), FakeContext())
    message = mailer.sent[0].message
    assert message["List-Unsubscribe"] == (
        "<https://acubeapi.com/u/123>, <mailto:unsubscribe@acubeapi.com>"
    )
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"


def test_mailto_only_unsubscribe_has_no_one_click_header(app: App, mailer: FakeMailer) -> None:
    """One-click needs an https URL."""
    app.handle(seed_message(list_unsubscribe=["mailto:u@acubeapi.com"]), FakeContext())
    assert "List-Unsubscribe-Post" not in mailer.sent[0].message


def test_configuration_set_and_tags_reach_ses(app: App, mailer: FakeMailer) -> None:
    """The message's configuration set and tags are passed to SendRawEmail."""
    app.handle(
        seed_message(configuration_set="billing-events", tags={"tenant": "billing"}),
        FakeContext(),
    )
    (sent,) = mailer.sent
    assert sent.configuration_set == "billing-events"
    assert sent.tags == (("tenant", "billing"),)


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"tags": {"ten ant": "x"}}, "tags.ten ant"),
        ({"tags": {"tenant": "bil/ling"}}, "tags.tenant"),
        ({"configuration_set": "bad name"}, "configuration_set"),
        ({"list_unsubscribe": ["http://insecure.example/u"]}, "list_unsubscribe[0]"),
        ({"list_unsubscribe": ["https://a.example/u\r\nBcc: x@y.com"]}, "list_unsubscribe[0]"),
        ({"idempotency_key": ""}, "idempotency_key"),
    ],
)
def test_deliverability_fields_are_validated(
    app: App, mailer: FakeMailer, changes: dict[str, Any], field: str
) -> None:
    """SES's character rules for tags and configuration sets; https or mailto only."""
    response = app.handle(seed_message(**changes), FakeContext())
    assert response["statusCode"] == 400
    assert field in {e["field"] for e in response["errors"]}
    assert mailer.sent == []


def test_sending_paused_stops_the_rest_of_the_batch(
    make_app: Callable[..., App], mailer: FakeMailer, metrics: FakeMetrics
) -> None:
    """After SES says sending is paused, the other records are reported failed, not tried."""
    app = make_app(send_concurrency=1)
    mailer.errors.append(SendingPaused("paused", code="AccountSendingPausedException"))
    bodies = [json.dumps(seed_message(recipients=[f"u{i}@example.com"])) for i in range(4)]
    response = app.handle(sqs_event(*bodies), FakeContext())
    assert [f["itemIdentifier"] for f in response["batchItemFailures"]] == ["m0", "m1", "m2", "m3"]
    assert mailer.sent == []
    assert metrics.total("SendingPaused") == 1
    assert metrics.total("EmailsFailed", reason="paused") == 4
