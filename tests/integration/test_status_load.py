"""1,000 messages and their 2,000 SES events, in any order, through concurrent invocations.

The real handler and the real DynamoDB adapters (moto's server) with four execution
environments at once, as Lambda runs them; only SES is a stand-in, which names each message
in advance (`ses-<n>`), so that a message's events can be delivered before the message itself
is sent. Every record of the shuffled stream goes in SQS batches of 10; what a batch reports
failed is delivered again, as SQS would. A tenth of the events are delivered twice.
"""

from __future__ import annotations

import json
import random
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import boto3
import pytest

from notifier.adapters.outbound.dynamodb.status import DynamoDbStatusStore
from notifier.domain.idempotency import scoped_key
from notifier.domain.status import Status
from notifier.entrypoints.app import App
from notifier.entrypoints.bootstrap import bootstrap
from notifier.entrypoints.settings import Settings
from tests.fakes import FakeAttachmentStore, FakeContext, FakeMetrics
from tests.support.localstack import LocalStack

pytestmark = pytest.mark.timeout(300)

MESSAGES = 1000
ENVIRONMENTS = 4  # concurrent invocations, each its own App
REDELIVERED = 0.1  # share of the events delivered twice
MAX_ROUNDS = 20  # redeliveries of failed records before the test gives up
SENDER = "noreply@acubeapi.com"
FEEDBACK_TOPIC = "arn:aws:sns:us-east-1:000000000000:load-feedback"
# The second event of message n, the message's status it leaves, and its recipient's. None of
# them suppresses the address (a complaint or a permanent bounce would, and then a message
# whose events the shuffle put first would rightly not be sent: that is tested elsewhere).
OUTCOMES = (
    ("Delivery", Status.DELIVERED, Status.DELIVERED),
    ("DeliveryDelay", Status.DELAYED, Status.DELAYED),
    ("Bounce", Status.BOUNCED, Status.BOUNCED),  # transient: one bounce suppresses nobody
    ("Reject", Status.REJECTED, Status.SENT),  # the message's status, not the recipient's
)


class NamingMailer:
    """SES as the test needs it: message n (its subject says n) gets the id `ses-<n>`."""

    def send_raw(self, *, raw: bytes, source: str, destinations: tuple[str, ...], **_: Any) -> str:
        subject = next(line for line in raw.split(b"\r\n") if line.startswith(b"Subject: "))
        return f"ses-{subject.rsplit(b' ', 1)[1].decode()}"


@pytest.fixture
def table(localstack: LocalStack) -> Iterator[str]:
    name = f"load-{uuid.uuid4().hex[:12]}"
    dynamodb = boto3.client("dynamodb")
    dynamodb.create_table(
        TableName=name,
        BillingMode="PAY_PER_REQUEST",
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
    )
    yield name
    dynamodb.delete_table(TableName=name)


def app(table: str) -> App:
    """One execution environment: its own App, the shared state table."""
    return bootstrap(
        Settings(state_table=table, feedback_topic_arns=(FEEDBACK_TOPIC,)),
        mailer=NamingMailer(),
        attachments=FakeAttachmentStore(),
        metrics=FakeMetrics(),
        configure_logs=False,
    )


def recipient(n: int) -> str:
    return f"client-{n}@example.com"


def send_body(n: int) -> str:
    return json.dumps(
        {
            "sender": SENDER,
            "recipients": [recipient(n)],
            "subject": f"Facture {n}",
            "text_content": f"La facture #{n} est disponible.",
            "idempotency_key": f"invoice-{n}",
        }
    )


