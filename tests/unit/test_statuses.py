"""Status records through the app: what a send, a refusal and each SES event leave behind.

The app is the real composition root with fakes (tests/unit/conftest.py): `statuses` keeps
the records as the DynamoDB adapter would (tests/contract holds the two to one contract),
`callbacks` keeps what was published. SES's events are the documentation's examples
(tests/events/ses/), told about the message notifier sent: its SES message id and sender in
place of the example's (see `about_sent`). Their recipient, recipient@example.com, is the
message's.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import attrs
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from notifier.adapters.addresses import EmailValidatorAddresses
from notifier.adapters.inbound.message import parse_message
from notifier.adapters.inbound.ses_feedback import parse_ses_notification
from notifier.domain.errors import (
    DependencyUnavailable,
    MessageRejected,
    SendingPaused,
    SendThrottled,
)
from notifier.domain.feedback import observation
from notifier.domain.idempotency import scoped_key
from notifier.domain.model import EmailSent
from notifier.domain.policy import Policy
from notifier.domain.state import Suppression, SuppressionReason
from notifier.domain.status import EmailStatus, Engagement, Observation, Status, recipient_id
from notifier.domain.tracking import StatusService
from notifier.domain.validation import Validator
from notifier.entrypoints.app import App
from tests.fakes import (
    FakeContext,
    FakeIdempotencyStore,
    FakeMailer,
    FakeStatusCallbacks,
    FakeStatusStore,
    FakeSuppressionList,
)
from tests.unit.conftest import FIXED_NOW, seed_message

SES = Path(__file__).parent.parent / "events" / "ses"
FEEDBACK_TOPIC = "arn:aws:sns:us-east-1:123456789012:notifier-feedback"
SENDER = "noreply@acubeapi.com"
RECIPIENT = "recipient@example.com"  # the documented events' recipient
KEY = scoped_key(SENDER, "invoice-12345")
SES_ID = "fake-ses-1"  # the fake mailer's first message id
RETENTION = timedelta(days=30).total_seconds()


def documented(name: str) -> dict[str, Any]:
    """An SES example event as the documentation gives it."""
    event: dict[str, Any] = json.loads((SES / f"{name}.json").read_text(encoding="utf-8"))
    return event


def about_sent(name: str, ses_message_id: str = SES_ID, sender: str = SENDER) -> dict[str, Any]:
    """The documented event as SES publishes it for the message notifier sent: that message's
    SES message id and source in place of the example's."""
    event = documented(name)
    text = json.dumps(event).replace(event["mail"]["messageId"], ses_message_id)
    for example_sender in ("sender@example.com", "john@example.com"):
        text = text.replace(example_sender, sender)
    retargeted: dict[str, Any] = json.loads(text)
    return retargeted


def sns_with(*messages: dict[str, Any] | str, topic: str = FEEDBACK_TOPIC) -> dict[str, Any]:
    """An SNS invocation, one record per message (a dict is sent as its JSON)."""
    return {
        "Records": [
            {
                "EventSource": "aws:sns",
                "Sns": {
                    "Type": "Notification",
                    "MessageId": f"sns-{index}",
                    "TopicArn": topic,
                    "Message": m if isinstance(m, str) else json.dumps(m),
                },
            }
            for index, m in enumerate(messages)
        ]
    }


def sqs_with(*messages: dict[str, Any] | str, topic: str = FEEDBACK_TOPIC) -> dict[str, Any]:
    """An SQS batch whose bodies are SNS envelopes (SNS -> SQS without raw delivery), ids m0..."""
    return {
        "Records": [
            {
                "eventSource": "aws:sqs",
                "messageId": f"m{index}",
                "body": json.dumps(
                    {
                        "Type": "Notification",
                        "TopicArn": topic,
                        "Message": m if isinstance(m, str) else json.dumps(m),
                    }
                ),
            }
            for index, m in enumerate(messages)
        ]
    }


