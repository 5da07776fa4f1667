"""Validation: a `MessageRequest` becomes a `SendEmail`, or every problem is reported at once."""

from __future__ import annotations

import mimetypes
import re
import urllib.parse
from collections.abc import Iterable

from notifier.domain.errors import FieldError, InvalidMessage
from notifier.domain.model import Attachment, Mailbox, MessageRequest, SendEmail
from notifier.domain.policy import Policy
from notifier.domain.ports import AddressParser

# Anything that could end or fold a header line, or that mail software treats as one:
# C0 controls (CR, LF, TAB, NUL...), DEL, NEL and the Unicode line/paragraph separators.
# Header injection is rejected, never escaped.
_HEADER_UNSAFE = re.compile("[\x00-\x1f\x7f\x85\u2028\u2029]")
_MEDIA_TYPE = re.compile(
    r"[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}/[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}"
)
MAX_SUBJECT_CHARS = 998
# A display name is written as one RFC 2047 encoded word (see mime.py); at 100 characters that
# word plus the longest address still fits a 998-octet line.
MAX_DISPLAY_NAME_CHARS = 100
MAX_ADDRESS_TEXT_CHARS = 998  # refused before parsing: no header line could hold more
# As on most file systems; also keeps the RFC 2231-encoded parameter within a 998-octet line.
MAX_FILENAME_BYTES = 255
MAX_KEY_BYTES = 1024  # S3's own limit
# Python's built-in table only, so a guess is the same on every machine and in the Lambda image.
_MIME_TYPES = mimetypes.MimeTypes()


class _Problems:
    """Collects field errors so that a producer sees all of them in one response."""

    def __init__(self) -> None:
        self.errors: list[FieldError] = []

    def add(self, field: str, message: str) -> None:
        self.errors.append(FieldError(field, message))

    def text_ok(self, field: str, value: str, *, header: bool) -> bool:
        """Check that `value` is encodable and, for header values, has no line breaks."""
        if not _is_unicode(value):
            self.add(field, "is not valid Unicode text (lone surrogate code point)")
            return False
        if header and (match := _HEADER_UNSAFE.search(value)):
            self.add(
                field,
                f"must not contain line breaks or control characters (found U+{ord(match[0]):04X})",
            )
            return False
        return True


def _is_unicode(value: str) -> bool:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def validate(request: MessageRequest, *, policy: Policy, addresses: AddressParser) -> SendEmail:
    """Return the command for a valid request; raise `InvalidMessage` listing every problem."""
    problems = _Problems()
    sender = _mailbox(problems, "sender", request.sender, addresses, allow_display_name=True)
    if sender is not None and not policy.sender_allowed(sender):
        problems.add(
            "sender",
            f"{sender.addr_spec!r} is not an allowed sender (see NOTIFIER_ALLOWED_SENDERS)",
        )

    seen: set[str] = set()
    lists = {}
    for field, values in (
        ("recipients", request.recipients),
        ("cc", request.cc),
        ("bcc", request.bcc),
    ):
        lists[field] = _unique(problems, field, values, addresses, seen)
    if not request.recipients:
        problems.add("recipients", "must list at least one address")
    if len(seen) > policy.max_recipients:
        problems.add(
            "recipients",
            f"at most {policy.max_recipients} distinct recipients (To + Cc + Bcc) per message,"
            f" got {len(seen)}",
        )
    reply_to = _mailboxes(problems, "reply_to", request.reply_to, addresses)

    # Whitespace around a header value does not survive folding and unfolding: drop it here.
    subject = request.subject.strip()
    if problems.text_ok("subject", subject, header=True):
        if not subject.strip():
            problems.add("subject", "must not be empty")
        elif len(subject) > MAX_SUBJECT_CHARS:
            problems.add("subject", f"must be at most {MAX_SUBJECT_CHARS} characters")

    before_bodies = len(problems.errors)
    text = _body(problems, "text_content", request.text_content)
    html = _body(problems, "html_content", request.html_content)
    if text is None and html is None and len(problems.errors) == before_bodies:
        problems.add("text_content", "text_content or html_content must be a non-empty string")

    attachments = _attachments(problems, request, policy)
    _idempotency_key(problems, request.idempotency_key)
    configuration_set = _configuration_set(problems, request.configuration_set)
    tags = _tags(problems, request.tags)
    list_unsubscribe = _list_unsubscribe(problems, request.list_unsubscribe)

    if problems.errors:
        raise InvalidMessage(problems.errors)
    assert sender is not None  # every None above added a problem
    return SendEmail(
        sender=sender,
        to=lists["recipients"],
        cc=lists["cc"],
        bcc=lists["bcc"],
        reply_to=reply_to,
        subject=subject,
        text=text,
        html=html,
        bucket=request.bucket_name if attachments else None,
        attachments=attachments,
        configuration_set=configuration_set,
        tags=tags,
        list_unsubscribe=list_unsubscribe,
    )


