"""Did my email arrive? Statuses and callbacks end to end, with LocalStack's own SES events.

The stack has a configuration set whose SNS event destination is the feedback topic (which
feeds the email queue): LocalStack publishes real Send and Delivery events there for every
email sent through it. The handler records each status in the state table (moto) and
publishes every change to the status topic, where a producer's queue is subscribed with a
filter policy on its tenant.
"""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from typing import Any

import boto3
import pytest

from devtools.provision import Provisioned
from notifier.adapters.outbound.dynamodb.status import DynamoDbStatusStore
from notifier.domain.status import Status
from tests.e2e.conftest import (
    SENDER,
    BackgroundRunner,
    message,
    provision_stack,
    wait_until,
)
from tests.support.ses_outbox import SesOutbox

pytestmark = pytest.mark.timeout(120)


@pytest.fixture
def stack(monkeypatch: pytest.MonkeyPatch) -> Provisioned:
    """Its own queue, state table, configuration set (events -> feedback topic -> queue) and
    status topic, all given to the handler."""
    provisioned = provision_stack(state_table=True, events=True)
    monkeypatch.setenv("NOTIFIER_STATE_TABLE", provisioned.state_table)
    monkeypatch.setenv("NOTIFIER_FEEDBACK_TOPIC_ARNS", provisioned.feedback_topic_arn)
    monkeypatch.setenv("NOTIFIER_SES_CONFIGURATION_SET", provisioned.configuration_set)
    monkeypatch.setenv("NOTIFIER_STATUS_TOPIC_ARN", provisioned.status_topic_arn)
    return provisioned


@pytest.fixture
def billing_callbacks(stack: Provisioned) -> str:
    """The billing team's own queue, subscribed to the status topic with a filter policy that
    lets only its tenant's changes through (raw delivery: the body is the payload)."""
    sqs, sns = boto3.client("sqs"), boto3.client("sns")
    url = sqs.create_queue(QueueName=f"callbacks-{uuid.uuid4().hex[:12]}")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    sns.subscribe(
        TopicArn=stack.status_topic_arn,
        Protocol="sqs",
        Endpoint=arn,
        Attributes={
            "RawMessageDelivery": "true",
            "FilterPolicy": json.dumps({"tenant": ["billing"], "sender_domain": ["acubeapi.com"]}),
        },
    )
    return url


def status_of(*args: str) -> dict[str, Any] | None:
    """`python -m notifier status ARGS`, as an operator runs it (its own process, this test's
    environment): the record it prints, or None when it exits 1 (unknown)."""
    done = subprocess.run(
        [sys.executable, "-m", "notifier", "status", *args],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    if done.returncode == 1:
        assert done.stderr.startswith("no status for "), done.stderr
        return None
    assert done.returncode == 0, done.stderr
    document: dict[str, Any] = json.loads(done.stdout)
    return document


def callbacks(queue_url: str) -> list[dict[str, Any]]:
    """Every callback waiting on the queue (received and deleted)."""
    sqs = boto3.client("sqs")
    found = []
    while True:
        messages = sqs.receive_message(
            QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=1
        ).get("Messages", [])
        if not messages:
            return found
        for received in messages:
            found.append(json.loads(received["Body"]))
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=received["ReceiptHandle"])


def test_a_queued_email_is_sent_then_delivered_and_its_producer_is_called_back(
    stack: Provisioned,
    runner: BackgroundRunner,
    billing_callbacks: str,
    ses_outbox: SesOutbox,
) -> None:
    """GIVEN two teams' messages queued (tenants billing and support)
    WHEN SES sends them and LocalStack publishes its Send and Delivery events
    THEN each status record reads `delivered`, by SES message id and by idempotency key, and
    the billing team's filtered queue received exactly its own email's changes: `sent` then
    `delivered`, with a masked recipient."""
    token = uuid.uuid4().hex[:8]
    sqs = boto3.client("sqs")
    for tenant in ("billing", "support"):
        body = message(
            f"statut {token} {tenant}", idempotency_key=f"{tenant}-{token}", tags={"tenant": tenant}
        )
        sqs.send_message(QueueUrl=stack.queue_url, MessageBody=json.dumps(body))
    sent = ses_outbox.wait_for(2, matching=lambda email: token in email.subject)
    ids = {email.subject.rsplit(" ", 1)[1]: email.message_id for email in sent}

    statuses = DynamoDbStatusStore(boto3.client("dynamodb"), stack.state_table)

    def delivered(tenant: str) -> bool:
        record = statuses.read(ids[tenant])
        return record is not None and record.status is Status.DELIVERED

    wait_until(
        lambda: delivered("billing") and delivered("support"),
        timeout_s=60,
        what="both emails delivered",
    )
    by_id = status_of(ids["support"])
    assert by_id is not None
    assert (by_id["status"], by_id["tenant"]) == ("delivered", "support")
    record = status_of("--key", f"billing-{token}", "--sender", SENDER)
    assert record is not None
    assert record["ses_message_id"] == ids["billing"]
    assert record["status"] == "delivered"
    assert record["tenant"] == "billing"
    assert record["idempotency_key"] == f"billing-{token}"
    assert [(r["masked"], r["status"]) for r in record["recipients"]] == [
        ("u***@example.com", "delivered")
    ]
    assert "user@example.com" not in json.dumps(record)
    assert status_of("--key", f"nobody-{token}", "--sender", SENDER) is None

    found: list[dict[str, Any]] = []

    def billing_told_of_the_delivery() -> bool:
        found.extend(callbacks(billing_callbacks))
        return "delivered" in {c["status"] for c in found}

    wait_until(billing_told_of_the_delivery, timeout_s=30, what="billing's delivered callback")
    # Callbacks are at least once (a change may be published again, with the same change_id),
    # SQS does not keep order, and a Delivery may beat notifier's own send record (then no
    # `sent` change ever happens): one `delivered`, at most one `sent`, nothing else.
    changes = {c["change_id"]: c for c in found}.values()
    assert {c["ses_message_id"] for c in changes} == {ids["billing"]}
    assert {c["tenant"] for c in changes} == {"billing"}
    assert sorted(c["status"] for c in changes) in (["delivered"], ["delivered", "sent"])
    assert all(c["recipient"]["masked"] == "u***@example.com" for c in found)
    assert "user@example.com" not in json.dumps(found)