def message(**changes: Any) -> dict[str, Any]:
    """The sample invoice to the documented events' recipient, with a key and a tenant tag."""
    fields: dict[str, Any] = {
        "recipients": [RECIPIENT],
        "idempotency_key": "invoice-12345",
        "tags": {"tenant": "billing"},
        **changes,
    }
    return seed_message(**fields)


def query(statuses: FakeStatusStore) -> StatusService:
    """The status service over the app's store, as `python -m notifier status` reads it."""
    return StatusService(
        store=statuses,
        callbacks=FakeStatusCallbacks(),
        retention_seconds=RETENTION,
        clock=lambda: FIXED_NOW,
    )


def record_of(statuses: FakeStatusStore, ses_message_id: str = SES_ID) -> EmailStatus:
    record = query(statuses).get(ses_message_id)
    assert record is not None, f"no status record for {ses_message_id}"
    return record


def recipient_status(record: EmailStatus, address: str = RECIPIENT) -> tuple[Status, str]:
    found = record.recipients[recipient_id(address)]
    return found.status, found.detail


@pytest.fixture
def app(
    make_app: Callable[..., App],
    idempotency: FakeIdempotencyStore,
    suppression: FakeSuppressionList,
    statuses: FakeStatusStore,
    callbacks: FakeStatusCallbacks,
) -> App:
    return make_app(
        idempotency=idempotency,
        suppression=suppression,
        statuses=statuses,
        callbacks=callbacks,
        feedback_topic_arns=(FEEDBACK_TOPIC,),
    )


# --- a message sent ----------------------------------------------------------------------


def test_a_sent_message_is_sent_for_every_recipient_and_found_by_id_and_key(
    app: App, statuses: FakeStatusStore
) -> None:
    """GIVEN a message to To, Cc and Bcc recipients WHEN SES accepts it THEN its record says
    `sent` for each (masked, never in full), carries its key, sender and tenant, expires after
    the retention, and is found both by its SES message id and by its sender-scoped key."""
    response = app.handle(
        message(cc=["Jane.Doe@Example.com"], bcc=["audit@example.org"]), FakeContext()
    )

    assert response == {"statusCode": 200, "messageId": SES_ID}
    record = record_of(statuses)
    assert {rid: (r.masked, r.status) for rid, r in record.recipients.items()} == {
        recipient_id(RECIPIENT): ("r***@example.com", Status.SENT),
        recipient_id("jane.doe@example.com"): ("J***@example.com", Status.SENT),
        recipient_id("audit@example.org"): ("a***@example.org", Status.SENT),
    }
    assert record.status is Status.SENT
    assert (record.idempotency_key, record.sender, record.tenant) == (KEY, SENDER, "billing")
    assert record.expires_at == FIXED_NOW.timestamp() + RETENTION
    assert query(statuses).find(KEY) == record
    assert query(statuses).find(scoped_key(SENDER, "invoice-99999")) is None


def test_a_message_without_a_key_of_its_own_is_found_by_its_content_key(
    app: App, statuses: FakeStatusStore
) -> None:
    """GIVEN a message without an idempotency_key WHEN sent THEN its record carries the key
    notifier made from its content (`<sender>#sha256:...`), and that key finds it."""
    app.handle(message(idempotency_key=None), FakeContext())

    record = record_of(statuses)
    assert record.idempotency_key.startswith(f"{SENDER}#sha256:")
    assert query(statuses).find(record.idempotency_key) == record


def test_a_suppressed_recipient_left_out_is_recorded_as_suppressed(
    app: App, statuses: FakeStatusStore, suppression: FakeSuppressionList
) -> None:
    """GIVEN one of two recipients suppressed WHEN the message is sent to the other THEN the
    record says `suppressed` for the one left out and `sent` for the other: the message is
    `sent`."""
    suppression.add(Suppression(address="gone@example.com", reason=SuppressionReason.BOUNCE))

    app.handle(message(cc=["gone@example.com"]), FakeContext())

    record = record_of(statuses)
    assert recipient_status(record) == (Status.SENT, "")
    assert recipient_status(record, "gone@example.com") == (Status.SUPPRESSED, "")
    assert record.status is Status.SENT


