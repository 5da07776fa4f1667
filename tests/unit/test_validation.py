"""Validation: every problem is a field-level error, and a valid request becomes a command."""

from __future__ import annotations

from typing import Any

import pytest

from notifier.adapters.addresses import EmailValidatorAddresses
from notifier.adapters.inbound.message import parse_message
from notifier.domain.errors import InvalidMessage
from notifier.domain.model import SendEmail
from notifier.domain.policy import Policy
from notifier.domain.validation import validate
from tests.unit.conftest import seed_message

POLICY = Policy(attachment_buckets=frozenset({"acube-invoices"}))


def check(message: dict[str, Any], policy: Policy = POLICY) -> SendEmail:
    return validate(parse_message(message), policy=policy, addresses=EmailValidatorAddresses())


def errors_of(message: dict[str, Any], policy: Policy = POLICY) -> dict[str, str]:
    with pytest.raises(InvalidMessage) as caught:
        check(message, policy)
    return {e.field: e.message for e in caught.value.errors}


def test_the_seed_message_is_valid() -> None:
    """The producers' sample message validates; its unused bucket_name is accepted."""
    command = check(seed_message())
    assert command.sender.addr_spec == "noreply@acubeapi.com"
    assert command.destinations == ("user@example.com",)
    assert command.subject == "Votre facture est prête"
    assert command.attachments == ()


def test_a_display_name_is_kept_for_sender_and_recipients() -> None:
    """`Name <address>` forms keep the name, including non-ASCII names."""
    command = check(
        seed_message(sender="Factures <noreply@acubeapi.com>", recipients=["Zoé <z@exemple.fr>"])
    )
    assert (command.sender.display_name, command.sender.addr_spec) == (
        "Factures",
        "noreply@acubeapi.com",
    )
    assert command.to[0].display_name == "Zoé"


def test_an_internationalised_domain_is_sent_in_punycode() -> None:
    """GIVEN an IDN domain WHEN validated THEN its ASCII form is what SES gets."""
    command = check(seed_message(recipients=["client@bücher.example"]))
    assert command.destinations == ("client@xn--bcher-kva.example",)


@pytest.mark.parametrize(
    ("field", "value", "expected"),
    [
        ("recipients", ["ü@example.com"], "Internationalized characters before the @-sign"),
        ("recipients", ["a@x.com, b@y.com"], "not a valid address"),
        ("recipients", ["not-an-address"], "not a valid address"),
        ("recipients", ['"quoted"@example.com'], "not a valid address"),
        ("recipients", ["a@[192.0.2.1]"], "not a valid address"),
    ],
)
def test_bad_recipient_addresses_are_rejected(field: str, value: list[str], expected: str) -> None:
    """Each bad address is reported on its own index."""
    assert expected in errors_of(seed_message(**{field: value}))[f"{field}[0]"]


@pytest.mark.parametrize(
    "injected",
    [
        "Facture\r\nBcc: victim@example.com",
        "Facture\nX: y",
        "Facture\rX: y",
        "Facture\u2028X",
        "Facture\u2029X",
        "Facture\x85X",
        "Facture\x00X",
    ],
)
def test_header_injection_in_the_subject_is_rejected(injected: str) -> None:
    """CR, LF, NEL, Unicode separators and NUL in a header value are refused, not escaped."""
    assert (
        "line breaks or control characters" in errors_of(seed_message(subject=injected))["subject"]
    )


def test_header_injection_in_an_address_is_rejected() -> None:
    """A recipient smuggling a Bcc header through CRLF is refused."""
    found = errors_of(seed_message(recipients=["a@x.com\r\nBcc: c@z.com"]))
    assert "line breaks" in found["recipients[0]"]


def test_recipients_are_deduplicated_case_insensitively_across_to_cc_bcc() -> None:
    """The first occurrence wins, later ones (any case, any list) are dropped."""
    command = check(
        seed_message(
            recipients=["a@example.com", "A@EXAMPLE.com"],
            cc=["a@example.com", "b@example.com"],
            bcc=["B@example.com", "c@example.com"],
        )
    )
    assert command.destinations == ("a@example.com", "b@example.com", "c@example.com")
    assert [m.addr_spec for m in command.cc] == ["b@example.com"]


def test_more_than_the_recipient_limit_is_rejected_after_deduplication() -> None:
    """50 distinct addresses pass; 51 do not; duplicates do not count."""
    fifty = [f"user{i}@example.com" for i in range(50)]
    assert len(check(seed_message(recipients=[*fifty, fifty[0].upper()])).destinations) == 50
    found = errors_of(seed_message(recipients=fifty, bcc=["one-more@example.com"]))
    assert "at most 50 distinct recipients" in found["recipients"]


