"""Never twice, never to a dead address: idempotency and suppression end to end.

SQS/SNS on LocalStack, the state table on moto's DynamoDB, the runner and the real handler.
Each test provisions its own queue, topics and state table.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import boto3
import pytest

from devtools.provision import Provisioned
from devtools.runner.invokers import InProcessFunction
from notifier.adapters.inbound.message import parse_message
from notifier.adapters.outbound.dynamodb import DynamoDbIdempotencyStore
from notifier.domain.idempotency import idempotency_key, payload_hash
from notifier.domain.state import IdempotencyRecord, RecordStatus
from notifier.entrypoints.bootstrap import bootstrap
from notifier.entrypoints.cli import main
from tests.e2e.conftest import (
    SENDER,
    VISIBILITY_TIMEOUT,
    BackgroundRunner,
    message,
    provision_stack,
    start_runner,
    wait_until,
)
from tests.support.ses_outbox import SesOutbox
from tests.support.sqs import queue_depth

pytestmark = pytest.mark.timeout(90)
SES_EVENTS = Path(__file__).parent.parent / "events" / "ses"


@pytest.fixture
def stack(monkeypatch: pytest.MonkeyPatch) -> Provisioned:
    """This test's resources with its own state table, which the handler is given."""
    provisioned = provision_stack(state_table=True)
    monkeypatch.setenv("NOTIFIER_STATE_TABLE", provisioned.state_table)
    monkeypatch.setenv("NOTIFIER_FEEDBACK_TOPIC_ARNS", provisioned.feedback_topic_arn)
    return provisioned


def queue(stack: Provisioned, *bodies: dict[str, Any]) -> None:
    sqs = boto3.client("sqs")
    for body in bodies:
        sqs.send_message(QueueUrl=stack.queue_url, MessageBody=json.dumps(body))


def drained(stack: Provisioned) -> bool:
    return queue_depth(stack.queue_url) == (0, 0)


def publish_feedback(stack: Provisioned, name: str, **recipients: str) -> None:
    """Publish an SES notification from the documentation, its recipients replaced."""
    notification = json.loads((SES_EVENTS / f"{name}.json").read_text(encoding="utf-8"))
    detail = notification[notification["notificationType"].lower()]
    key = "bouncedRecipients" if "bouncedRecipients" in detail else "complainedRecipients"
    detail[key] = [{"emailAddress": address} for address in recipients.values()]
    boto3.client("sns").publish(TopicArn=stack.feedback_topic_arn, Message=json.dumps(notification))


def suppressed(stack: Provisioned, address: str) -> bool:
    item = boto3.client("dynamodb").get_item(
        TableName=stack.state_table, Key={"pk": {"S": f"SUPPRESSION#{address}"}}
    )
    return "Item" in item


def test_the_same_message_queued_twice_is_sent_once(
    stack: Provisioned, runner: BackgroundRunner, ses_outbox: SesOutbox
) -> None:
    """GIVEN one logical email enqueued twice (two SQS message ids)
    THEN one email is sent and both messages leave the queue."""
    token = uuid.uuid4().hex[:8]
    queue(stack, message(token), message(token))
    wait_until(lambda: drained(stack), timeout_s=20, what="both messages handled")
    assert [email.subject for email in ses_outbox.messages()] == [token]


class DiesBeforeDelete:
    """The real handler, then a crash before the runner could delete the batch (as when the
    function times out after SES accepted)."""

    def __init__(self) -> None:
        self.inner = InProcessFunction(bootstrap(configure_logs=False))
        self.calls = 0

    def invoke(self, event: Mapping[str, Any], *, budget_seconds: float) -> Any:
        self.calls += 1
        self.inner.invoke(event, budget_seconds=budget_seconds)
        raise RuntimeError("the function died before the SQS delete")