# --- each SES event ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "status", "detail", "at"),
    [
        ("event_delivery", Status.DELIVERED, "", "2016-10-19T23:21:04.133Z"),
        (
            "event_delivery_delay",
            Status.DELAYED,
            "TransientCommunicationFailure",
            "2020-06-16T00:25:40.095Z",
        ),
        ("event_bounce", Status.BOUNCED, "Permanent.General", "2017-08-05T00:41:02.669Z"),
        ("event_complaint", Status.COMPLAINED, "abuse", "2017-08-05T00:41:02.669Z"),
    ],
)
def test_a_recipient_event_moves_the_recipients_status(
    app: App,
    statuses: FakeStatusStore,
    callbacks: FakeStatusCallbacks,
    name: str,
    status: Status,
    detail: str,
    at: str,
) -> None:
    """GIVEN a message sent WHEN SES reports a Delivery, a DeliveryDelay (with its delay type),
    a Bounce (type.sub-type) or a Complaint (feedback type) for its recipient THEN the
    recipient, and so the message, takes that status with the event's detail and time, and one
    callback says so."""
    app.handle(message(), FakeContext())

    assert app.handle(sns_with(about_sent(name)), FakeContext()) == {"processed": 1}

    record = record_of(statuses)
    assert recipient_status(record) == (status, detail)
    assert record.recipients[recipient_id(RECIPIENT)].at == at
    assert record.status is status
    assert callbacks.statuses == ["sent", status.value]


@pytest.mark.parametrize(
    ("name", "status", "detail"),
    [
        ("event_reject", Status.REJECTED, "Bad content"),
        (
            "event_rendering_failure",
            Status.RENDERING_FAILED,
            "MyTemplate Attribute 'attributeName' is not present in the rendering data.",
        ),
    ],
)
def test_a_reject_or_a_rendering_failure_is_the_whole_messages_status(
    app: App,
    statuses: FakeStatusStore,
    callbacks: FakeStatusCallbacks,
    name: str,
    status: Status,
    detail: str,
) -> None:
    """GIVEN a message sent WHEN SES rejects it (virus) or fails to render its template THEN
    the message takes that status with SES's reason, its recipients are left as they were,
    and one callback (for the message, no recipient) says so."""
    app.handle(message(), FakeContext())

    app.handle(sns_with(about_sent(name)), FakeContext())

    record = record_of(statuses)
    assert (record.status, record.message_status, record.message_detail) == (
        status,
        status,
        detail,
    )
    assert recipient_status(record) == (Status.SENT, "")
    (_, change) = callbacks.published[-1]
    assert (change.status, change.recipient, change.detail) == (status.value, "", detail)


@pytest.mark.parametrize(
    ("name", "kind", "at"),
    [
        ("event_open", Engagement.OPENED, "2017-08-09T22:00:19.652Z"),
        ("event_click", Engagement.CLICKED, "2017-08-09T23:51:25.570Z"),
        ("event_subscription", Engagement.UNSUBSCRIBED, "2022-01-12T01:00:17.910Z"),
    ],
)
def test_opens_clicks_and_unsubscribes_are_engagement_not_a_delivery_status(
    app: App,
    statuses: FakeStatusStore,
    callbacks: FakeStatusCallbacks,
    name: str,
    kind: Engagement,
    at: str,
) -> None:
    """GIVEN a message sent and delivered WHEN its recipient opens it, clicks a link or
    unsubscribes THEN that is recorded as engagement with its time, the delivery status stays
    `delivered`, and one callback says what the recipient did."""
    app.handle(message(), FakeContext())
    app.handle(sns_with(about_sent("event_delivery")), FakeContext())

    app.handle(sns_with(about_sent(name)), FakeContext())

    record = record_of(statuses)
    assert record.engagement == {kind: at}
    assert recipient_status(record) == (Status.DELIVERED, "")
    assert record.status is Status.DELIVERED
    assert callbacks.statuses == ["sent", "delivered", kind.value]


