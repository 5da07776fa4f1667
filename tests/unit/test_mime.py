"""MIME composition: the right structure, and bytes that parse back exactly."""

from __future__ import annotations

import email.policy
import re
from datetime import UTC, datetime
from email.message import EmailMessage
from email.parser import BytesParser

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from notifier.domain.mime import compose
from notifier.domain.model import AttachmentFile, Mailbox, SendEmail

NOW = datetime(2026, 11, 28, 9, 30, tzinfo=UTC)
SENDER = Mailbox(local_part="noreply", ascii_domain="acubeapi.com", display_name="Factures")
USER = Mailbox(local_part="user", ascii_domain="example.com")


def command(**changes: object) -> SendEmail:
    fields: dict[str, object] = {
        # Composition never reads these; validation derives them from the request.
        "idempotency_key": "noreply@acubeapi.com#sha256:0",
        "content_hash": "0",
        "sender": SENDER,
        "to": (USER,),
        "subject": "Votre facture est prête",
        "text": "La facture #12345 est disponible pour téléchargement.",
    }
    fields.update(changes)
    return SendEmail(**fields)  # type: ignore[arg-type]


def parse(raw: bytes) -> EmailMessage:
    parsed = BytesParser(policy=email.policy.default).parsebytes(raw)
    assert isinstance(parsed, EmailMessage)
    return parsed


def all_defects(message: EmailMessage) -> list[object]:
    return [defect for part in message.walk() for defect in part.defects]


def lines_of(raw: bytes) -> list[bytes]:
    assert raw.endswith(b"\r\n")
    assert b"\n" not in raw.replace(b"\r\n", b""), "a bare LF or CR outside CRLF"
    return raw.split(b"\r\n")


def test_text_only_is_a_single_text_plain_part() -> None:
    """One body, no multipart wrapper."""
    message = parse(compose(command(), date=NOW, message_id="<1@acubeapi.com>"))
    assert message.get_content_type() == "text/plain"
    assert message.get_content_charset() == "utf-8"


def test_html_only_is_a_single_text_html_part() -> None:
    """HTML alone is sent as text/html."""
    raw = compose(command(text=None, html="<h1>Prête</h1>"), date=NOW, message_id="<1@x.com>")
    message = parse(raw)
    assert message.get_content_type() == "text/html"
    assert message.get_content() == "<h1>Prête</h1>"


def test_text_and_html_are_alternatives() -> None:
    """Both bodies: multipart/alternative, text first (the least preferred) then HTML."""
    raw = compose(command(html="<p>HTML</p>"), date=NOW, message_id="<1@x.com>")
    message = parse(raw)
    assert message.get_content_type() == "multipart/alternative"
    assert [p.get_content_type() for p in message.iter_parts()] == ["text/plain", "text/html"]


def test_attachments_wrap_the_bodies_in_multipart_mixed() -> None:
    """Attachments: multipart/mixed around the alternative, each file named and typed."""
    pdf = AttachmentFile(
        filename="facture-é.pdf", content_type="application/pdf", data=b"%PDF\x00\xff"
    )
    raw = compose(command(html="<p>HTML</p>"), [pdf], date=NOW, message_id="<1@x.com>")
    message = parse(raw)
    assert message.get_content_type() == "multipart/mixed"
    body, attachment = message.iter_parts()
    assert body.get_content_type() == "multipart/alternative"
    assert attachment.get_filename() == "facture-é.pdf"
    assert attachment.get_content_type() == "application/pdf"
    assert attachment.get_content() == b"%PDF\x00\xff"


def test_headers_are_complete_and_bcc_is_never_written() -> None:
    """From, To, Cc, Reply-To, Subject, Date, Message-ID, MIME-Version; Bcc only in the envelope."""
    hidden = Mailbox(local_part="auditor", ascii_domain="example.com")
    raw = compose(
        command(
            cc=(hidden,),
            bcc=(Mailbox(local_part="secret", ascii_domain="example.com"),),
            reply_to=(SENDER,),
        ),
        date=NOW,
        message_id="<abc@acubeapi.com>",
    )
    message = parse(raw)
    assert message["From"] == "Factures <noreply@acubeapi.com>"
    assert message["To"] == "user@example.com"
    assert message["Cc"] == "auditor@example.com"
    assert message["Reply-To"] == "Factures <noreply@acubeapi.com>"
    assert message["Date"].datetime == NOW
    assert message["Message-ID"] == "<abc@acubeapi.com>"
    assert message["MIME-Version"] == "1.0"
    assert b"secret@example.com" not in raw
    assert "Bcc" not in message


