"""Header injection: every case of tests/injection_corpus.py through the handler, with fakes.

A hostile value is either refused on its own field with nothing sent, or sent to exactly the
intended recipients with the header, parsed back from the raw bytes, exactly as given. And no
log line carries a full address, a body or an attachment's bytes.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

import pytest
from structlog.testing import capture_logs

from notifier.entrypoints.app import App
from tests.fakes import FakeAttachmentStore, FakeContext, FakeMailer
from tests.injection_corpus import CASES, SENDER, Case, Mailbox, Subject
from tests.unit.conftest import seed_message

SEED_RECIPIENT = "user@example.com"
INVOICE_KEY = "invoices/12345.pdf"
HEADER_OF = {"sender": "From", "recipients": "To", "cc": "Cc", "reply_to": "Reply-To"}
# The only top-level headers a message may have: anything else was injected.
ALLOWED_HEADERS = {
    "Content-Type",
    "MIME-Version",
    "From",
    "To",
    "Cc",
    "Reply-To",
    "Subject",
    "Date",
    "Message-ID",
}
RFC5322_MAX_LINE = 998


def hostile_message(case: Case) -> dict[str, Any]:
    """The sample message with the case's value in its field, and one attachment."""
    value: str | list[str] = case.value if case.field in {"subject", "sender"} else [case.value]
    return seed_message(
        **{case.field: value},
        attachments=[{"key": INVOICE_KEY, "filename": "facture-12345.pdf"}],
    )


def envelope(case: Case, mailbox: Mailbox) -> tuple[tuple[str, ...], str]:
    """The (destinations, source) SES must be given when the case is sent."""
    if case.field == "recipients":
        return (mailbox.addr_spec,), SENDER
    if case.field in {"cc", "bcc"}:
        return (SEED_RECIPIENT, mailbox.addr_spec), SENDER
    if case.field == "sender":
        return (SEED_RECIPIENT,), mailbox.addr_spec
    return (SEED_RECIPIENT,), SENDER


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.id)
def test_a_hostile_header_value_is_refused_or_sent_exactly_as_given(
    case: Case, app: App, mailer: FakeMailer
) -> None:
    """GIVEN the sample message with one hostile value WHEN invoked directly
    THEN a 400 naming that field and nothing sent, or a 200 with exactly the intended envelope
    and the header parsed back from the raw email exactly as given."""
    response = app.handle(hostile_message(case), FakeContext())

    if response["statusCode"] == 400 and case.may_refuse:
        assert {error["field"] for error in response["errors"]} == {case.error_field}, response
        assert mailer.sent == []
        return
    assert case.sent is not None, f"must be refused on {case.error_field}, got {response}"
    assert response["statusCode"] == 200, f"must be sent exactly as given, got {response}"
    (sent,) = mailer.sent
    lines = sent.raw.split(b"\r\n")
    assert max(len(line) for line in lines) <= RFC5322_MAX_LINE, "a line over RFC 5322's limit"
    message = sent.message
    assert set(message.keys()) <= ALLOWED_HEADERS, "an injected header"
    assert all(len(message.get_all(name, [])) == 1 for name in message), "a repeated header"

    if isinstance(case.sent, Subject):
        assert (sent.destinations, sent.source) == ((SEED_RECIPIENT,), SENDER)
        assert message["Subject"] == case.sent.text
        assert message["Subject"].defects == ()
        return
    mailbox = case.sent
    assert (sent.destinations, sent.source) == envelope(case, mailbox)
    if case.field == "bcc":
        assert mailbox.addr_spec.encode() not in sent.raw, "a Bcc address written into the email"
        return
    header = message[HEADER_OF[case.field]]
    assert parsed_mailboxes(header) == [(mailbox.display_name, mailbox.addr_spec)]
    assert header.defects == ()


def parsed_mailboxes(header: Any) -> list[tuple[str, str]]:
    """(display name, address) of each mailbox, as a mail client reading the header sees them."""
    try:
        return [(a.display_name, a.addr_spec) for a in header.addresses]
    except ValueError as exc:  # the stdlib refuses a name that decodes to a line break
        raise AssertionError(f"{header!r} does not parse back to a mailbox: {exc}") from exc


# Address-like tokens of a hostile value: what must never reach a log line in full.
_SEPARATORS = re.compile("[\\s,;<>()\x00-\x1f\x7f\x85\u2028\u2029]+")


def addresses_in(text: str) -> set[str]:
    """Every token with text on both sides of an `@`, outer quotes dropped."""
    tokens = (token.strip('"') for token in _SEPARATORS.split(text))
    return {t for t in tokens if "@" in t.strip("@")}


def strings_in(value: object) -> Iterator[str]:
    """Every string a captured log entry holds, keys included, however deep."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, Mapping):
        for key, item in value.items():
            yield from strings_in(key)
            yield from strings_in(item)
    elif isinstance(value, list | tuple | set | frozenset):
        for item in value:
            yield from strings_in(item)
    elif value is not None and not isinstance(value, bool | int | float):
        yield str(value)


def leaked(logs: Iterable[Mapping[str, Any]], secrets: Iterable[str]) -> set[str]:
    """The secrets that appear in any string of any captured log entry."""
    texts = [text for entry in logs for text in strings_in(entry)]
    return {secret for secret in secrets if any(secret in text for text in texts)}


def private_data(message: dict[str, Any], attachment: bytes) -> set[str]:
    """Full addresses, body texts and attachment content (raw and base64) of a message."""
    texts = [str(message.get(field, "")) for field in ("text_content", "html_content")]
    found = {t for t in texts if t}
    for field in ("sender", "recipients", "cc", "bcc", "reply_to"):
        value = message.get(field, [])
        for text in [value] if isinstance(value, str) else value:
            found |= addresses_in(text)
    found |= {attachment.decode("latin-1"), base64.b64encode(attachment).decode()}
    return found


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.id)
def test_no_full_address_body_or_attachment_reaches_the_logs(
    case: Case, app: App, store: FakeAttachmentStore
) -> None:
    """Whatever happens to a hostile message, its log lines mask every address and carry no
    body text and no attachment bytes (README "Logs")."""
    message = hostile_message(case)
    with capture_logs() as logs:
        app.handle(message, FakeContext())

    assert logs, "the message was not logged at all"
    secrets = private_data(message, store.objects[("acube-invoices", INVOICE_KEY)])
    assert leaked(logs, secrets) == set(), f"private data in the logs: {logs!r}"