def test_an_open_before_the_delivery_leaves_the_recipient_sent(
    app: App, statuses: FakeStatusStore
) -> None:
    """GIVEN a message sent WHEN an Open arrives before any Delivery THEN the recipient is still
    `sent` (an open says nothing of the delivery status) and the open is recorded."""
    app.handle(message(), FakeContext())

    app.handle(sns_with(about_sent("event_open")), FakeContext())

    record = record_of(statuses)
    assert recipient_status(record) == (Status.SENT, "")
    assert set(record.engagement) == {Engagement.OPENED}


def test_a_subscription_event_that_opts_in_is_no_unsubscribe(
    app: App, statuses: FakeStatusStore, callbacks: FakeStatusCallbacks
) -> None:
    """GIVEN a message sent WHEN SES reports a Subscription event that opts in to every topic
    THEN no engagement is recorded and nothing is published but the send."""
    app.handle(message(), FakeContext())
    event = about_sent("event_subscription")
    event["subscription"]["newTopicPreferences"] = {
        "unsubscribeAll": False,
        "topicSubscriptionStatus": [
            {"topicName": "ExampleTopicName", "subscriptionStatus": "OptIn"}
        ],
    }

    app.handle(sns_with(event), FakeContext())

    assert record_of(statuses).engagement == {}
    assert callbacks.statuses == ["sent"]


def test_ses_send_event_after_notifiers_own_record_publishes_nothing(
    app: App, statuses: FakeStatusStore, callbacks: FakeStatusCallbacks
) -> None:
    """GIVEN a message sent (recorded `sent` by notifier) WHEN SES's own Send event arrives THEN
    the status stays `sent` and no second `sent` callback is published."""
    app.handle(message(), FakeContext())

    app.handle(sns_with(about_sent("event_send")), FakeContext())

    assert record_of(statuses).status is Status.SENT
    assert callbacks.statuses == ["sent"]


def test_an_identity_notification_moves_only_the_recipients_it_names(
    app: App, statuses: FakeStatusStore, callbacks: FakeStatusCallbacks
) -> None:
    """GIVEN a message to three recipients WHEN the identity-notification Bounce names two of
    them THEN those two are `bounced` (Permanent.General) and the third is still `sent`; the
    message shows `bounced`, and one callback per bounced recipient is published."""
    app.handle(
        message(recipients=["jane@example.com", "mary@example.com", "richard@example.com"]),
        FakeContext(),
    )

    app.handle(sns_with(about_sent("bounce_permanent")), FakeContext())

    record = record_of(statuses)
    assert recipient_status(record, "jane@example.com") == (Status.BOUNCED, "Permanent.General")
    assert recipient_status(record, "richard@example.com") == (Status.BOUNCED, "Permanent.General")
    assert recipient_status(record, "mary@example.com") == (Status.SENT, "")
    assert record.status is Status.BOUNCED
    assert callbacks.statuses == ["sent", "sent", "sent", "bounced", "bounced"]


def test_events_relayed_through_sqs_move_the_status_too(
    app: App, statuses: FakeStatusStore
) -> None:
    """GIVEN a message sent WHEN its Delivery comes SNS -> SQS (envelope in the body) THEN the
    recipient is `delivered` and the batch has no failure."""
    app.handle(message(), FakeContext())

    response = app.handle(sqs_with(about_sent("event_delivery")), FakeContext())

    assert response == {"batchItemFailures": []}
    assert recipient_status(record_of(statuses)) == (Status.DELIVERED, "")


EVERY_EVENT = [
    "event_send",
    "event_delivery",
    "event_delivery_delay",
    "event_bounce",
    "event_complaint",
    "event_reject",
    "event_rendering_failure",
    "event_open",
    "event_click",
    "event_subscription",
]


