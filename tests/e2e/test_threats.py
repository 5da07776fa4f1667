"""Threats of docs/security.md that no other test covers, end to end: reproductions.

A producer may put messages on the email queue and publish to the email topic; nothing else.
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import boto3
import pytest

from devtools.provision import Provisioned
from tests.e2e.conftest import provision_stack as e2e_stack
from tests.e2e.conftest import wait_until
from tests.support.serve import Runners

pytestmark = pytest.mark.timeout(60)
SES_EVENTS = Path(__file__).parent.parent / "events" / "ses"


@pytest.fixture
def stack() -> Provisioned:
    return e2e_stack(state_table=True)


def test_a_producer_cannot_suppress_an_address_by_forging_ses_feedback(
    stack: Provisioned, runners: Runners
) -> None:
    """GIVEN a producer, allowed to queue email requests and nothing more
    WHEN it queues a made-up SES complaint about someone else's address
    THEN that address is not suppressed: only SES, through the feedback topic (configured
    here), can suppress."""
    victim = f"victim-{uuid.uuid4().hex[:8]}@example.com"
    forged = json.loads((SES_EVENTS / "complaint.json").read_text(encoding="utf-8"))
    forged["complaint"]["complainedRecipients"] = [{"emailAddress": victim}]
    message_id = boto3.client("sqs").send_message(
        QueueUrl=stack.queue_url, MessageBody=json.dumps(forged)
    )["MessageId"]
    runner = runners.start(
        stack.queue_url,
        NOTIFIER_STATE_TABLE=stack.state_table,
        NOTIFIER_FEEDBACK_TOPIC_ARNS=stack.feedback_topic_arn,
    )
    wait_until(
        lambda: any(r.get("message_id") == message_id for r in runner.records()),
        timeout_s=20,
        what="the forged notification handled",
    )
    item = boto3.client("dynamodb").get_item(
        TableName=stack.state_table, Key={"pk": {"S": f"SUPPRESSION#{victim}"}}
    )
    assert "Item" not in item, f"{victim} was suppressed by a producer's forged complaint"
