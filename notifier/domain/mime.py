"""MIME composition: a pure function from a validated command to the raw bytes SES sends.

Built with the `email.mime` classes and `email.header.Header` / `email.utils.formataddr`
(the compat32 API), generated with CRLF line endings. We measured the newer
`EmailMessage`/`headerregistry` folder against the standard parser and it loses data on some
display names (an adjacent address dropped from `To`, whitespace moved between encoded
words); the compat32 encoders round-trip every header in tests/unit/test_mime.py.

Two shortcuts keep a small message cheap, each writing exactly the bytes the longer way
writes (tests/unit/test_mime_shortcuts.py): `GeneratorPolicy` skips compat32's folding for a
header line that needs none, and a text that fits one encoded word is encoded as that word
rather than through `Header`'s character-by-character line splitting.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from email import encoders
from email.charset import Charset
from email.header import Header
from email.mime.base import MIMEBase
from email.mime.multipart import MIMEMultipart
from email.policy import Compat32
from email.utils import format_datetime, formataddr
from typing import cast

from notifier.domain.model import AttachmentFile, Mailbox, SendEmail

MAX_LINE_LENGTH = 78  # RFC 5322's recommended limit; folding keeps every header line within it
_UTF8 = Charset("utf-8")
_PLAIN_HEADER_CHARS = 60  # longer or non-ASCII header text is RFC 2047-encoded and folded


class GeneratorPolicy(Compat32):
    """compat32, minus its folding where there is nothing to fold.

    compat32 passes every header through `email.header.Header` to fold it, about 8 µs a
    header; a value of printable ASCII with no surrounding space whose line already fits
    `max_line_length` comes out of that unchanged, so it is written as it is."""

    def fold_binary(self, name: str, value: str) -> bytes:
        if (
            isinstance(value, str)
            and value.isascii()
            and value.isprintable()
            and value == value.strip()
            and self.max_line_length
            and len(name) + 2 + len(value) <= self.max_line_length
        ):
            return f"{name}: {value}{self.linesep}".encode("ascii")
        return super().fold_binary(name, value)


GENERATOR_POLICY = GeneratorPolicy(linesep="\r\n", max_line_length=MAX_LINE_LENGTH)


def compose(
    command: SendEmail,
    attachments: Sequence[AttachmentFile] = (),
    *,
    date: datetime,
    message_id: str,
) -> bytes:
    """The raw RFC 5322 message: one part alone, `multipart/alternative` for text + HTML,
    `multipart/mixed` around it with attachments. Bcc is never written to the headers.

    Bodies are UTF-8 in base64 with CRLF line breaks (MIME canonical form), so the output is
    7-bit clean; headers are folded (RFC 2047 encoded words where needed), so no line is
    longer than 998 octets.
    """
    alone = not attachments and not (command.text and command.html)
    bodies = [
        _text_part(subtype, text, top_level=alone)
        for subtype, text in (("plain", command.text), ("html", command.html))
        if text
    ]
    root: MIMEBase = (
        bodies[0]
        if len(bodies) == 1
        else MIMEMultipart("alternative", _boundary("alt", message_id), bodies)
    )
    if attachments:
        parts = [root, *(_attachment(a) for a in attachments)]
        root = MIMEMultipart("mixed", _boundary("mix", message_id), parts)

    headers: list[tuple[str, str | Header]] = [("From", _addresses([command.sender]))]
    if command.to:  # every To address may have been suppressed, leaving only Cc/Bcc
        headers.append(("To", _addresses(command.to)))
    if command.cc:
        headers.append(("Cc", _addresses(command.cc)))
    if command.reply_to:
        headers.append(("Reply-To", _addresses(command.reply_to)))
    headers.append(("Subject", _text_header("Subject", command.subject)))
    for name, value in headers:
        # Message.__setitem__ is typed for str; compat32 takes a Header and folds it itself.
        root[name] = cast(str, value)
    root["Date"] = format_datetime(date)
    root["Message-ID"] = message_id
    if command.list_unsubscribe:
        root["List-Unsubscribe"] = ", ".join(f"<{uri}>" for uri in command.list_unsubscribe)
        if any(uri.startswith("https:") for uri in command.list_unsubscribe):
            # RFC 8058 one-click unsubscribe (what Gmail and Yahoo require of bulk senders).
            root["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    return root.as_bytes(policy=GENERATOR_POLICY)


def _boundary(kind: str, message_id: str) -> str:
    """A boundary that cannot occur inside a part: every body is base64, whose alphabet has no
    '_', and the part headers are ours. (Left unset, the generator makes a random one and
    compiles a regular expression per message to check it: a third of composing a small one.)"""
    return f"=_notifier_{kind}_{message_id.strip('<>').split('@')[0]}"


def message_id(*, unique: str, domain: str) -> str:
    """A Message-ID header value; SES replaces it, but the raw message must be complete."""
    return f"<{unique}@{domain}>"


def _canonical_text(text: str) -> str:
    """Every line break (CRLF, CR or LF) as CRLF; three passes of str.replace take a third of
    the time of one regular-expression substitution."""
    return text.replace("\r\n", "\n").replace("\r", "\n").replace("\n", "\r\n")


def _text_part(subtype: str, text: str, *, top_level: bool) -> MIMEBase:
    """A UTF-8 text body in base64: what `MIMEText(text, subtype, "utf-8")` writes, through the
    same `Charset` calls, minus what makes MIMEText cost four times as much for a small body
    (setting the charset parameter again, re-parsing its own header) and a fifth more for a
    large one (a round trip of the encoded text through surrogate escapes)."""
    part = MIMEBase("text", subtype, charset="utf-8")
    if not top_level:
        del part["MIME-Version"]  # RFC 2045: the top level's is the one that counts
    part.set_payload(_UTF8.body_encode(_canonical_text(text).encode("utf-8")))
    part["Content-Transfer-Encoding"] = "base64"  # the body encoding of Charset("utf-8")
    return part


def _text_header(name: str, text: str) -> str | Header:
    """Plain when short ASCII; otherwise RFC 2047-encoded and folded. Text that looks like an
    encoded word is encoded too, so that a reader sees `=?utf-8?q?...?=` literally.

    A text whose encoded word fits the header's line is that one word: what `Header` writes
    for it, without trying every prefix of the text to find where a line would end."""
    if text.isascii() and len(text) <= _PLAIN_HEADER_CHARS and "=?" not in text:
        return text
    if text == text.strip() and len(text.splitlines()) == 1:
        word = _UTF8.header_encode(text)
        if len(name) + 2 + len(word) <= MAX_LINE_LENGTH:
            return word
    return Header(text, "utf-8", header_name=name)


def _addresses(mailboxes: Iterable[Mailbox]) -> str:
    """An address list; each display name is quoted, or RFC 2047-encoded as ONE encoded word
    (CPython's parser inserts spaces between adjacent encoded words of a display name, so a
    split name would not round-trip; validation caps names so that one word fits a line)."""
    return ", ".join(_address(m) for m in mailboxes)


def _address(mailbox: Mailbox) -> str:
    name = mailbox.display_name
    if name.isascii() and "=?" in name:  # formataddr would only quote it: encode it instead
        return f"{_UTF8.header_encode(name)} <{mailbox.addr_spec}>"
    return formataddr((name, mailbox.addr_spec), charset=_UTF8)


def _attachment(attachment: AttachmentFile) -> MIMEBase:
    maintype, _, subtype = attachment.content_type.partition("/")
    part = MIMEBase(maintype, subtype)
    del part["MIME-Version"]  # only the top level needs it (RFC 2045)
    part.set_payload(attachment.data)
    encoders.encode_base64(part)
    filename = attachment.filename
    part.add_header(
        "Content-Disposition",
        "attachment",
        filename=filename if filename.isascii() else ("utf-8", "", filename),
    )
    return part
