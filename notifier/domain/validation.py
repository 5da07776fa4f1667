"""Validation: a `MessageRequest` becomes a `SendEmail` (carrying its content hash and
idempotency key), or every problem is reported at once."""

from __future__ import annotations

import functools
import mimetypes
import re
from collections.abc import Iterable

import attrs

from notifier.domain import delivery
from notifier.domain.errors import InvalidMessage
from notifier.domain.idempotency import idempotency_key, payload_hash
from notifier.domain.model import Attachment, Mailbox, MessageRequest, SendEmail
from notifier.domain.policy import Policy
from notifier.domain.ports import AddressParser
from notifier.domain.problems import Problems
from notifier.domain.templates import NoRenderer, NoTemplates, Templates

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


@functools.cache
def _mime_types() -> mimetypes.MimeTypes:
    """Python's built-in table only, so a guess is the same on every machine and in the Lambda
    image. Made on the first attachment without a content type: creating it also reads the
    system's mime.types files (a few ms of the cold start otherwise)."""
    return mimetypes.MimeTypes()


@attrs.frozen
class Validator:
    """The operator's policy and an address parser: what turns requests into commands."""

    policy: Policy
    addresses: AddressParser
    templates: Templates = attrs.field(factory=lambda: Templates(NoTemplates(), NoRenderer()))

    def command(self, request: MessageRequest) -> SendEmail:
        """The command for a valid request (a templated one rendered first, then validated
        like any other); raise `InvalidMessage` listing every problem."""
        rendered, version = self.templates.expand(request)
        command = validate(rendered, policy=self.policy, addresses=self.addresses, hashed=request)
        return attrs.evolve(command, template_version=version) if version else command

    def key_of(self, request: MessageRequest) -> str | None:
        """The sender-scoped idempotency key of a request, valid or not, when its sender is an
        address and its own key (if any) is acceptable: what a refused message's status is
        found by. None when there is no such key."""
        problems = Problems()
        sender = _mailbox(
            problems, "sender", request.sender, self.addresses, allow_display_name=True
        )
        delivery.idempotency_key(problems, request.idempotency_key)
        if sender is None or problems.errors:
            return None
        return idempotency_key(request, sender=sender.addr_spec, content_hash=payload_hash(request))


def validate(
    request: MessageRequest,
    *,
    policy: Policy,
    addresses: AddressParser,
    hashed: MessageRequest | None = None,
) -> SendEmail:
    """Return the command for a valid request; raise `InvalidMessage` listing every problem.
    `hashed` is the request as the producer sent it when `request` was rendered from a
    template: the content hash (and so the idempotency key) is the producer's message, the
    same whatever version of the template renders it."""
    problems = Problems()
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
    if request.template is None:
        for field in ("locale", "data"):
            if getattr(request, field):
                problems.add(field, "is only used with template")
    subject = (request.subject or "").strip()
    if request.subject is None:
        problems.add("subject", "is required (or give template, locale and data)")
    elif problems.text_ok("subject", subject, header=True):
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
    delivery.idempotency_key(problems, request.idempotency_key)
    configuration_set = delivery.configuration_set(problems, request.configuration_set)
    tags = delivery.tags(problems, request.tags)
    list_unsubscribe = delivery.list_unsubscribe(problems, request.list_unsubscribe)
    priority = delivery.priority(problems, request.priority)

    if problems.errors:
        raise InvalidMessage(problems.errors)
    assert sender is not None  # every None above added a problem
    content_hash = payload_hash(hashed if hashed is not None else request)
    return SendEmail(
        idempotency_key=idempotency_key(
            request, sender=sender.addr_spec, content_hash=content_hash
        ),
        content_hash=content_hash,
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
        priority=priority,
    )


def _mailbox(
    problems: Problems,
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
    problems: Problems, field: str, values: Iterable[str], addresses: AddressParser
) -> tuple[Mailbox, ...]:
    found = (
        _mailbox(problems, f"{field}[{i}]", v, addresses, allow_display_name=True)
        for i, v in enumerate(values)
    )
    return tuple(m for m in found if m is not None)


def _unique(
    problems: Problems,
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


def _body(problems: Problems, field: str, value: str | None) -> str | None:
    if value is None or not problems.text_ok(field, value, header=False):
        return None
    return value if value.strip() else None


def _attachments(
    problems: Problems, request: MessageRequest, policy: Policy
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


def _filename_ok(problems: Problems, field: str, filename: str) -> bool:
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
    guessed, _encoding = _mime_types().guess_type(filename, strict=False)
    return guessed or "application/octet-stream"
