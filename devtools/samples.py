"""The producers' sample invoice message, delivered through SQS and then SNS, each awaited in
the SES outbox: what `make run` shows first."""

from __future__ import annotations

import enum
import functools
import json
import threading
import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from devtools.console import say
from devtools.invoice import invoice_message
from devtools.mailview import OutboxWatcher
from devtools.provision import SAMPLE_ATTACHMENT_KEY, Provisioned

if TYPE_CHECKING:
    from mypy_boto3_sns import SNSClient
    from mypy_boto3_sqs import SQSClient

BUCKET = "acube-invoices"
CHANNEL = "email"  # the topic's subscription filter lets only `channel = email` through
TIMEOUT_S = 30.0  # per sample, from its delivery to its email in the outbox


class Outcome(enum.Enum):
    SHOWN = "both samples reached the SES outbox"
    FAILED = "a sample did not reach the SES outbox"
    INTERRUPTED = "stopped before both samples were shown"


def sample_message(idempotency_key: str) -> dict[str, Any]:
    """The seed's invoice email: text and HTML, the sample PDF attached under a nicer name.
    Each delivery has its own idempotency key: the same invoice sent twice on purpose."""
    return invoice_message(
        idempotency_key=idempotency_key,
        bucket_name=BUCKET,
        attachments=[
            {
                "key": SAMPLE_ATTACHMENT_KEY,
                "filename": "facture-12345.pdf",
                "content_type": "application/pdf",
            }
        ],
    )


def send_via_sqs(sqs: SQSClient, queue_url: str) -> str:
    """Queue the sample as a producer does; returns the SQS message id."""
    body = json.dumps(sample_message(f"sample-sqs-{uuid.uuid4()}"), ensure_ascii=False)
    return sqs.send_message(QueueUrl=queue_url, MessageBody=body)["MessageId"]


def publish_via_sns(sns: SNSClient, topic_arn: str) -> str:
    """Publish the sample with the `channel` attribute; returns the SNS message id."""
    return sns.publish(
        TopicArn=topic_arn,
        Message=json.dumps(sample_message(f"sample-sns-{uuid.uuid4()}"), ensure_ascii=False),
        MessageAttributes={"channel": {"DataType": "String", "StringValue": CHANNEL}},
    )["MessageId"]


class SampleRun:
    """On a thread of its own: the sample through SQS, its email awaited; then through SNS,
    likewise; then `done(outcome)`. The runner must be serving the queue meanwhile."""

    def __init__(
        self,
        *,
        sqs: SQSClient,
        sns: SNSClient,
        stack: Provisioned,
        watcher: OutboxWatcher,
        stopping: Callable[[], bool],
        done: Callable[[Outcome], None],
    ) -> None:
        queue, topic = resource_name(stack.queue_url), resource_name(stack.topic_arn)
        self._routes = [
            (f"SQS queue {queue}", functools.partial(send_via_sqs, sqs, stack.queue_url)),
            (
                f"SNS topic {topic} with channel={CHANNEL}",
                functools.partial(publish_via_sns, sns, stack.topic_arn),
            ),
        ]
        self._watcher = watcher
        self._stopping = stopping
        self._done = done
        self._thread = threading.Thread(target=self._run, name="samples", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def join(self, timeout_s: float) -> None:
        self._thread.join(timeout=timeout_s)

    def _run(self) -> None:
        try:
            outcome = self._deliver()
        except Exception as exc:  # noqa: BLE001 - reported; `done` stops the service
            say(f"the samples failed: {type(exc).__name__}: {exc}", error=True)
            outcome = Outcome.FAILED
        self._done(outcome)

    def _deliver(self) -> Outcome:
        for number, (route, deliver) in enumerate(self._routes, start=1):
            say(f"sample {number} -> {route} (message id {deliver()})")
            if self._watcher.wait_for(number, timeout_s=TIMEOUT_S):
                continue
            if self._stopping():
                return Outcome.INTERRUPTED
            say(
                f"sample {number} did not reach the SES outbox within {TIMEOUT_S:.0f} s. A failed"
                " batch above says why; an ok one, that the handler chose not to send it (a"
                " suppressed recipient, or a duplicate of a message already sent)",
                error=True,
            )
            return Outcome.FAILED
        return Outcome.SHOWN


def resource_name(url_or_arn: str) -> str:
    """A queue's or topic's name: the last segment of its URL or ARN."""
    return url_or_arn.rsplit("/", 1)[-1].rsplit(":", 1)[-1]