def _mailbox(
    problems: _Problems,
    field: str,
    text: str,
    addresses: AddressParser,
    *,
    allow_display_name: bool,
) -> Mailbox | None:
    if not problems.text_ok(field, text, header=True):
        return None
    if len(text) > MAX_ADDRESS_TEXT_CHARS:
        problems.add(field, f"must be at most {MAX_ADDRESS_TEXT_CHARS} characters")
        return None
    try:
        mailbox = addresses.parse(text, allow_display_name=allow_display_name)
    except ValueError as exc:
        problems.add(field, str(exc))
        return None
    if len(mailbox.display_name) > MAX_DISPLAY_NAME_CHARS:
        problems.add(field, f"the display name must be at most {MAX_DISPLAY_NAME_CHARS} characters")
        return None
    return mailbox


def _mailboxes(
    problems: _Problems, field: str, values: Iterable[str], addresses: AddressParser
) -> tuple[Mailbox, ...]:
    found = (
        _mailbox(problems, f"{field}[{i}]", v, addresses, allow_display_name=True)
        for i, v in enumerate(values)
    )
    return tuple(m for m in found if m is not None)


def _unique(
    problems: _Problems,
    field: str,
    values: Iterable[str],
    addresses: AddressParser,
    seen: set[str],
) -> tuple[Mailbox, ...]:
    """Valid mailboxes not already in `seen` (case-insensitive); the first occurrence wins."""
    kept = []
    for mailbox in _mailboxes(problems, field, values, addresses):
        key = mailbox.addr_spec.casefold()
        if key not in seen:
            seen.add(key)
            kept.append(mailbox)
    return tuple(kept)


def _body(problems: _Problems, field: str, value: str | None) -> str | None:
    if value is None or not problems.text_ok(field, value, header=False):
        return None
    return value if value.strip() else None


def _attachments(
    problems: _Problems, request: MessageRequest, policy: Policy
) -> tuple[Attachment, ...]:
    if not request.attachments:
        # A bucket_name without attachments reads nothing, so it is accepted and unused.
        return ()
    bucket = request.bucket_name
    if bucket is None or not bucket.strip():
        problems.add("bucket_name", "is required when attachments are given")
    elif not policy.bucket_allowed(bucket):
        problems.add(
            "bucket_name",
            f"bucket {bucket!r} is not allowed for attachments (see NOTIFIER_ATTACHMENT_BUCKETS)",
        )
    found = []
    for i, item in enumerate(request.attachments):
        path = f"attachments[{i}]"
        key_ok = problems.text_ok(f"{path}.key", item.key, header=True)
        if key_ok and not item.key.strip("/"):
            problems.add(f"{path}.key", "must name an object")
            key_ok = False
        if key_ok and len(item.key.encode()) > MAX_KEY_BYTES:
            problems.add(f"{path}.key", f"must be at most {MAX_KEY_BYTES} bytes")
            key_ok = False
        filename = (
            item.filename if item.filename is not None else item.key.rstrip("/").rsplit("/")[-1]
        )
        name_ok = _filename_ok(problems, f"{path}.filename", filename)
        content_type = item.content_type or _guess_type(filename)
        type_ok = problems.text_ok(f"{path}.content_type", content_type, header=True)
        if type_ok and not _MEDIA_TYPE.fullmatch(content_type):
            problems.add(f"{path}.content_type", "must be a media type like 'application/pdf'")
            type_ok = False
        elif type_ok and content_type.split("/")[0].lower() in {"multipart", "message"}:
            problems.add(f"{path}.content_type", "must not be a multipart or message type")
            type_ok = False
        if key_ok and name_ok and type_ok:
            found.append(
                Attachment(key=item.key, filename=filename, content_type=content_type.lower())
            )
    return tuple(found)


