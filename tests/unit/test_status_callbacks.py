"""Callbacks, SES's setup notices, status metrics and a deployment without statuses.

Through the app wired with fakes (tests/unit/conftest.py), as in test_statuses.py; the SNS
adapter's own wire format at the end, with botocore's Stubber playing SNS.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber
from structlog.testing import capture_logs

from notifier.adapters.outbound.sns import (
    SnsStatusCallbacks,
    callback_attributes,
    callback_payload,
)
from notifier.domain.errors import DependencyUnavailable
from notifier.domain.status import EmailStatus, Status, StatusChange, recipient_id
from notifier.entrypoints.app import App, RecordsFailed
from tests.fakes import (
    FakeContext,
    FakeIdempotencyStore,
    FakeMetrics,
    FakeStatusCallbacks,
    FakeStatusStore,
    FakeSuppressionList,
)
from tests.unit.test_statuses import (
    EVERY_EVENT,
    FEEDBACK_TOPIC,
    RECIPIENT,
    SENDER,
    SES_ID,
    about_sent,
    documented,
    message,
    record_of,
    sns_with,
    sqs_with,
)

EMAIL_TOPIC = "arn:aws:sns:us-east-1:123456789012:notifier-email"
VALIDATION_NOTICE = "Successfully validated SNS topic for Amazon SES event publishing."
ANY_ADDRESS = re.compile(r"[^\s\"'<>(),;:]+@[^\s\"'<>(),;:]+")


@pytest.fixture
def app(
    make_app: Callable[..., App],
    statuses: FakeStatusStore,
    callbacks: FakeStatusCallbacks,
    suppression: FakeSuppressionList,
) -> App:
    return make_app(
        idempotency=FakeIdempotencyStore(),
        suppression=suppression,
        statuses=statuses,
        callbacks=callbacks,
        feedback_topic_arns=(FEEDBACK_TOPIC,),
    )


def published(callbacks: FakeStatusCallbacks) -> list[tuple[dict[str, Any], dict[str, str]]]:
    """Each callback as SNS carries it: its JSON body and its message attributes."""
    return [
        (callback_payload(record, change), callback_attributes(record, change))
        for record, change in callbacks.published
    ]


# --- what a callback says ----------------------------------------------------------------


def test_each_change_is_one_callback_with_the_documented_payload(
    app: App, callbacks: FakeStatusCallbacks
) -> None:
    """GIVEN a message with a tenant tag sent, then bounced WHEN the changes are published THEN
    there is one callback per change, and the bounce's says: version 1, its change id, the
    recipient's and the message's status, the SES message id, the producer's own key (not the
    sender-scoped one), sender, tenant, the recipient as hash and masked form, the bounce
    type.sub-type and SES's time; its attributes are the status, the sender's domain and the
    tenant."""
    app.handle(message(), FakeContext())
    app.handle(sns_with(about_sent("event_bounce")), FakeContext())

    assert callbacks.statuses == ["sent", "bounced"]
    (_, (payload, attributes)) = published(callbacks)
    record, change = callbacks.published[1]
    assert payload == {
        "version": 1,
        "change_id": change.change_id(SES_ID, record.idempotency_key),
        "status": "bounced",
        "message_status": "bounced",
        "ses_message_id": SES_ID,
        "idempotency_key": "invoice-12345",
        "sender": SENDER,
        "tenant": "billing",
        "recipient": {"id": recipient_id(RECIPIENT), "masked": "r***@example.com"},
        "detail": "Permanent.General",
        "at": "2017-08-05T00:41:02.669Z",
    }
    assert re.fullmatch(r"[0-9a-f]{32}", payload["change_id"])
    assert attributes == {"status": "bounced", "sender_domain": "acubeapi.com", "tenant": "billing"}


def test_a_message_without_a_tenant_tag_has_no_tenant_attribute(
    app: App, callbacks: FakeStatusCallbacks
) -> None:
    """GIVEN a message without tags, from a sender written with capitals WHEN sent THEN its
    callback is filtered on status and the sender's lower-case domain only, and says no
    tenant and no key of the producer's own (the key is a content hash)."""
    app.handle(
        message(tags=None, idempotency_key=None, sender="NoReply@AcubeAPI.com"), FakeContext()
    )

    ((payload, attributes),) = published(callbacks)
    assert attributes == {"status": "sent", "sender_domain": "acubeapi.com"}
    assert (payload["tenant"], payload["idempotency_key"]) == (None, None)


def test_a_message_level_change_names_no_recipient(
    app: App, callbacks: FakeStatusCallbacks
) -> None:
    """GIVEN a message sent WHEN SES rejects it THEN the callback is about the message: no
    recipient, SES's reason as detail."""
    app.handle(message(), FakeContext())
    app.handle(sns_with(about_sent("event_reject")), FakeContext())

    payload, attributes = published(callbacks)[-1]
    assert (payload["status"], payload["recipient"], payload["detail"]) == (
        "rejected",
        None,
        "Bad content",
    )
    assert attributes["status"] == "rejected"


