"""The real adapters against LocalStack: SES, S3 and CloudWatch over HTTP, no fakes."""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from devtools.invoice import invoice_message
from notifier.entrypoints.app import App, RecordsFailed
from notifier.entrypoints.bootstrap import bootstrap
from notifier.entrypoints.settings import MetricsMode, Settings
from tests.fakes import FakeContext
from tests.support.localstack import LocalStack
from tests.support.ses_outbox import SesOutbox

EVENTS = Path(__file__).parent.parent / "events"
ROOT = Path(__file__).parent.parent.parent
SENDER = "noreply@acubeapi.com"
BUCKET = "acube-invoices"
PDF = b"%PDF-1.4\n1 0 obj<</Type/Catalog>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n"


def load_event(name: str) -> Any:
    return json.loads((EVENTS / name).read_text(encoding="utf-8"))


def message(**changes: Any) -> dict[str, Any]:
    return invoice_message(**{"sender": SENDER, **changes})


@pytest.fixture(scope="module")
def aws(localstack: LocalStack) -> Iterator[None]:
    """A verified sender domain and the attachments bucket with one invoice."""
    boto3.client("ses").verify_domain_identity(Domain="acubeapi.com")
    s3 = boto3.client("s3")
    s3.create_bucket(Bucket=BUCKET)
    s3.put_object(Bucket=BUCKET, Key="invoices/12345.pdf", Body=PDF)
    return


@pytest.fixture
def make_app(aws: None) -> Callable[..., App]:
    def make(**settings: Any) -> App:
        settings.setdefault("attachment_buckets", (BUCKET,))
        return bootstrap(Settings(**settings), configure_logs=False)

    return make


@pytest.fixture
def app(make_app: Callable[..., App]) -> App:
    return make_app()


def test_a_direct_invocation_is_sent_through_ses(app: App, ses_outbox: SesOutbox) -> None:
    """GIVEN the seed event WHEN invoked directly THEN SES holds the same email, byte-exact."""
    response = app.handle(load_event("direct.json"), FakeContext())
    assert response["statusCode"] == 200
    (sent,) = ses_outbox.wait_for(1)
    assert sent.message_id == response["messageId"]
    assert sent.source == SENDER
    assert sent.message["Subject"] == "Votre facture est prête"
    assert sent.message["To"] == "user@example.com"
    text = sent.message.get_body(("plain",))
    html = sent.message.get_body(("html",))
    assert text is not None
    assert html is not None
    assert text.get_content() == "La facture #12345 est disponible pour téléchargement."
    assert html.get_content() == "<h1>Facture Prête</h1><p>Facture #12345 disponible.</p>"


def test_an_sqs_batch_reports_exactly_the_invalid_records(app: App, ses_outbox: SesOutbox) -> None:
    """Valid records are sent; exactly the invalid ones are in batchItemFailures."""
    template = load_event("sqs.json")["Records"][0]
    bodies = [
        json.dumps(message(recipients=["a@example.com"])),
        json.dumps(message(recipient=["typo@example.com"])),
        json.dumps(message(recipients=["b@example.com"])),
        "not json",
    ]
    event = {
        "Records": [{**template, "messageId": f"id-{i}", "body": b} for i, b in enumerate(bodies)]
    }
    response = app.handle(event, FakeContext())
    assert response == {
        "batchItemFailures": [{"itemIdentifier": "id-1"}, {"itemIdentifier": "id-3"}]
    }
    sent = ses_outbox.wait_for(2)
    assert sorted(s.recipients for s in sent) == [("a@example.com",), ("b@example.com",)]


def test_an_sns_notification_is_sent(app: App, ses_outbox: SesOutbox) -> None:
    """The SNS record's Message goes out through SES."""
    app.handle(load_event("sns.json"), FakeContext())
    assert ses_outbox.wait_for(1)[0].recipients == ("user@example.com",)


