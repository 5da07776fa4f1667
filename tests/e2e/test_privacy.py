"""Privacy in logs, end to end: every line a runner writes, scanned for what must not be there.

The runner is `python -m devtools serve` as a child process, with planted credentials (a fake
access key, a distinctive secret key and session token: LocalStack and moto accept any), at
DEBUG level and with EMF metrics on stdout, so every line it could write is written. Its stdout
and stderr are scanned whole (tests/support/privacy.py) for each full address, body, attachment
content (as text and as base64) and credential the test put in. The fault tests and the soak
scan their runners' logs the same way.
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import boto3
import pytest

from devtools.provision import Provisioned
from notifier.adapters.outbound.dynamodb import DynamoDbSuppressionList
from notifier.domain.state import Suppression, SuppressionReason
from tests.e2e.conftest import BUCKET, SENDER, wait_until
from tests.e2e.conftest import provision_stack as e2e_stack
from tests.support.faultproxy import FaultProxy, Faults
from tests.support.localstack import LocalStack
from tests.support.privacy import ADDRESS
from tests.support.serve import Runners, ServeProcess
from tests.support.ses_outbox import SesOutbox

pytestmark = pytest.mark.timeout(60)
SES_EVENTS = Path(__file__).parent.parent / "events" / "ses"


@pytest.fixture
def stack() -> Provisioned:
    return e2e_stack(state_table=True)


def start(
    runners: Runners, stack: Provisioned, proxy: FaultProxy | None = None, **settings: str
) -> ServeProcess:
    """A runner as chatty as it gets: DEBUG, EMF metrics, SES behind `proxy` if given."""
    if proxy is not None:
        settings["AWS_ENDPOINT_URL_SES"] = proxy.endpoint_url
    return runners.start(
        stack.queue_url,
        NOTIFIER_STATE_TABLE=stack.state_table,
        NOTIFIER_FEEDBACK_TOPIC_ARNS=stack.feedback_topic_arn,
        NOTIFIER_LOG_LEVEL="DEBUG",
        NOTIFIER_METRICS_MODE="emf",
        **settings,
    )


def lines_written(runner: ServeProcess) -> set[tuple[Any, Any, Any]]:
    """(event, outcome, reason) of every JSON line so far."""
    return {(r.get("event"), r.get("outcome"), r.get("reason")) for r in runner.records()}


def handled(runner: ServeProcess) -> set[str]:
    """Message ids with a canonical line (emails) or a feedback line (notifications)."""
    return {
        str(record.get("message_id"))
        for record in runner.records()
        if record.get("event") in {"email.processed", "feedback.processed"}
    }


def test_no_log_line_holds_an_address_a_body_an_attachment_or_a_credential(
    localstack: LocalStack, stack: Provisioned, runners: Runners, ses_outbox: SesOutbox
) -> None:
    """GIVEN a runner (DEBUG, EMF metrics, planted credentials) whose SES calls are throttled
    half the time, and messages down every path: sent with Cc, Bcc, Reply-To, HTML and an S3
    attachment; its duplicate; partly and wholly suppressed recipients; an invalid address; a
    sender outside the allowlist; a sender SES rejects; a body that is not JSON; a header
    injection; a message through the SNS topic; an SES bounce notification
    WHEN each has been handled
    THEN none of the addresses, bodies, attachment content or credentials appears in any line
    the runner wrote (a masked `c***@example.com` is fine)."""
    t = uuid.uuid4().hex[:8]
    attachment = f"ATTACHMENT-{t}: bulletin de salaire, 4 200 EUR net".encode()
    boto3.client("s3").put_object(Bucket=BUCKET, Key=f"privacy/{t}.txt", Body=attachment)
    runners.private.add_content(attachment)
    suppressed = f"gone-{t}@example.com"
    DynamoDbSuppressionList(boto3.client("dynamodb"), stack.state_table).add(
        Suppression(address=suppressed, reason=SuppressionReason.COMPLAINT)
    )

    def mail(**fields: Any) -> dict[str, Any]:
        message = {
            "sender": f"Factures <{SENDER}>",
            "recipients": [f"Client {t} <client-{t}@example.com>"],
            "subject": f"privacy {t}",
            "text_content": f"TEXT-{t}: votre facture est disponible.",
            **fields,
        }
        runners.private.add_message(message)
        return message

    full = mail(
        subject=f"privacy {t} full",
        cc=[f"cc-{t}@example.org"],
        bcc=[f"bcc-{t}@example.net"],
        reply_to=[f"Support <reply-{t}@acubeapi.com>"],
        html_content=f"<p>HTML-{t}: facture disponible.</p>",
        bucket_name=BUCKET,
        attachments=[{"key": f"privacy/{t}.txt", "filename": "bulletin.txt"}],
    )
    bodies = [
        full,
        full,  # a duplicate
        mail(subject=f"privacy {t} partly", recipients=[suppressed, f"alive-{t}@example.com"]),
        mail(subject=f"privacy {t} wholly", recipients=[suppressed]),
        mail(recipients=[f"client-{t}@@example.com"]),
        mail(sender=f"intruder-{t}@evil.example"),
        mail(sender=f"unverified-{t}@unverified.example"),
        mail(recipients=[f"Eve <eve-{t}@example.com>\r\nBcc: bcc2-{t}@evil.example"]),
    ]
    sqs = boto3.client("sqs")
    ids = [
        sqs.send_message(QueueUrl=stack.queue_url, MessageBody=json.dumps(body))["MessageId"]
        for body in bodies
    ]
    not_json = f"to client2-{t}@example.com: TEXT2-{t} this is not JSON"
    runners.private.add_content(not_json)
    runners.private.addresses.update(ADDRESS.findall(not_json))
    ids.append(sqs.send_message(QueueUrl=stack.queue_url, MessageBody=not_json)["MessageId"])
    via_sns = mail(subject=f"privacy {t} sns", recipients=[f"sns-{t}@example.com"])
    boto3.client("sns").publish(
        TopicArn=stack.topic_arn,
        Message=json.dumps(via_sns),
        MessageAttributes={"channel": {"DataType": "String", "StringValue": "email"}},
    )
    bounce = json.loads((SES_EVENTS / "bounce_permanent.json").read_text(encoding="utf-8"))
    bounce["bounce"]["bouncedRecipients"] = [{"emailAddress": f"bounced-{t}@example.com"}]
    runners.private.addresses.update(ADDRESS.findall(json.dumps(bounce)))
    boto3.client("sns").publish(TopicArn=stack.feedback_topic_arn, Message=json.dumps(bounce))

    paths = {  # each kind of line the runner can write about these messages
        ("email.processed", "sent", None),
        ("email.processed", "duplicate", None),
        ("email.processed", "failed", "invalid"),
        ("email.processed", "failed", "rejected"),
        ("email.processed", "failed", "suppressed"),
        ("recipient.suppressed", None, None),
        ("feedback.processed", None, None),
        ("ses.retry", None, None),
    }
    with FaultProxy(localstack.endpoint_url, seed=7) as proxy:
        proxy.set(Faults(throttle=0.5, max_per_request=1))
        runner = start(
            runners, stack, proxy, NOTIFIER_ALLOWED_SENDERS="@acubeapi.com,@unverified.example"
        )
        ses_outbox.wait_for(3, matching=lambda email: t in email.subject, timeout_s=30)
        wait_until(
            lambda: (
                set(ids) <= handled(runner)
                and len(handled(runner)) >= len(ids) + 2
                and paths <= lines_written(runner)
            ),
            timeout_s=30,
            what="every message and notification handled, down every path",
        )
        assert runner.stop() == 0

    assert '"_aws"' in runner.output()  # EMF metrics were written, and scanned
    assert runners.leaks() == []


def test_an_address_used_as_a_field_name_is_not_logged_in_full(
    stack: Provisioned, runners: Runners
) -> None:
    """GIVEN messages whose field names are addresses: an unknown key, a tag name
    WHEN they are refused as invalid
    THEN their canonical lines do not carry the addresses in full."""
    t = uuid.uuid4().hex[:8]
    base = {
        "sender": SENDER,
        "recipients": [f"client-{t}@example.com"],
        "subject": f"privacy {t}",
        "text_content": f"TEXT-{t}",
    }
    bodies = [
        {**base, f"unknown-{t}@example.com": True},
        {**base, "tags": {f"tagged-{t}@example.com": "vip"}},
    ]
    sqs = boto3.client("sqs")
    ids = {
        sqs.send_message(QueueUrl=stack.queue_url, MessageBody=json.dumps(body))["MessageId"]
        for body in bodies
    }
    runners.private.addresses.update({f"unknown-{t}@example.com", f"tagged-{t}@example.com"})
    runner = start(runners, stack)
    wait_until(lambda: ids <= handled(runner), timeout_s=20, what="both refused")
    assert runners.leaks() == []