def test_a_refused_message_is_called_back_with_no_ses_message_id(
    app: App, callbacks: FakeStatusCallbacks, suppression: FakeSuppressionList
) -> None:
    """GIVEN a message whose every recipient is suppressed WHEN refused THEN its one callback
    says `suppressed` for the message, with the producer's key and no SES message id."""
    app.handle(sns_with(about_sent("event_complaint")), FakeContext())  # suppresses RECIPIENT

    app.handle(message(), FakeContext())

    payload, attributes = published(callbacks)[-1]
    assert (payload["status"], payload["ses_message_id"], payload["idempotency_key"]) == (
        "suppressed",
        None,
        "invoice-12345",
    )
    assert attributes == {
        "status": "suppressed",
        "sender_domain": "acubeapi.com",
        "tenant": "billing",
    }


def test_no_recipient_address_is_in_any_callback(app: App, callbacks: FakeStatusCallbacks) -> None:
    """GIVEN a message to To, Cc and Bcc recipients, every documented event for it, and a
    refused message WHEN every change is published THEN no payload or attribute holds a
    recipient's address: each address in them is masked, or the sender's own (the producing
    team's From identity)."""
    app.handle(message(cc=["Jane.Doe@Example.com"], bcc=["audit@example.org"]), FakeContext())
    for name in EVERY_EVENT:
        app.handle(sns_with(about_sent(name)), FakeContext())
    app.handle(
        message(idempotency_key="other", recipients=["x.y@@example.com", "zoe@example.com"]),
        FakeContext(),
    )

    assert len(callbacks.published) >= len(EVERY_EVENT)
    for payload, attributes in published(callbacks):
        text = json.dumps(payload) + json.dumps(attributes)
        for address in ANY_ADDRESS.findall(text):
            assert "***@" in address or address == SENDER, f"{address!r} in {text}"


# --- at least once, never lost -----------------------------------------------------------


def test_a_change_published_again_has_the_same_change_id(
    app: App, statuses: FakeStatusStore, callbacks: FakeStatusCallbacks
) -> None:
    """GIVEN a bounce whose callback was published but whose record could not be written
    (DynamoDB failed) WHEN the notification is retried THEN the change is published again with
    the same change_id (consumers deduplicate on it), and the record is now written."""
    app.handle(message(), FakeContext())
    statuses.errors.append(DependencyUnavailable("DynamoDB PutItem failed (InternalServerError)"))

    first = app.handle(sqs_with(about_sent("event_bounce")), FakeContext())
    assert first == {"batchItemFailures": [{"itemIdentifier": "m0"}]}
    assert record_of(statuses).status is Status.SENT

    assert app.handle(sqs_with(about_sent("event_bounce")), FakeContext()) == {
        "batchItemFailures": []
    }
    assert callbacks.statuses == ["sent", "bounced", "bounced"]
    once, again = (payload["change_id"] for payload, _ in published(callbacks)[1:])
    assert once == again
    assert record_of(statuses).status is Status.BOUNCED


def test_a_callback_that_cannot_be_published_fails_the_event_and_writes_nothing(
    app: App, statuses: FakeStatusStore, callbacks: FakeStatusCallbacks
) -> None:
    """GIVEN a message sent WHEN its Delivery's callback cannot be published (SNS down) THEN the
    record is not written and the notification fails (SQS: reported; SNS: the invocation
    raises), so that it is retried; once SNS is back, the retry records and publishes it."""
    app.handle(message(), FakeContext())
    sent, writes = record_of(statuses), len(statuses.writes)
    callbacks.errors += [DependencyUnavailable("SNS PublishBatch failed (InternalError)")] * 2

    assert app.handle(sqs_with(about_sent("event_delivery")), FakeContext()) == {
        "batchItemFailures": [{"itemIdentifier": "m0"}]
    }
    with pytest.raises(RecordsFailed):
        app.handle(sns_with(about_sent("event_delivery")), FakeContext())
    assert record_of(statuses) == sent
    assert len(statuses.writes) == writes

    assert app.handle(sns_with(about_sent("event_delivery")), FakeContext()) == {"processed": 1}
    assert record_of(statuses).status is Status.DELIVERED
    assert callbacks.statuses == ["sent", "delivered"]