def test_a_failed_sns_record_raises(app: App, ses_outbox: SesOutbox) -> None:
    """An SNS invocation with a record that cannot be sent fails, so Lambda keeps it."""
    event = load_event("sns.json")
    event["Records"][0]["Sns"]["Message"] = json.dumps(message(sender="noreply@unverified.example"))
    with pytest.raises(RecordsFailed):
        app.handle(event, FakeContext())
    assert ses_outbox.messages() == []


def test_an_sns_envelope_inside_sqs_is_unwrapped(app: App, ses_outbox: SesOutbox) -> None:
    """SNS -> SQS without raw delivery: the envelope's Message is sent."""
    assert app.handle(load_event("sns_via_sqs.json"), FakeContext()) == {"batchItemFailures": []}
    assert ses_outbox.wait_for(1)[0].source == SENDER


def test_an_s3_attachment_is_sent(app: App, ses_outbox: SesOutbox) -> None:
    """The invoice is read from S3 and attached byte for byte."""
    body = message(
        bucket_name=BUCKET,
        attachments=[{"key": "invoices/12345.pdf", "filename": "facture-12345.pdf"}],
    )
    assert app.handle(body, FakeContext())["statusCode"] == 200
    (attachment,) = ses_outbox.wait_for(1)[0].message.iter_attachments()
    assert attachment.get_filename() == "facture-12345.pdf"
    assert attachment.get_content_type() == "application/pdf"
    assert attachment.get_payload(decode=True) == PDF


def test_a_missing_s3_object_is_a_400_naming_the_key(app: App, ses_outbox: SesOutbox) -> None:
    """A key that is not in the bucket is a permanent error on that attachment."""
    body = message(bucket_name=BUCKET, attachments=[{"key": "invoices/none.pdf"}])
    response = app.handle(body, FakeContext())
    assert response["statusCode"] == 400
    assert response["errors"][0]["field"] == "attachments[0].key"
    assert "invoices/none.pdf" in response["errors"][0]["message"]
    assert ses_outbox.messages() == []


def test_an_unverified_sender_is_rejected_by_ses_with_422(app: App, ses_outbox: SesOutbox) -> None:
    """SES's MessageRejected is permanent: 422, not retried, nothing sent."""
    response = app.handle(message(sender="noreply@unverified.example"), FakeContext())
    assert response["statusCode"] == 422
    assert "MessageRejected" in response["errors"][0]["message"]
    assert ses_outbox.messages() == []


def test_metrics_in_api_mode_reach_cloudwatch(make_app: Callable[..., App]) -> None:
    """NOTIFIER_METRICS_MODE=api publishes with PutMetricData: ListMetrics sees them."""
    namespace = f"NotifierTest{uuid.uuid4().hex[:8]}"
    app = make_app(metrics_mode=MetricsMode.API, metrics_namespace=namespace)
    app.handle(message(), FakeContext())
    app.handle(message(sender="bad"), FakeContext())
    listed = boto3.client("cloudwatch").list_metrics(Namespace=namespace)["Metrics"]
    names = {(m["MetricName"], tuple(sorted(d["Value"] for d in m["Dimensions"]))) for m in listed}
    assert ("EmailsSent", ("notifier",)) in names
    assert ("EmailsFailed", ("invalid", "notifier")) in names
    assert ("EmailsFailed", ("notifier",)) in names
    assert ("SendLatency", ("notifier",)) in names


def test_the_invoke_cli_calls_the_handler(aws: None, ses_outbox: SesOutbox) -> None:
    """`python -m notifier invoke --event FILE` prints the handler's response."""
    result = subprocess.run(
        [sys.executable, "-m", "notifier", "invoke", "--event", str(EVENTS / "direct.json")],
        capture_output=True,
        text=True,
        check=False,
        cwd=ROOT,
        timeout=60,
        env={**__import__("os").environ, "NOTIFIER_METRICS_MODE": "off"},
    )
    assert result.returncode == 0, result.stderr
    response = json.loads(result.stdout[result.stdout.index("{\n") :])
    assert response["statusCode"] == 200
    assert ses_outbox.wait_for(1)[0].message_id == response["messageId"]