def _filename_ok(problems: _Problems, field: str, filename: str) -> bool:
    if not problems.text_ok(field, filename, header=True):
        return False
    if not filename.strip():
        problems.add(field, "must not be empty")
    elif "/" in filename or "\\" in filename:
        problems.add(field, "must be a file name, not a path")
    elif len(filename.encode("utf-8")) > MAX_FILENAME_BYTES:
        problems.add(field, f"must be at most {MAX_FILENAME_BYTES} bytes in UTF-8")
    else:
        return True
    return False


def _guess_type(filename: str) -> str:
    guessed, _encoding = _MIME_TYPES.guess_type(filename, strict=False)
    return guessed or "application/octet-stream"


MAX_IDEMPOTENCY_KEY_CHARS = 256
MAX_TAGS = 50
_SES_NAME = re.compile(r"[A-Za-z0-9_-]{1,64}")  # configuration set names
_SES_TAG = re.compile(r"[A-Za-z0-9_-]{1,256}")  # message tag names and values


def _idempotency_key(problems: _Problems, key: str | None) -> None:
    if key is None or not problems.text_ok("idempotency_key", key, header=True):
        return
    if not key.strip():
        problems.add("idempotency_key", "must not be empty")
    elif len(key) > MAX_IDEMPOTENCY_KEY_CHARS:
        problems.add("idempotency_key", f"must be at most {MAX_IDEMPOTENCY_KEY_CHARS} characters")


def _configuration_set(problems: _Problems, name: str | None) -> str | None:
    if name is None:
        return None
    if not _SES_NAME.fullmatch(name):
        problems.add(
            "configuration_set", "must be 1 to 64 ASCII letters, digits, '_' or '-' (SES's rule)"
        )
        return None
    return name


def _tags(problems: _Problems, tags: dict[str, str]) -> tuple[tuple[str, str], ...]:
    if len(tags) > MAX_TAGS:
        problems.add("tags", f"at most {MAX_TAGS} tags")
        return ()
    good = []
    for name, value in sorted(tags.items()):
        if not _SES_TAG.fullmatch(name):
            problems.add(
                f"tags.{name[:40]}", "a tag name must be 1 to 256 ASCII letters, digits, '_' or '-'"
            )
        elif not _SES_TAG.fullmatch(value):
            problems.add(
                f"tags.{name}", "a tag value must be 1 to 256 ASCII letters, digits, '_' or '-'"
            )
        else:
            good.append((name, value))
    return tuple(good)


def _list_unsubscribe(problems: _Problems, uris: tuple[str, ...]) -> tuple[str, ...]:
    """At most one https URL (RFC 8058 one-click) and one mailto: URI."""
    good: dict[str, str] = {}
    for index, uri in enumerate(uris):
        field = f"list_unsubscribe[{index}]"
        if not problems.text_ok(field, uri, header=True):
            continue
        parsed = urllib.parse.urlsplit(uri)
        scheme = parsed.scheme.lower()
        if scheme == "https" and parsed.netloc and uri.isascii() and not set(uri) & set("<> "):
            kind = "https"
        elif (
            scheme == "mailto"
            and "@" in parsed.path
            and uri.isascii()
            and not set(uri) & set("<> ")
        ):
            kind = "mailto"
        else:
            problems.add(field, "must be an https:// URL or a mailto: URI (ASCII, no spaces or <>)")
            continue
        if kind in good:
            problems.add(field, f"at most one {kind} URI")
        else:
            good[kind] = uri
    return tuple(good[k] for k in ("https", "mailto") if k in good)
