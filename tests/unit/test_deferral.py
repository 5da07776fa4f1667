"""A message that must wait is put back, not failed; a bulk one goes to the bulk lane.

notifier/domain/deferral.py says why a fresh copy and not `ChangeMessageVisibility`;
tests/integration/test_deferral.py holds it on LocalStack's SQS.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from structlog.testing import capture_logs

from notifier.adapters.inbound.events import sns_messages, sqs_messages
from notifier.domain.deferral import (
    MAX_DELAY_SECONDS,
    MessageAttribute,
    QueuedMessage,
    deferral_delay,
)
from notifier.domain.errors import DependencyUnavailable, SendThrottled
from notifier.domain.limits import parse_limits
from notifier.domain.model import Priority
from notifier.entrypoints.app import App, RecordsFailed
from tests.fakes import FakeContext, FakeLimitStore, FakeMailer, FakeMetrics, FakeRequeue
from tests.unit.conftest import seed_message
from tests.unit.test_handler import load_event, sqs_event

EMAIL_QUEUE = "arn:aws:sqs:us-east-1:123456789012:notifier-queue"  # tests/events/sqs.json's
BULK_QUEUE = "arn:aws:sqs:us-east-1:123456789012:notifier-bulk"


def queued_event(body: dict[str, Any], *, receive_count: int = 1, **record: Any) -> dict[str, Any]:
    event = sqs_event(json.dumps(body))
    event["Records"][0]["attributes"]["ApproximateReceiveCount"] = str(receive_count)
    event["Records"][0].update(record)
    return event


def sns_event(body: dict[str, Any]) -> dict[str, Any]:
    event = load_event("sns.json")
    event["Records"][0]["Sns"]["Message"] = json.dumps(body)
    return event


def processed(logs: list[dict[str, Any]]) -> dict[str, Any]:
    (line,) = [line for line in logs if line["event"] == "email.processed"]
    return line


@pytest.mark.parametrize(
    ("retry_after", "deferrals", "jitter", "expected"),
    [
        (0.0, 0, 0.0, 2),  # the first wait: 2 s
        (0.0, 0, 0.999, 4),  # spread up to twice that
        (0.0, 3, 0.0, 16),  # doubling with each deferral
        (30.0, 0, 0.0, 30),  # never before the limit allows
        (0.4, 1, 0.5, 6),
        (20_000.0, 0, 0.0, MAX_DELAY_SECONDS),  # a day's limit: re-checked every 15 min
        (0.0, 40, 0.0, MAX_DELAY_SECONDS),
    ],
)
def test_the_delay_doubles_with_each_deferral_and_respects_retry_after(
    retry_after: float, deferrals: int, jitter: float, expected: int
) -> None:
    """Whole seconds, within SQS's 900 s DelaySeconds."""
    assert deferral_delay(retry_after, deferrals, jitter=lambda: jitter) == expected


def test_a_throttled_message_is_put_back_as_a_copy_and_not_failed(
    app: App, mailer: FakeMailer, requeue: FakeRequeue, metrics: FakeMetrics
) -> None:
    """GIVEN SES throttling past the retries WHEN a message on its first receive is handled
    THEN a copy goes back on its queue with a delay and one deferral counted, the original is
    reported processed (deleted), and the line and metrics say deferred, not failed."""
    mailer.errors.append(SendThrottled("Maximum sending rate exceeded."))

    with capture_logs() as logs:
        response = app.handle(queued_event(seed_message()), FakeContext())

    assert response == {"batchItemFailures": []}
    ((message, lane, delay, deferrals),) = requeue.put
    assert (message.source_arn, lane, deferrals) == (EMAIL_QUEUE, Priority.TRANSACTIONAL, 1)
    assert 2 <= delay <= 4
    assert json.loads(message.body) == seed_message()
    line = processed(logs)
    assert (line["outcome"], line["reason"], line["receive_counted"]) == (
        "deferred",
        "throttled",
        False,
    )
    assert line["copy_message_id"] == "fake-copy-1"  # the message goes on under this id
    assert metrics.total("EmailsDeferred", reason="throttled") == 1
    assert metrics.total("EmailsFailed") == 0
    assert mailer.sent == []


