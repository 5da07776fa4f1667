"""Waiting spends no receive: deferral and the bulk lane on LocalStack's SQS, no fakes of SQS.

The queues here dead-letter a message on its SECOND receive (`maxReceiveCount` 1): a message
put back with `ChangeMessageVisibility` alone would be dead-lettered by its first wait. The
function is the real composition root with the real SQS adapter, polled by the local runner
(devtools/runner) as Lambda's event source mapping would; only SES is a fake, one that
throttles the first sends, so that the message must wait.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import boto3
import pytest
from structlog.testing import capture_logs

from devtools.invoice import invoice_message
from devtools.runner.invokers import InProcessFunction
from devtools.runner.poller import Runner
from devtools.runner.queue import SqsQueue
from notifier.adapters.inbound.message import parse_message
from notifier.adapters.outbound.sqs import SqsEmailQueue
from notifier.domain.errors import SendThrottled
from notifier.entrypoints.app import App
from notifier.entrypoints.bootstrap import bootstrap
from notifier.entrypoints.settings import Settings
from tests.fakes import FakeMailer
from tests.support.localstack import LocalStack

pytestmark = pytest.mark.timeout(120)


@pytest.fixture
def queues(localstack: LocalStack) -> Iterator[dict[str, str]]:
    """The transactional and bulk queues, each dead-lettering on the second receive."""
    sqs = boto3.client("sqs")
    run = uuid.uuid4().hex[:6]
    urls = {}
    for lane in ("email", "bulk"):
        dlq = sqs.create_queue(QueueName=f"defer-{run}-{lane}-dlq")["QueueUrl"]
        dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"][
            "QueueArn"
        ]
        redrive = json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": 1})
        urls[lane] = sqs.create_queue(
            QueueName=f"defer-{run}-{lane}",
            Attributes={"VisibilityTimeout": "5", "RedrivePolicy": redrive},
        )["QueueUrl"]
        urls[f"{lane}-dlq"] = dlq
    yield urls
    for url in urls.values():
        sqs.delete_queue(QueueUrl=url)


class Recorded:
    """The function in process, keeping every event it is given."""

    def __init__(self, app: App) -> None:
        self.function = InProcessFunction(app)
        self.events: list[Mapping[str, Any]] = []

    def invoke(self, event: Mapping[str, Any], *, budget_seconds: float) -> Any:
        self.events.append(event)
        return self.function.invoke(event, budget_seconds=budget_seconds)


def drain(
    app: App | Recorded, url: str, until: Callable[[], bool], timeout_s: float = 60.0
) -> None:
    """Poll `url` as Lambda's event source mapping would (long polls of 1 s), until `until()`."""
    queue = SqsQueue.connect(boto3.client("sqs"), url=url)
    function = app if isinstance(app, Recorded) else InProcessFunction(app)
    runner = Runner(queue=queue, function=function, report=lambda _line: None)
    deadline = time.monotonic() + timeout_s
    while not until():
        assert time.monotonic() < deadline, "not within the time allowed"
        messages = queue.receive(max_messages=10, wait_seconds=1)
        if messages:
            runner.handle(messages)