def event_body(n: int, kind: str) -> str:
    """An SES event (event publishing format) in its SNS envelope, from the feedback topic."""
    mail = {
        "timestamp": "2026-12-03T08:00:00.000Z",
        "source": SENDER,
        "messageId": f"ses-{n}",
        "destination": [recipient(n)],
    }
    at = f"2026-12-03T08:00:{1 + (kind != 'Send'):02d}.000Z"
    details: dict[str, Any] = {
        "Send": {},
        "Delivery": {"timestamp": at, "recipients": [recipient(n)]},
        "DeliveryDelay": {
            "delayType": "MailboxFull",
            "delayedRecipients": [{"emailAddress": recipient(n), "status": "4.2.2"}],
            "timestamp": at,
        },
        "Bounce": {
            "bounceType": "Transient",
            "bounceSubType": "MailboxFull",
            "bouncedRecipients": [{"emailAddress": recipient(n)}],
            "timestamp": at,
            "feedbackId": f"bounce-{n}",
        },
        "Reject": {"reason": "Bad content"},
    }
    event = {"eventType": kind, "mail": mail, kind[0].lower() + kind[1:]: details[kind]}
    return json.dumps(
        {
            "Type": "Notification",
            "MessageId": str(uuid.uuid4()),
            "TopicArn": FEEDBACK_TOPIC,
            "Message": json.dumps(event),
        }
    )


def sqs_batch(bodies: list[str]) -> dict[str, Any]:
    return {
        "Records": [
            {
                "messageId": f"r{i}",
                "receiptHandle": f"h{i}",
                "body": body,
                "attributes": {},
                "messageAttributes": {},
                "md5OfBody": "",
                "eventSource": "aws:sqs",
                "eventSourceARN": "arn:aws:sqs:us-east-1:000000000000:load",
                "awsRegion": "us-east-1",
            }
            for i, body in enumerate(bodies)
        ]
    }


def test_every_final_status_is_right_whatever_the_order(table: str) -> None:
    """GIVEN 1,000 messages and 2,000 events (Send, then Delivery, DeliveryDelay, a transient
    Bounce or Reject), a tenth of the events twice, all shuffled into one stream
    WHEN four concurrent environments handle it in batches of 10, failed records redelivered
    THEN every message's record has the final status its events call for, per recipient,
    and is found by its idempotency key: nothing lost, nothing double-counted."""
    rng = random.Random(20261203)  # noqa: S311 - a reproducible shuffle, not a secret
    stream = [send_body(n) for n in range(MESSAGES)]
    for n in range(MESSAGES):
        events = [event_body(n, "Send"), event_body(n, OUTCOMES[n % len(OUTCOMES)][0])]
        stream += events + [e for e in events if rng.random() < REDELIVERED]
    rng.shuffle(stream)
    environments = [app(table) for _ in range(ENVIRONMENTS)]

    pending = stream
    with ThreadPoolExecutor(max_workers=ENVIRONMENTS) as pool:
        for _round in range(MAX_ROUNDS):
            batches = [pending[i : i + 10] for i in range(0, len(pending), 10)]
            results = pool.map(
                lambda job: (
                    job[1],
                    environments[job[0] % ENVIRONMENTS].handle(
                        sqs_batch(job[1]), FakeContext(remaining_ms=60_000)
                    ),
                ),
                enumerate(batches),
            )
            pending = [
                bodies[int(failure["itemIdentifier"][1:])]
                for bodies, response in results
                for failure in response["batchItemFailures"]
            ]
            if not pending:
                break
    assert pending == [], f"{len(pending)} records still failing after {MAX_ROUNDS} rounds"

    statuses = DynamoDbStatusStore(boto3.client("dynamodb"), table)
    wrong = {}
    for n in range(MESSAGES):
        record = statuses.find(scoped_key(SENDER, f"invoice-{n}"))
        _kind, message_status, recipient_status = OUTCOMES[n % len(OUTCOMES)]
        got = (
            None
            if record is None
            else (
                record.ses_message_id,
                record.status,
                [r.status for r in record.recipients.values()],
            )
        )
        if got != (f"ses-{n}", message_status, [recipient_status]):
            wrong[n] = got
    assert wrong == {}