def test_the_count_of_deferrals_carries_over_from_the_copy(
    app: App, mailer: FakeMailer, requeue: FakeRequeue
) -> None:
    """A copy deferred twice before (its `notifier-deferrals` attribute) waits longer and is
    marked a third time; its other attributes go with it."""
    mailer.errors.append(SendThrottled("Maximum sending rate exceeded."))
    attributes = {
        "notifier-deferrals": {"stringValue": "2", "dataType": "Number"},
        "campaign": {"stringValue": "winter", "dataType": "String"},
    }

    app.handle(queued_event(seed_message(), messageAttributes=attributes), FakeContext())

    ((message, _lane, delay, deferrals),) = requeue.put
    assert (message.deferrals, deferrals) == (2, 3)
    assert 8 <= delay <= 16
    assert MessageAttribute(name="campaign", data_type="String", value="winter") in (
        message.attributes
    )


def test_a_copy_carries_the_real_failures_and_only_those(
    app: App, mailer: FakeMailer, requeue: FakeRequeue
) -> None:
    """GIVEN a copy that failed once before it was put back, now on its second receive (it
    failed once more) WHEN it must wait again THEN the new copy carries 2 real failures: the
    receives spent waiting are not among them (maxReceiveCount 3)."""
    mailer.errors.append(SendThrottled("Maximum sending rate exceeded."))
    failed_once = {"notifier-failures": {"stringValue": "1", "dataType": "Number"}}

    event = queued_event(seed_message(), receive_count=2, messageAttributes=failed_once)
    with capture_logs() as logs:
        assert app.handle(event, FakeContext()) == {"batchItemFailures": []}

    assert requeue.failures == [2]
    assert requeue.held == []
    assert processed(logs)["receive_counted"] is False


def test_a_message_that_failed_max_receive_count_times_waits_the_counted_way(
    app: App, mailer: FakeMailer, requeue: FakeRequeue
) -> None:
    """GIVEN a message whose real failures reach maxReceiveCount (3: 1 carried, 2 receives
    before this one) WHEN it must wait THEN no copy is made (it would reset SQS's count): the
    original is held back for the delay and reported failed, so SQS ends it in the DLQ."""
    mailer.errors.append(SendThrottled("Maximum sending rate exceeded."))
    failed_once = {"notifier-failures": {"stringValue": "1", "dataType": "Number"}}

    event = queued_event(seed_message(), receive_count=3, messageAttributes=failed_once)
    with capture_logs() as logs:
        response = app.handle(event, FakeContext())

    assert response == {"batchItemFailures": [{"itemIdentifier": "m0"}]}
    assert requeue.put == []
    ((message, delay),) = requeue.held
    assert (message.receive_count, message.real_failures) == (3, 3)
    assert 2 <= delay <= 4
    assert processed(logs)["receive_counted"] is True


def test_when_the_copy_cannot_be_sent_the_original_stays(
    make_app: Callable[..., App], mailer: FakeMailer, requeue: FakeRequeue
) -> None:
    """GIVEN SQS refusing the copy WHEN a message must wait THEN the original is held back and
    reported failed: never deleted without its copy."""
    mailer.errors.append(SendThrottled("Maximum sending rate exceeded."))
    requeue.errors.append(DependencyUnavailable("SQS SendMessage failed (ServiceUnavailable)"))

    response = make_app().handle(queued_event(seed_message()), FakeContext())

    assert response == {"batchItemFailures": [{"itemIdentifier": "m0"}]}
    assert [delay for _message, delay in requeue.held] != []


def over_limit_app(make_app: Callable[..., App], limits: str = "campaigns=1/s") -> App:
    """An app whose producer `campaigns` may send one recipient a second and never wait."""
    return make_app(
        limits=FakeLimitStore(),
        producer_limits=parse_limits(limits),
        limit_max_wait_seconds=0,
    )


