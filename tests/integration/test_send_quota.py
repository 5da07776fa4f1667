"""SesSendQuota against LocalStack's GetSendQuota (moto's figures: 200 a day, 1 per second)."""

from __future__ import annotations

import boto3
from structlog.testing import capture_logs

from devtools.invoice import invoice_message
from notifier.adapters.outbound.aws import aws_session, client
from notifier.adapters.outbound.ses_quota import SesSendQuota
from notifier.entrypoints.bootstrap import bootstrap
from notifier.entrypoints.settings import Settings
from tests.fakes import FakeContext
from tests.support.localstack import LocalStack

SENDER = "noreply@acubeapi.com"


def test_ses_send_quota_reads_the_account_s_quota(localstack: LocalStack) -> None:
    """GIVEN LocalStack's SES WHEN a message to two recipients is sent between two reads THEN
    both reads give the sandbox maximums, and SentLast24Hours grew by the two recipients."""
    ses = boto3.client("ses")
    ses.verify_domain_identity(Domain="acubeapi.com")
    quota = SesSendQuota(lambda: client(aws_session(), "ses", retries=1))

    before = quota.read()
    ses.send_raw_email(
        Source=SENDER,
        Destinations=["a@example.com", "b@example.com"],
        RawMessage={"Data": b"Subject: quota\r\n\r\ntwo recipients\r\n"},
    )
    after = quota.read()

    assert (before.max_24_hour_send, before.max_send_rate) == (200, 1)
    assert after.sent_last_24_hours == before.sent_last_24_hours + 2


def test_the_bootstrapped_function_reads_the_quota_at_its_first_invocation(
    localstack: LocalStack,
) -> None:
    """The real composition root (no fakes) reads GetSendQuota through its own SES client at
    the start of its first invocation and logs `ses.quota`, then sends the message."""
    boto3.client("ses").verify_domain_identity(Domain="acubeapi.com")
    app = bootstrap(Settings(), configure_logs=False)

    with capture_logs() as logs:
        response = app.handle(
            invoice_message(sender=SENDER, bucket_name=None, attachments=None), FakeContext()
        )

    assert response["statusCode"] == 200
    (line,) = [line for line in logs if line["event"] == "ses.quota"]
    assert (line["max_24_hour_send"], line["max_send_rate"]) == (200, 1)
    assert not [line for line in logs if line["event"] == "ses.quota_unavailable"]