def visible(url: str) -> int:
    attributes = boto3.client("sqs").get_queue_attributes(
        QueueUrl=url,
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    return int(attributes["ApproximateNumberOfMessages"]) + int(
        attributes["ApproximateNumberOfMessagesNotVisible"]
    )


def test_a_message_that_waits_twice_is_sent_once_and_never_dead_lettered(
    queues: dict[str, str],
) -> None:
    """GIVEN a queue that dead-letters on the second receive, and SES throttling the first
    two sends past the function's retries
    WHEN the message is polled as Lambda would poll it
    THEN it is put back twice (a fresh copy each time, its deferrals counted in an attribute),
    then sent exactly once; the dead-letter queue is empty; the body is the producer's, intact."""
    throttled = [SendThrottled("Maximum sending rate exceeded.") for _ in range(2)]
    mailer = FakeMailer(*throttled)
    app = bootstrap(
        Settings(queue_url=queues["email"], bulk_queue_url=queues["bulk"], ses_max_attempts=1),
        mailer=mailer,
        configure_logs=False,
    )
    body = json.dumps(invoice_message(idempotency_key=f"wait-{uuid.uuid4().hex}"))
    boto3.client("sqs").send_message(QueueUrl=queues["email"], MessageBody=body)

    with capture_logs() as logs:
        drain(app, queues["email"], lambda: len(mailer.sent) == 1)

    deferred = [line for line in logs if line.get("outcome") == "deferred"]
    assert [(d["reason"], d["deferrals"], d["receive_counted"]) for d in deferred] == [
        ("throttled", 1, False),
        ("throttled", 2, False),
    ]
    assert 2 <= deferred[0]["delay_seconds"] <= 4
    assert 4 <= deferred[1]["delay_seconds"] <= 8
    assert len(mailer.sent) == 1
    assert mailer.sent[0].destinations == ("user@example.com",)
    assert (visible(queues["email"]), visible(queues["email-dlq"])) == (0, 0)


def test_a_bulk_message_on_the_email_queue_is_forwarded_and_sent_from_the_bulk_lane(
    queues: dict[str, str],
) -> None:
    """GIVEN a bulk message sent to the transactional queue
    WHEN the transactional lane handles it THEN it is not sent there but moved to the bulk
    queue; WHEN the bulk lane handles it THEN it is sent, its body and attributes intact."""
    mailer = FakeMailer()
    app = bootstrap(
        Settings(queue_url=queues["email"], bulk_queue_url=queues["bulk"]),
        mailer=mailer,
        configure_logs=False,
    )
    body = json.dumps(invoice_message(priority="bulk"))
    attributes = {"campaign": {"DataType": "String", "StringValue": "winter"}}
    boto3.client("sqs").send_message(
        QueueUrl=queues["email"], MessageBody=body, MessageAttributes=attributes
    )

    drain(app, queues["email"], lambda: visible(queues["email"]) == 0)
    assert mailer.sent == []
    bulk = Recorded(app)
    drain(bulk, queues["bulk"], lambda: len(mailer.sent) == 1)

    (event,) = bulk.events
    (record,) = event["Records"]
    assert record["body"] == body
    assert record["messageAttributes"]["campaign"]["stringValue"] == "winter"
    assert (visible(queues["email-dlq"]), visible(queues["bulk-dlq"])) == (0, 0)


def test_the_enqueue_route_puts_bulk_mail_on_the_bulk_queue(queues: dict[str, str]) -> None:
    """POST /v1/emails/enqueue's adapter: a bulk message goes on the bulk queue, any other on
    the email queue, each as the producer wrote it."""
    sqs = boto3.client("sqs")
    queue = SqsEmailQueue(lambda: sqs, queues["email"], bulk_queue_url=queues["bulk"])

    queue.enqueue(parse_message(invoice_message(priority="bulk", subject="bulk")))
    queue.enqueue(parse_message(invoice_message(subject="transactional")))

    def subjects(url: str) -> list[str]:
        received = sqs.receive_message(QueueUrl=url, WaitTimeSeconds=2).get("Messages", [])
        return [json.loads(m["Body"])["subject"] for m in received]

    assert (subjects(queues["bulk"]), subjects(queues["email"])) == (["bulk"], ["transactional"])


def test_a_queue_of_no_lane_gets_its_copies_back_too(
    queues: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """`serve --queue-url` on a queue the settings do not name: the copy still goes back on
    the queue the message came from, not elsewhere; also when the function's credentials are
    another account's than the queue's (LocalStack reads the account from the access key)."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIASOAKPLANTED00001")
    mailer = FakeMailer(SendThrottled("Maximum sending rate exceeded."))
    app = bootstrap(Settings(ses_max_attempts=1), mailer=mailer, configure_logs=False)
    body = json.dumps(invoice_message(idempotency_key=f"no-lane-{uuid.uuid4().hex}"))
    boto3.client("sqs").send_message(QueueUrl=queues["email"], MessageBody=body)

    drain(app, queues["email"], lambda: len(mailer.sent) == 1, timeout_s=20)

    assert (visible(queues["email"]), visible(queues["email-dlq"])) == (0, 0)