def test_a_producer_over_its_limit_is_put_back_until_it_may_send(
    make_app: Callable[..., App], mailer: FakeMailer, requeue: FakeRequeue
) -> None:
    """GIVEN a producer limited to 1 recipient/s WHEN two of its messages come in one batch
    THEN one is sent and the other put back, at least as long as the limit says (the line
    names the producer); another producer is not held up."""
    app = over_limit_app(make_app)
    campaign = seed_message(tags={"tenant": "campaigns"})
    event = sqs_event(
        json.dumps(campaign),
        json.dumps({**campaign, "subject": "second"}),
        json.dumps(seed_message(subject="someone else")),
    )

    with capture_logs() as logs:
        assert app.handle(event, FakeContext()) == {"batchItemFailures": []}

    assert len(mailer.sent) == 2
    ((_message, _lane, delay, _deferrals),) = requeue.put
    assert 2 <= delay <= 4
    (line,) = [line for line in logs if line.get("outcome") == "deferred"]
    assert (line["reason"], line["producer"]) == ("over_limit", "campaigns")


def test_a_producer_over_its_daily_limit_waits_the_longest_delay(
    make_app: Callable[..., App], mailer: FakeMailer, requeue: FakeRequeue
) -> None:
    """Past the day's limit the copy is delayed SQS's maximum, and checked again then."""
    app = over_limit_app(make_app, "campaigns=1/d")
    campaign = seed_message(tags={"tenant": "campaigns"})

    app.handle(queued_event(campaign), FakeContext())
    app.handle(queued_event({**campaign, "subject": "second"}), FakeContext())

    assert len(mailer.sent) == 1
    ((_message, _lane, delay, _deferrals),) = requeue.put
    assert delay == MAX_DELAY_SECONDS


def test_a_bulk_message_on_the_transactional_queue_is_forwarded_unsent(
    app: App, mailer: FakeMailer, requeue: FakeRequeue, metrics: FakeMetrics
) -> None:
    """GIVEN `"priority": "bulk"` on the email queue WHEN handled THEN it is moved to the bulk
    lane, not sent, and the original deleted."""
    with capture_logs() as logs:
        response = app.handle(queued_event(seed_message(priority="bulk")), FakeContext())

    assert response == {"batchItemFailures": []}
    ((message, lane),) = requeue.forwarded
    assert (message.source_arn, lane) == (EMAIL_QUEUE, Priority.BULK)
    assert mailer.sent == []
    line = processed(logs)
    assert (line["outcome"], line["lane"], line["copy_message_id"]) == (
        "forwarded",
        "bulk",
        "fake-copy-1",
    )
    assert metrics.total("EmailsForwarded", reason="bulk") == 1


def test_a_bulk_message_on_the_bulk_queue_is_sent(
    make_app: Callable[..., App], mailer: FakeMailer, requeue: FakeRequeue
) -> None:
    """On its own lane a bulk message is sent like any other."""
    requeue.lanes[BULK_QUEUE] = Priority.BULK

    event = queued_event(seed_message(priority="bulk"), eventSourceARN=BULK_QUEUE)
    assert make_app().handle(event, FakeContext()) == {"batchItemFailures": []}

    assert requeue.forwarded == []
    assert len(mailer.sent) == 1


def test_without_a_bulk_queue_bulk_mail_is_sent_where_it_arrives(
    make_app: Callable[..., App], mailer: FakeMailer, requeue: FakeRequeue
) -> None:
    """NOTIFIER_BULK_QUEUE_URL unset: nowhere to forward to, so nothing is held up."""
    requeue.configured = False

    make_app().handle(queued_event(seed_message(priority="bulk")), FakeContext())

    assert len(mailer.sent) == 1