def test_non_ascii_subject_and_names_are_rfc2047_encoded() -> None:
    """The raw headers are pure ASCII; the parsed values are the original text."""
    raw = compose(
        command(sender=Mailbox(local_part="n", ascii_domain="x.com", display_name="Zoé Écrit")),
        date=NOW,
        message_id="<1@x.com>",
    )
    head = raw.split(b"\r\n\r\n", 1)[0]
    head.decode("ascii")
    assert b"=?utf-8?" in head
    message = parse(raw)
    assert message["Subject"] == "Votre facture est prête"
    assert message["From"].addresses[0].display_name == "Zoé Écrit"


# Header text: any printable character (no controls, no line/paragraph separators).
header_text = st.text(
    st.characters(exclude_categories=("Cc", "Cs", "Zl", "Zp"), exclude_characters="\x85"),
    min_size=1,
    max_size=300,
).filter(lambda s: s == s.strip())  # validation strips surrounding whitespace
body_text = st.text(st.characters(exclude_categories=("Cs",)), min_size=1, max_size=2000).filter(
    str.strip
)
local_part = st.from_regex(r"[a-z0-9]{1,12}(\.[a-z0-9_+-]{1,12})?", fullmatch=True)
domain = st.from_regex(r"([a-z0-9]{1,10}\.){1,3}[a-z]{2,6}", fullmatch=True)
mailbox = st.builds(
    Mailbox,
    local_part=local_part,
    ascii_domain=domain,
    display_name=st.one_of(st.just(""), header_text.map(lambda s: s[:100].strip() or "x")),
)
attachment = st.builds(
    AttachmentFile,
    filename=st.text(
        st.characters(exclude_categories=("Cc", "Cs", "Zl", "Zp"), exclude_characters="\x85/\\"),
        min_size=1,
        max_size=255,
    ).filter(lambda s: s == s.strip() and len(s.encode()) <= 255),  # validation's limit
    content_type=st.sampled_from(["application/pdf", "text/csv", "image/png"]),
    data=st.binary(max_size=3000),
)


def normalise_line_breaks(text: str) -> str:
    return re.sub(r"\r\n|\r", "\n", text)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    sender=mailbox,
    to=st.lists(mailbox, min_size=1, max_size=4),
    cc=st.lists(mailbox, max_size=3),
    subject=header_text,
    text=st.one_of(st.none(), body_text),
    html=st.one_of(st.none(), body_text),
    files=st.lists(attachment, max_size=3),
)
def test_any_valid_message_round_trips_exactly(
    sender: Mailbox,
    to: list[Mailbox],
    cc: list[Mailbox],
    subject: str,
    text: str | None,
    html: str | None,
    files: list[AttachmentFile],
) -> None:
    """Property: the bytes parse with no defects; every header, body and attachment comes back
    as given (bodies in MIME canonical form: line breaks become CRLF)."""
    if text is None and html is None:
        text = "fallback"
    cmd = command(sender=sender, to=tuple(to), cc=tuple(cc), subject=subject, text=text, html=html)
    raw = compose(cmd, files, date=NOW, message_id="<id@acubeapi.com>")

    assert max(len(line) for line in lines_of(raw)) <= 998
    raw.decode("ascii")  # 7bit-clean: every non-ASCII byte is encoded
    message = parse(raw)
    assert all_defects(message) == []
    assert message["Subject"] == subject
    assert message["From"].addresses[0].display_name == sender.display_name
    assert message["From"].addresses[0].addr_spec == sender.addr_spec
    assert [(a.display_name, a.addr_spec) for a in message["To"].addresses] == [
        (m.display_name, m.addr_spec) for m in to
    ]
    if cc:
        assert [a.addr_spec for a in message["Cc"].addresses] == [m.addr_spec for m in cc]
    for subtype, expected in (("plain", text), ("html", html)):
        if expected is not None:
            part = message.get_body((subtype,))
            assert part is not None
            assert normalise_line_breaks(part.get_content()) == normalise_line_breaks(expected)
    parsed_files = list(message.iter_attachments())
    assert [
        (p.get_filename(), p.get_content_type(), p.get_payload(decode=True)) for p in parsed_files
    ] == [(f.filename, f.content_type, f.data) for f in files]