@pytest.mark.parametrize("name", EVERY_EVENT)
def test_the_same_event_twice_changes_nothing_the_second_time(
    app: App, statuses: FakeStatusStore, callbacks: FakeStatusCallbacks, name: str
) -> None:
    """GIVEN a message sent and one SES event recorded WHEN the same event comes again (SNS and
    SQS deliver at least once; a failed batch comes back whole) THEN the record is not written
    again and nothing more is published."""
    app.handle(message(), FakeContext())
    app.handle(sns_with(about_sent(name)), FakeContext())
    record, writes, published = record_of(statuses), len(statuses.writes), len(callbacks.published)

    assert app.handle(sqs_with(about_sent(name)), FakeContext()) == {"batchItemFailures": []}

    assert record_of(statuses) == record
    assert len(statuses.writes) == writes
    assert len(callbacks.published) == published


def test_an_event_after_the_retention_starts_a_new_record(
    make_app: Callable[..., App], callbacks: FakeStatusCallbacks
) -> None:
    """GIVEN a message sent, and its record past NOTIFIER_STATUS_RETENTION_DAYS (gone for
    reads, maybe not yet swept from the table) WHEN a late Open arrives THEN the event succeeds
    and starts a new record, instead of failing on every retry until it dead-letters."""
    now = [FIXED_NOW]
    statuses = FakeStatusStore(clock=lambda: now[0].timestamp())
    app = make_app(
        statuses=statuses,
        callbacks=callbacks,
        clock=lambda: now[0],
        feedback_topic_arns=(FEEDBACK_TOPIC,),
    )
    app.handle(message(), FakeContext())
    now[0] = FIXED_NOW + timedelta(days=31)
    assert query(statuses).get(SES_ID) is None

    assert app.handle(sqs_with(about_sent("event_open")), FakeContext()) == {
        "batchItemFailures": []
    }

    record = record_of(statuses)
    assert set(record.engagement) == {Engagement.OPENED}
    assert record.expires_at == (now[0] + timedelta(days=30)).timestamp()
    assert callbacks.statuses[-1] == "opened"


# --- any order ---------------------------------------------------------------------------


def deployment_after(
    make_app: Callable[..., App], sent: dict[str, Any], event: dict[str, Any], *, event_first: bool
) -> FakeStatusStore:
    """The statuses of a fresh deployment (its SES message ids from `fake-ses-1` again) that
    sent `sent` and received the SES `event` about it, the event first or last."""
    statuses = FakeStatusStore(clock=FIXED_NOW.timestamp)
    app = make_app(
        idempotency=FakeIdempotencyStore(),
        statuses=statuses,
        own_mailer=FakeMailer(),
        feedback_topic_arns=(FEEDBACK_TOPIC,),
    )
    steps: list[Any] = [sent, sns_with(event)]
    for step in reversed(steps) if event_first else steps:
        app.handle(step, FakeContext())
    return statuses


@pytest.mark.parametrize("name", ["event_delivery", "event_send", "event_open"])
def test_an_event_before_the_send_record_ends_in_the_same_record(
    make_app: Callable[..., App], name: str
) -> None:
    """GIVEN two deployments WHEN one records the send then SES's event, and the other receives
    the event before it writes its own send record (SES's event publishing can be faster
    than the record's write) THEN both end with the same record, and the event-first one is
    found by the key too."""
    send_first = deployment_after(make_app, message(), about_sent(name), event_first=False)
    event_first = deployment_after(make_app, message(), about_sent(name), event_first=True)

    record = attrs.evolve(record_of(event_first), version=0)
    assert record == attrs.evolve(record_of(send_first), version=0)
    assert query(event_first).find(KEY) == record_of(event_first)