def test_a_callback_failure_after_ses_accepted_never_fails_the_email(
    app: App,
    statuses: FakeStatusStore,
    callbacks: FakeStatusCallbacks,
    metrics: FakeMetrics,
) -> None:
    """GIVEN SNS down WHEN SES accepts a message THEN the email is reported sent (a retry would
    send it twice), `StatusUnrecorded` is counted and logged, and no record is written (SES's
    own events will write it)."""
    callbacks.errors.append(DependencyUnavailable("SNS PublishBatch failed (InternalError)"))

    with capture_logs() as logs:
        response = app.handle(message(), FakeContext())

    assert response == {"statusCode": 200, "messageId": SES_ID}
    assert statuses.read(SES_ID) is None
    assert metrics.total("StatusUnrecorded") == 1
    (line,) = [line for line in logs if line["event"] == "status.unrecorded"]
    assert (line["log_level"], line["ses_message_id"]) == ("error", SES_ID)


# --- metrics, and without a state table --------------------------------------------------


def test_status_changes_are_counted_by_status(app: App, metrics: FakeMetrics) -> None:
    """GIVEN a message to two recipients WHEN one bounces and the other is delivered and opens
    it THEN `StatusChanges` counts each change under its status (the Reason dimension)."""
    app.handle(message(cc=["jane@example.com"]), FakeContext())
    app.handle(sns_with(about_sent("event_bounce")), FakeContext())
    delivery = about_sent("event_delivery")
    delivery["delivery"]["recipients"] = ["jane@example.com"]
    app.handle(sns_with(delivery, about_sent("event_open")), FakeContext())

    assert metrics.total("StatusChanges", reason="sent") == 2
    assert metrics.total("StatusChanges", reason="bounced") == 1
    assert metrics.total("StatusChanges", reason="delivered") == 1
    assert metrics.total("StatusChanges", reason="opened") == 1
    assert metrics.total("StatusChanges") == 5


def test_without_a_state_table_nothing_is_recorded_or_published(
    make_app: Callable[..., App], callbacks: FakeStatusCallbacks, metrics: FakeMetrics
) -> None:
    """GIVEN no state table (no status store: the null tracker), a status topic set WHEN
    messages are sent and refused and SES's events arrive THEN nothing is published, no
    status change is counted, and every record still succeeds."""
    app = make_app(callbacks=callbacks, feedback_topic_arns=(FEEDBACK_TOPIC,))

    assert app.handle(message(), FakeContext())["statusCode"] == 200
    assert (
        app.handle(message(subject="a\r\nb", idempotency_key="x"), FakeContext())["statusCode"]
        == 400
    )
    events = [about_sent(name) for name in EVERY_EVENT]
    assert app.handle(sns_with(*events), FakeContext()) == {"processed": len(events)}

    assert callbacks.published == []
    assert metrics.total("StatusChanges") == 0


# --- SES's setup notices -----------------------------------------------------------------


NOTICES = [
    pytest.param(VALIDATION_NOTICE, "topic-validated", id="validated-plain-text"),
    pytest.param(
        documented("setup_subscription_succeeded"),
        "subscription-succeeded",
        id="subscription-succeeded-json",
    ),
]


@pytest.mark.parametrize(("notice", "name"), NOTICES)
def test_a_setup_notice_through_sns_is_acknowledged_and_logged_once(
    app: App,
    statuses: FakeStatusStore,
    callbacks: FakeStatusCallbacks,
    metrics: FakeMetrics,
    notice: dict[str, Any] | str,
    name: str,
) -> None:
    """GIVEN SES attaching the feedback topic (an operator following docs/operations.md) WHEN
    its notice arrives through SNS THEN the invocation succeeds, one info line
    `ses.setup_notice` names it, and nothing is recorded, published or counted as failed."""
    with capture_logs() as logs:
        assert app.handle(sns_with(notice), FakeContext()) == {"processed": 1}

    (line,) = [line for line in logs if line["event"] == "ses.setup_notice"]
    assert (line["log_level"], line["notice"], line["topic"]) == ("info", name, FEEDBACK_TOPIC)
    assert [line["event"] for line in logs] == ["ses.setup_notice"]
    assert statuses.writes == []
    assert callbacks.published == []
    assert metrics.total("EmailsFailed") == 0


@pytest.mark.parametrize(("notice", "name"), NOTICES)
def test_a_setup_notice_through_sqs_is_acknowledged_and_logged_once(
    app: App, metrics: FakeMetrics, notice: dict[str, Any] | str, name: str
) -> None:
    """GIVEN the feedback topic delivering to a queue (SNS envelope in the SQS body) WHEN SES's
    notice arrives THEN no batch item fails, one info line names it, nothing else is logged."""
    with capture_logs() as logs:
        assert app.handle(sqs_with(notice), FakeContext()) == {"batchItemFailures": []}

    assert [(line["event"], line["log_level"]) for line in logs] == [("ses.setup_notice", "info")]
    assert logs[0]["notice"] == name
    assert metrics.total("EmailsFailed") == 0