def test_bulk_mail_published_to_the_topic_goes_to_the_bulk_queue(
    app: App, mailer: FakeMailer, requeue: FakeRequeue
) -> None:
    """The SNS entry routes by the field too: the message is queued on the bulk lane, and the
    invocation succeeds."""
    assert app.handle(sns_event(seed_message(priority="bulk")), FakeContext()) == {"processed": 1}

    ((message, lane),) = requeue.forwarded
    assert (message.source_arn, lane) == ("", Priority.BULK)
    assert mailer.sent == []


def test_a_throttled_message_from_the_topic_is_queued_for_later(
    app: App, mailer: FakeMailer, requeue: FakeRequeue
) -> None:
    """From SNS there is no queue to put it back on: it goes on its lane's queue, delayed,
    instead of failing the invocation (Lambda would retry it at once, twice, then give up)."""
    mailer.errors.append(SendThrottled("Maximum sending rate exceeded."))

    assert app.handle(sns_event(seed_message()), FakeContext()) == {"processed": 1}

    ((message, lane, delay, deferrals),) = requeue.put
    assert (message.source_arn, lane, deferrals) == ("", Priority.TRANSACTIONAL, 1)
    assert delay >= 2


def test_a_throttled_topic_message_without_a_queue_fails_the_invocation(
    make_app: Callable[..., App], mailer: FakeMailer, requeue: FakeRequeue
) -> None:
    """No lane's queue configured: the record fails as before, and Lambda's asynchronous
    retries and failure destination keep it."""
    mailer.errors.append(SendThrottled("Maximum sending rate exceeded."))
    requeue.errors.append(DependencyUnavailable("no queue is configured for the lane"))

    with pytest.raises(RecordsFailed):
        make_app().handle(sns_event(seed_message()), FakeContext())


def test_a_direct_caller_over_its_limit_is_told_when_to_retry(
    make_app: Callable[..., App], mailer: FakeMailer, requeue: FakeRequeue
) -> None:
    """A direct invocation over the limit answers 429 with the whole seconds to wait and why;
    nothing is queued on its behalf."""
    app = over_limit_app(make_app, "acubeapi.com=0.5/s")
    assert app.handle(seed_message(), FakeContext())["statusCode"] == 200

    response = app.handle(seed_message(subject="again"), FakeContext())

    assert (response["statusCode"], response["retryAfter"]) == (429, 2)
    assert response["errors"] == [
        {
            "field": None,
            "message": "producer acubeapi.com is over its limit of 0.5 recipients/s; retry in 2 s",
        }
    ]
    assert requeue.put == []
    assert len(mailer.sent) == 1


def test_records_carry_what_a_copy_needs() -> None:
    """SQS: body, attributes (binary in base64), source queue, receipt, receive count and
    deferrals; SNS: the message and its attributes (a list type becomes a String)."""
    event = sqs_event(json.dumps(seed_message()))
    record = event["Records"][0]
    record["attributes"]["ApproximateReceiveCount"] = "3"
    record["messageAttributes"] = {
        "blob": {"binaryValue": "AAE=", "dataType": "Binary"},
        "notifier-deferrals": {"stringValue": "4", "dataType": "Number"},
    }
    (inbound,) = sqs_messages(event, feedback_topics=())
    assert inbound.queued == QueuedMessage(
        body=record["body"],
        attributes=(
            MessageAttribute(name="blob", data_type="Binary", value="AAE="),
            MessageAttribute(name="notifier-deferrals", data_type="Number", value="4"),
        ),
        source_arn=EMAIL_QUEUE,
        receipt_handle=record["receiptHandle"],
        receive_count=3,
        deferrals=4,
    )

    sns = load_event("sns.json")
    sns["Records"][0]["Sns"]["MessageAttributes"]["teams"] = {
        "Type": "String.Array",
        "Value": '["a","b"]',
    }
    (inbound,) = sns_messages(sns, feedback_topics=())
    assert inbound.queued is not None
    assert inbound.queued.body == sns["Records"][0]["Sns"]["Message"]
    assert MessageAttribute(name="teams", data_type="String", value='["a","b"]') in (
        inbound.queued.attributes
    )