def test_a_sender_written_with_capitals_ends_in_the_same_record_in_either_order(
    make_app: Callable[..., App],
) -> None:
    """GIVEN a sender written with capitals (SES reports the source as given; notifier's events
    parser lower-cases it) WHEN the Delivery comes before or after the send record THEN the
    record is the same, its sender lower-case as in the key it is found by."""
    sent = message(sender="Factures <NoReply@AcubeAPI.com>")
    event = about_sent("event_delivery", sender="NoReply@acubeapi.com")

    send_first = record_of(deployment_after(make_app, sent, event, event_first=False))
    event_first = record_of(deployment_after(make_app, sent, event, event_first=True))

    assert attrs.evolve(event_first, version=0) == attrs.evolve(send_first, version=0)
    assert send_first.sender == SENDER


# The property behind both: the observations of one message, in any order, each once or twice.
SEND = "send"
OBSERVED = {
    name: observation(feedback)
    for name in EVERY_EVENT
    if (feedback := parse_ses_notification(about_sent(name))) is not None
}
# Rendered from a template: its version is metadata the merge must keep in any order.
COMMAND = attrs.evolve(
    Validator(Policy(), EmailValidatorAddresses()).command(
        parse_message(message(cc=["Jane.Doe@Example.com"]))
    ),
    template_version="invoice-ready/fr@0123456789ab",
)


def replay(steps: list[str]) -> EmailStatus:
    """The record left by notifier's send (`SEND`) and the named events, in that order."""
    store = FakeStatusStore(clock=FIXED_NOW.timestamp)
    tracking = StatusService(
        store=store,
        callbacks=FakeStatusCallbacks(),
        retention_seconds=RETENTION,
        clock=lambda: FIXED_NOW,
    )
    for step in steps:
        if step == SEND:
            tracking.sent(COMMAND, EmailSent(ses_message_id=SES_ID, recipients=2, size_bytes=1))
        else:
            seen = OBSERVED[step]
            assert isinstance(seen, Observation)
            tracking.observe(seen)
    record = store.read(SES_ID)
    assert record is not None
    return attrs.evolve(record, version=0)  # how many writes it took depends on the order


IN_ORDER = replay([SEND, *EVERY_EVENT])


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), copies=st.lists(st.integers(1, 2), min_size=11, max_size=11))
def test_any_order_of_a_messages_observations_gives_the_same_record(
    data: st.DataObject, copies: list[int]
) -> None:
    """GIVEN notifier's send and every documented SES event for one message WHEN they arrive in
    any order, each once or twice THEN the final record is the one they leave in order."""
    steps = [step for step, n in zip([SEND, *EVERY_EVENT], copies, strict=True) for _ in range(n)]

    order = data.draw(st.permutations(steps))

    assert replay(order) == IN_ORDER


def test_the_record_in_order_has_every_observation_in_it() -> None:
    """The reference record of the property above is not trivial: every status, engagement
    and the message-level status are in it."""
    assert IN_ORDER.recipients[recipient_id(RECIPIENT)].status is Status.COMPLAINED
    assert IN_ORDER.recipients[recipient_id("jane.doe@example.com")].status is Status.SENT
    assert IN_ORDER.message_status is Status.RENDERING_FAILED
    assert set(IN_ORDER.engagement) == set(Engagement)
    assert (IN_ORDER.idempotency_key, IN_ORDER.tenant) == (KEY, "billing")
    assert IN_ORDER.template_version == "invoice-ready/fr@0123456789ab"


# --- messages refused --------------------------------------------------------------------


def test_an_invalid_message_with_a_key_is_failed_and_found_by_it(
    app: App, statuses: FakeStatusStore, callbacks: FakeStatusCallbacks
) -> None:
    """GIVEN an invalid message (a line break in its subject, an unparseable Cc) with its own
    idempotency_key WHEN refused THEN a `failed` record, with the validation errors (addresses
    masked) as detail and no SES message id, is found by its sender-scoped key, and one
    callback says so."""
    invalid = message(subject="Facture\r\nBcc: spy@example.net", cc=["jane.doe@@example.com"])

    assert app.handle(invalid, FakeContext())["statusCode"] == 400

    record = query(statuses).find(KEY)
    assert record is not None
    assert (record.status, record.ses_message_id, record.sender) == (Status.FAILED, "", SENDER)
    assert "subject" in record.message_detail
    assert "cc[0]" in record.message_detail
    assert "jane.doe@" not in record.message_detail
    assert record.tenant == "billing"
    assert callbacks.statuses == ["failed"]