def test_a_message_redelivered_after_ses_accepted_is_not_sent_again(
    stack: Provisioned, ses_outbox: SesOutbox
) -> None:
    """GIVEN a message whose processing died after SES accepted it and before the delete
    WHEN SQS redelivers it THEN it is recognised as sent: no second email, the queue empties."""
    token = uuid.uuid4().hex[:8]
    queue(stack, message(token))
    dying = DiesBeforeDelete()
    crashing = start_runner(stack, dying)
    wait_until(lambda: dying.calls >= 1, timeout_s=10, what="the first, fatal, invocation")
    crashing.stop.set()
    assert crashing.thread is not None
    crashing.thread.join(timeout=10)
    assert len(ses_outbox.wait_for(1)) == 1
    assert queue_depth(stack.queue_url) == (0, 1)  # not deleted: invisible until the timeout

    healthy = start_runner(stack)
    try:
        wait_until(lambda: drained(stack), timeout_s=20, what="the redelivered message handled")
    finally:
        healthy.close()
    assert [email.subject for email in ses_outbox.messages()] == [token]


def test_a_duplicate_while_the_first_is_in_progress_is_retried_then_a_duplicate(
    stack: Provisioned, runner: BackgroundRunner, ses_outbox: SesOutbox
) -> None:
    """GIVEN another invocation holds the message's key IN_PROGRESS
    WHEN the duplicate arrives THEN it fails (transient) and comes back; once the first has
    completed, it succeeds as a duplicate without a second send."""
    token = uuid.uuid4().hex[:8]
    body = message(token)
    request = parse_message(body)
    content = payload_hash(request)
    key = idempotency_key(request, sender=SENDER, content_hash=content)
    store = DynamoDbIdempotencyStore(boto3.client("dynamodb"), stack.state_table)
    now = time.time()
    first = IdempotencyRecord(
        key=key, status=RecordStatus.IN_PROGRESS, payload_hash=content, expires_at=now + 60
    )
    assert store.claim(first, now=now) is None  # the first invocation, still sending

    queue(stack, body)
    wait_until(
        lambda: any("failed 1" in line for line in runner.lines),
        timeout_s=10,
        what="the duplicate failing while the first is in progress",
    )
    store.complete(
        key, payload_hash=content, ses_message_id="first-invocation-id", expires_at=now + 3600
    )
    wait_until(lambda: drained(stack), timeout_s=20, what="the duplicate accepted")
    assert ses_outbox.messages() == []


@pytest.mark.parametrize("notification", ["bounce_permanent", "complaint"])
def test_feedback_suppresses_an_address_and_only_that_address(
    stack: Provisioned, runner: BackgroundRunner, ses_outbox: SesOutbox, notification: str
) -> None:
    """GIVEN SES feedback for an address, published to the feedback topic
    THEN mail to it alone is not sent, and in a message with others only they receive it."""
    dead = f"dead-{uuid.uuid4().hex[:6]}@example.com"
    publish_feedback(stack, notification, recipient=dead)
    wait_until(lambda: suppressed(stack, dead), timeout_s=15, what=f"{dead} suppressed")

    token = uuid.uuid4().hex[:8]
    queue(
        stack,
        message(f"{token} alone", recipients=[dead]),
        message(f"{token} shared", recipients=[dead], cc=["alive@example.com"]),
    )
    (email,) = ses_outbox.wait_for(1, timeout_s=15)
    assert email.subject == f"{token} shared"
    assert email.recipients == ("alive@example.com",)
    time.sleep(VISIBILITY_TIMEOUT)  # the lone message keeps failing; it is never sent
    assert [e.subject for e in ses_outbox.messages()] == [f"{token} shared"]


def test_the_suppression_cli_removes_an_address_and_mail_flows_again(
    stack: Provisioned, runner: BackgroundRunner, ses_outbox: SesOutbox
) -> None:
    """GIVEN an address suppressed with `suppression add`, a message to it is not sent;
    WHEN `suppression remove` (GDPR) takes it off THEN the retried message reaches it."""
    address = f"gdpr-{uuid.uuid4().hex[:6]}@example.com"
    assert main(["suppression", "add", address]) == 0
    token = uuid.uuid4().hex[:8]
    queue(stack, message(token, recipients=[address]))
    wait_until(
        lambda: any("failed 1" in line for line in runner.lines),
        timeout_s=10,
        what="the message refused while the address is suppressed",
    )
    assert ses_outbox.messages() == []

    assert main(["suppression", "remove", address]) == 0
    (email,) = ses_outbox.wait_for(1, timeout_s=15)
    assert email.recipients == (address,)
    assert email.subject == token
