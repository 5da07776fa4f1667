"""Templated messages end to end: the sample templates uploaded by `provision`, a producer's
message through SQS, the real handler reading them from LocalStack's S3, SES's outbox."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any

import boto3
import pytest

from devtools.provision import Provisioned
from notifier.entrypoints.bootstrap import bootstrap
from tests.e2e.conftest import SENDER, BackgroundRunner, provision_stack, start_runner
from tests.fakes import FakeContext
from tests.support.ses_outbox import SentEmail, SesOutbox

pytestmark = pytest.mark.timeout(60)


def data(token: str, **changes: str) -> dict[str, str]:
    return {
        "customer_name": "Ada Lovelace",
        "invoice_number": f"FA-{token}",
        "amount": "1 234,56 €",
        "due_date": "2026-12-31",
        "download_url": "https://example.com/invoices/FA.pdf",
        **changes,
    }


def templated(locale: str, values: dict[str, str]) -> dict[str, Any]:
    return {
        "sender": SENDER,
        "recipients": ["user@example.com"],
        "template": "invoice-ready",
        "locale": locale,
        "data": values,
    }


@pytest.fixture
def templated_stack(monkeypatch: pytest.MonkeyPatch) -> Provisioned:
    """This test's queue and its own copy of the sample templates, NOTIFIER_TEMPLATES set."""
    url = f"s3://notifier-templates/e2e-{uuid.uuid4().hex[:12]}"
    monkeypatch.setenv("NOTIFIER_TEMPLATES", url)
    return provision_stack(templates=url)


@pytest.fixture
def templated_runner(templated_stack: Provisioned) -> Iterator[BackgroundRunner]:
    background = start_runner(templated_stack)
    try:
        yield background
    finally:
        background.close()


def queue(stack: Provisioned, body: dict[str, Any]) -> None:
    boto3.client("sqs").send_message(QueueUrl=stack.queue_url, MessageBody=json.dumps(body))


def with_token(token: str) -> Any:
    return lambda email: token in email.subject


def parts(sent: SentEmail) -> tuple[str, str]:
    text, html = sent.message.get_body(("plain",)), sent.message.get_body(("html",))
    assert text is not None
    assert html is not None
    return text.get_content(), html.get_content()


def test_a_templated_message_in_fr_fr_arrives_rendered_in_french(
    templated_stack: Provisioned, templated_runner: BackgroundRunner, ses_outbox: SesOutbox
) -> None:
    """GIVEN invoice-ready uploaded by provision WHEN a producer queues it in fr-FR
    THEN the French email (fr-FR -> fr) arrives with the data in its subject, text and HTML."""
    token = uuid.uuid4().hex[:8]

    queue(templated_stack, templated("fr-FR", data(token)))

    (sent,) = ses_outbox.wait_for(1, matching=with_token(token))
    assert sent.subject == f"Votre facture FA-{token} est prête"
    text, html = parts(sent)
    assert text.startswith("Bonjour Ada Lovelace,")
    assert f"<strong>FA-{token}</strong>" in html
    assert '<html lang="fr">' in html


def test_a_locale_without_files_falls_back_to_the_default_locale(
    templated_stack: Provisioned, templated_runner: BackgroundRunner, ses_outbox: SesOutbox
) -> None:
    """GIVEN no de files WHEN the message asks for de THEN the English default arrives, with a
    text part derived from its HTML (en has no text.txt)."""
    token = uuid.uuid4().hex[:8]

    queue(templated_stack, templated("de", data(token)))

    (sent,) = ses_outbox.wait_for(1, matching=with_token(token))
    assert sent.subject == f"Your invoice FA-{token} is ready"
    text, html = parts(sent)
    assert "Hello Ada Lovelace," in text
    assert "<" not in text
    assert '<html lang="en">' in html


def test_a_missing_variable_is_a_400_on_data_name(
    templated_stack: Provisioned, ses_outbox: SesOutbox
) -> None:
    """GIVEN data without amount WHEN invoked directly THEN 400 on `data.amount` naming the
    template and its version, and SES's outbox stays empty."""
    values = data("missing")
    del values["amount"]

    response = bootstrap(configure_logs=False).handle(templated("fr", values), FakeContext())

    assert response["statusCode"] == 400
    (error,) = response["errors"]
    assert error["field"] == "data.amount"
    assert "invoice-ready/fr@" in error["message"]
    assert ses_outbox.messages() == []


def test_cr_lf_in_data_cannot_inject_a_header_through_the_subject(
    templated_stack: Provisioned, templated_runner: BackgroundRunner, ses_outbox: SesOutbox
) -> None:
    """GIVEN an invoice number carrying CR/LF and a Bcc header WHEN queued THEN the raw email
    SES sent, parsed, has a one-line subject, no Bcc or injected header, and one recipient."""
    token = uuid.uuid4().hex[:8]
    values = data(token, invoice_number=f"{token}\r\nBcc: attacker@evil.example\r\nX-Evil: 1")

    queue(templated_stack, templated("en", values))

    (sent,) = ses_outbox.wait_for(1, matching=with_token(token))
    assert sent.message["Bcc"] is None
    assert sent.message["X-Evil"] is None
    assert sent.subject == (f"Your invoice {token} Bcc: attacker@evil.example X-Evil: 1 is ready")
    assert sent.recipients == ("user@example.com",)