@pytest.mark.parametrize(("notice", "name"), NOTICES)
def test_a_setup_notice_from_another_topic_is_not_trusted(
    app: App, notice: dict[str, Any] | str, name: str
) -> None:
    """GIVEN SES's notice text on the email topic, or as a raw SQS body (no topic at all) WHEN
    it arrives THEN it is an invalid message, failed as such: only a feedback topic speaks for
    SES."""
    with capture_logs() as logs:
        with pytest.raises(RecordsFailed):
            app.handle(sns_with(notice, topic=EMAIL_TOPIC), FakeContext())
        failed = app.handle(sqs_with(notice, topic=EMAIL_TOPIC), FakeContext())
        raw = sqs_with(notice)
        raw["Records"][0]["body"] = notice if isinstance(notice, str) else json.dumps(notice)
        raw_failed = app.handle(raw, FakeContext())

    assert failed == raw_failed == {"batchItemFailures": [{"itemIdentifier": "m0"}]}
    assert "ses.setup_notice" not in {line["event"] for line in logs}


# --- the SNS adapter ---------------------------------------------------------------------


@pytest.fixture
def sns() -> Iterator[tuple[Any, Stubber, list[dict[str, Any]]]]:
    """An SNS client played by Stubber, and every PublishBatch request it was given."""
    client = boto3.client(
        "sns", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x"
    )
    requests: list[dict[str, Any]] = []
    client.meta.events.register(
        "provide-client-params.sns.PublishBatch", lambda params, **_: requests.append(params)
    )
    with Stubber(client) as stubber:
        yield client, stubber, requests
        stubber.assert_no_pending_responses()


STATUS_TOPIC = "arn:aws:sns:us-east-1:123456789012:notifier-status"


def many_changes(count: int) -> tuple[EmailStatus, list[StatusChange]]:
    record = EmailStatus(ses_message_id=SES_ID, sender=SENDER, tenant="billing")
    return record, [
        StatusChange(status="delivered", recipient=f"{n:064x}", masked="u***@example.com")
        for n in range(count)
    ]


def test_the_sns_adapter_publishes_one_message_per_change_ten_at_a_time(
    sns: tuple[Any, Stubber, list[dict[str, Any]]],
) -> None:
    """GIVEN 12 changes WHEN published THEN two PublishBatch calls (SNS takes 10 entries at a
    time) carry one entry each: the JSON payload and String attributes to filter on."""
    client, stubber, requests = sns
    for size in (10, 2):
        stubber.add_response(
            "publish_batch",
            {"Successful": [{"Id": str(n), "MessageId": f"m{n}"} for n in range(size)]},
        )
    record, changes = many_changes(12)

    SnsStatusCallbacks(lambda: client, STATUS_TOPIC).publish(record, changes)

    assert [len(r["PublishBatchRequestEntries"]) for r in requests] == [10, 2]
    assert {r["TopicArn"] for r in requests} == {STATUS_TOPIC}
    entries = [e for r in requests for e in r["PublishBatchRequestEntries"]]
    assert len({e["Id"] for e in entries}) == 12
    assert [json.loads(e["Message"]) for e in entries] == [
        callback_payload(record, change) for change in changes
    ]
    assert entries[0]["MessageAttributes"] == {
        "status": {"DataType": "String", "StringValue": "delivered"},
        "sender_domain": {"DataType": "String", "StringValue": "acubeapi.com"},
        "tenant": {"DataType": "String", "StringValue": "billing"},
    }


def test_an_entry_sns_refuses_is_a_transient_error(
    sns: tuple[Any, Stubber, list[dict[str, Any]]],
) -> None:
    """GIVEN SNS accepting the call but failing one entry WHEN published THEN a transient error
    (the event is retried; consumers deduplicate what got through)."""
    client, stubber, _ = sns
    stubber.add_response(
        "publish_batch",
        {
            "Successful": [{"Id": "0", "MessageId": "m0"}],
            "Failed": [{"Id": "1", "Code": "InternalError", "SenderFault": False}],
        },
    )
    record, changes = many_changes(2)

    with pytest.raises(DependencyUnavailable, match="InternalError"):
        SnsStatusCallbacks(lambda: client, STATUS_TOPIC).publish(record, changes)


def test_a_failed_publish_call_is_a_transient_error(
    sns: tuple[Any, Stubber, list[dict[str, Any]]],
) -> None:
    """GIVEN SNS throttling the call WHEN published THEN a transient error naming the code."""
    client, stubber, _ = sns
    stubber.add_client_error("publish_batch", service_error_code="Throttled", http_status_code=400)
    record, changes = many_changes(1)

    with pytest.raises(DependencyUnavailable, match="Throttled"):
        SnsStatusCallbacks(lambda: client, STATUS_TOPIC).publish(record, changes)