def test_a_message_ses_rejects_is_failed_and_found_by_its_key(
    app: App, statuses: FakeStatusStore, mailer: FakeMailer
) -> None:
    """GIVEN SES refuses the message for good (MessageRejected) WHEN sent THEN 422 and a
    `failed` record with SES's reason is found by the key."""
    mailer.errors.append(MessageRejected("Email address is not verified.", code="MessageRejected"))

    assert app.handle(message(), FakeContext())["statusCode"] == 422

    record = query(statuses).find(KEY)
    assert record is not None
    assert (record.status, record.message_detail) == (
        Status.FAILED,
        "Email address is not verified.",
    )


def test_a_message_to_suppressed_recipients_only_is_suppressed_and_found_by_its_key(
    app: App, statuses: FakeStatusStore, suppression: FakeSuppressionList
) -> None:
    """GIVEN every recipient suppressed WHEN the message is refused THEN a `suppressed` record
    naming each recipient (masked) as suppressed is found by the key."""
    suppression.add(Suppression(address=RECIPIENT, reason=SuppressionReason.COMPLAINT))

    assert app.handle(message(), FakeContext())["statusCode"] == 422

    record = query(statuses).find(KEY)
    assert record is not None
    assert record.status is Status.SUPPRESSED
    assert {r.masked: r.status for r in record.recipients.values()} == {
        "r***@example.com": Status.SUPPRESSED
    }


@pytest.mark.parametrize(
    "error",
    [
        SendThrottled("Maximum sending rate exceeded."),
        DependencyUnavailable("SES unreachable"),
        SendingPaused("Sending paused for this account.", code="AccountSendingPausedException"),
    ],
)
def test_a_failure_that_is_retried_leaves_no_record(
    app: App,
    statuses: FakeStatusStore,
    callbacks: FakeStatusCallbacks,
    mailer: FakeMailer,
    error: Exception,
) -> None:
    """GIVEN SES throttles, is unreachable or has paused sending WHEN the message fails THEN no
    record and no callback: the message is retried, and its outcome is still to come."""
    mailer.errors.append(error)  # type: ignore[arg-type]

    app.handle(message(), FakeContext())

    assert query(statuses).find(KEY) is None
    assert callbacks.published == []


def test_an_idempotency_conflict_leaves_no_record(
    app: App, statuses: FakeStatusStore, callbacks: FakeStatusCallbacks
) -> None:
    """GIVEN a message sent under a key WHEN a different message reuses the key (409) THEN no
    record is made for it: the key still finds the first message's record, unchanged, and
    nothing is published."""
    app.handle(message(), FakeContext())
    first = record_of(statuses)

    response = app.handle(message(subject="Une autre facture"), FakeContext())

    assert response["statusCode"] == 409
    assert query(statuses).find(KEY) == first
    assert callbacks.statuses == ["sent"]


def test_a_sent_message_sent_again_once_suppressed_keeps_its_record(
    app: App, statuses: FakeStatusStore, callbacks: FakeStatusCallbacks, mailer: FakeMailer
) -> None:
    """GIVEN a message sent under a key, whose recipient then bounced for good (suppressed)
    WHEN the same message comes again (a producer's retry; SQS redelivering after a timeout)
    THEN it is refused as suppressed, but the key still finds the sent message's record
    (`bounced`), and no `suppressed` callback claims that nothing was sent."""
    app.handle(message(), FakeContext())
    app.handle(sns_with(about_sent("event_bounce")), FakeContext())
    bounced = record_of(statuses)

    assert app.handle(message(), FakeContext())["statusCode"] == 422

    assert query(statuses).find(KEY) == bounced
    assert callbacks.statuses == ["sent", "bounced"]
    assert len(mailer.sent) == 1