def test_the_operator_can_lower_the_recipient_limit() -> None:
    """NOTIFIER_MAX_RECIPIENTS (here 2) lowers the limit."""
    found = errors_of(
        seed_message(recipients=["a@x.com"], cc=["b@x.com"], bcc=["c@x.com"]),
        Policy(max_recipients=2),
    )
    assert "at most 2" in found["recipients"]


def test_at_least_one_body_is_required() -> None:
    """No text and no HTML (or only whitespace) is an error on text_content."""
    found = errors_of(seed_message(text_content="  ", html_content=None))
    assert "text_content or html_content" in found["text_content"]


def test_required_fields_and_empty_recipient_list() -> None:
    """Missing sender/subject and an empty recipients list are each reported."""
    assert errors_of(seed_message(recipients=[]))["recipients"] == "must list at least one address"
    assert errors_of(seed_message(subject="   "))["subject"] == "must not be empty"


def test_sender_allowlist_accepts_addresses_and_domains() -> None:
    """`@domain` entries allow the whole domain; other senders are refused."""
    policy = Policy(allowed_senders=("@AcubeAPI.com", "billing@other.example"))
    assert check(seed_message(), policy).sender.addr_spec == "noreply@acubeapi.com"
    assert check(seed_message(sender="billing@other.example"), policy)
    found = errors_of(seed_message(sender="ceo@evil.example"), policy)
    assert "not an allowed sender" in found["sender"]


def test_attachments_need_an_allowlisted_bucket() -> None:
    """A bucket outside NOTIFIER_ATTACHMENT_BUCKETS is refused; none is allowed by default."""
    attachment = [{"key": "invoices/12345.pdf"}]
    found = errors_of(seed_message(bucket_name="other-bucket", attachments=attachment))
    assert "not allowed for attachments" in found["bucket_name"]
    found = errors_of(seed_message(attachments=attachment), Policy())
    assert "not allowed for attachments" in found["bucket_name"]
    found = errors_of(seed_message(bucket_name=None, attachments=attachment))
    assert found["bucket_name"] == "is required when attachments are given"


def test_attachment_defaults_filename_and_guesses_the_type() -> None:
    """`filename` defaults to the key's last segment and `content_type` is guessed from it."""
    command = check(seed_message(attachments=[{"key": "invoices/2026/12345.pdf"}]))
    (attachment,) = command.attachments
    assert (attachment.filename, attachment.content_type) == ("12345.pdf", "application/pdf")
    unknown = check(seed_message(attachments=[{"key": "blob.unknownext"}])).attachments[0]
    assert unknown.content_type == "application/octet-stream"


@pytest.mark.parametrize(
    ("attachment", "field", "expected"),
    [
        ({"key": "a.pdf", "filename": "../etc/passwd"}, "filename", "not a path"),
        ({"key": "a.pdf", "filename": "a\r\n.pdf"}, "filename", "line breaks"),
        ({"key": "a.pdf", "content_type": "pdf"}, "content_type", "media type"),
        ({"key": "a.pdf", "content_type": "multipart/mixed"}, "content_type", "multipart"),
        ({"key": "/"}, "key", "must name an object"),
    ],
)
def test_bad_attachment_fields(attachment: dict[str, str], field: str, expected: str) -> None:
    """Each attachment problem is reported on its own path."""
    found = errors_of(seed_message(attachments=[attachment]))
    assert expected in found[f"attachments[0].{field}"]


def test_all_problems_are_reported_at_once() -> None:
    """A producer sees every bad field in one response, not one per attempt."""
    found = errors_of(
        seed_message(
            sender="nope",
            recipients=["also-nope"],
            subject="",
            html_content=None,
            text_content=None,
        )
    )
    assert set(found) == {"sender", "recipients[0]", "subject", "text_content"}


def test_lone_surrogates_are_rejected_even_in_bodies() -> None:
    """Text that cannot be encoded as UTF-8 is refused with a clear reason."""
    found = errors_of(seed_message(text_content="bad \ud800 text", html_content=None))
    assert "not valid Unicode" in found["text_content"]


def test_a_command_carries_its_content_hash_and_a_sender_scoped_key() -> None:
    """Without a producer key, the key is the sender plus the content hash; the hash ignores
    the idempotency key itself, so the same content under two keys hashes alike."""
    plain = check(seed_message())
    keyed = check(seed_message(idempotency_key="invoice-12345"))

    assert plain.content_hash == keyed.content_hash
    assert len(plain.content_hash) == 64
    assert plain.idempotency_key == f"noreply@acubeapi.com#sha256:{plain.content_hash}"
    assert keyed.idempotency_key == "noreply@acubeapi.com#key:invoice-12345"
    assert check(seed_message(subject="Autre")).content_hash != plain.content_hash
