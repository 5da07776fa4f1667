"""Value objects: the request as producers send it, and the validated command."""

from __future__ import annotations

import enum
import re
from typing import Any

import attrs

_SPACES = re.compile(" {2,}")


class Priority(enum.Enum):
    """Which lane a message travels: transactional mail (password resets, invoices) keeps its
    share of the SES quota under a flood of bulk mail (newsletters, campaigns)."""

    TRANSACTIONAL = "transactional"
    BULK = "bulk"


def _phrase(name: str) -> str:
    return _SPACES.sub(" ", name.strip())


@attrs.frozen(kw_only=True)
class AttachmentRequest:
    """One `attachments` entry as sent: an S3 key, optional file name and media type."""

    key: str
    filename: str | None = None
    content_type: str | None = None


@attrs.frozen(kw_only=True)
class MessageRequest:
    """The message body exactly as producers send it (README "The message")."""

    sender: str
    recipients: tuple[str, ...]
    subject: str | None = None  # required unless `template` is given
    text_content: str | None = None
    html_content: str | None = None
    cc: tuple[str, ...] = ()
    bcc: tuple[str, ...] = ()
    reply_to: tuple[str, ...] = ()
    bucket_name: str | None = None
    attachments: tuple[AttachmentRequest, ...] = ()
    idempotency_key: str | None = None
    configuration_set: str | None = None
    tags: dict[str, str] = attrs.field(factory=dict)
    list_unsubscribe: tuple[str, ...] = ()
    template: str | None = None  # instead of subject / text_content / html_content
    locale: str | None = None  # BCP 47, e.g. fr-FR
    data: dict[str, Any] = attrs.field(factory=dict)  # the template's variables
    priority: str = Priority.TRANSACTIONAL.value  # or "bulk": README "Priority"

    @property
    def bulk(self) -> bool:
        """Whether the producer asked for the bulk lane (an invalid value is not: validation
        refuses it wherever the message is)."""
        return self.priority == Priority.BULK.value


@attrs.frozen(kw_only=True)
class Mailbox:
    """A validated address: `local_part@ascii_domain`, with an optional display name."""

    local_part: str
    ascii_domain: str
    # A display name is a phrase: surrounding and repeated spaces carry no meaning in a header.
    display_name: str = attrs.field(default="", converter=_phrase)

    @property
    def addr_spec(self) -> str:
        """The bare ASCII address SES is given (IDN domains in punycode)."""
        return f"{self.local_part}@{self.ascii_domain}"


@attrs.frozen(kw_only=True)
class Attachment:
    """A validated attachment reference: where to read it and how to name it."""

    key: str
    filename: str
    content_type: str


@attrs.frozen(kw_only=True)
class AttachmentFile:
    """An attachment's content, read from the store."""

    filename: str
    content_type: str
    data: bytes


@attrs.frozen(kw_only=True)
class SendEmail:
    """The command: a message that passed validation and may be composed and sent.

    `content_hash` is the SHA-256 of the request as sent (every field but its idempotency
    key); `idempotency_key` is the sender-scoped key it is sent at most once under."""

    idempotency_key: str
    content_hash: str
    sender: Mailbox
    to: tuple[Mailbox, ...]
    subject: str
    text: str | None = None
    html: str | None = None
    cc: tuple[Mailbox, ...] = ()
    bcc: tuple[Mailbox, ...] = ()
    reply_to: tuple[Mailbox, ...] = ()
    bucket: str | None = None
    attachments: tuple[Attachment, ...] = ()
    configuration_set: str | None = None
    tags: tuple[tuple[str, str], ...] = ()
    list_unsubscribe: tuple[str, ...] = ()
    template_version: str = ""  # of the template it was rendered from, if any
    priority: Priority = Priority.TRANSACTIONAL

    @property
    def destinations(self) -> tuple[str, ...]:
        """Every envelope recipient (To, Cc and Bcc), already de-duplicated."""
        return tuple(m.addr_spec for m in (*self.to, *self.cc, *self.bcc))


@attrs.frozen(kw_only=True)
class EmailSent:
    """SES accepted the message just now."""

    ses_message_id: str
    recipients: int
    size_bytes: int
    suppressed: tuple[str, ...] = ()  # recipients left out because they are suppressed
    unrecorded: bool = False  # sent, but the idempotency record could not be completed
    template_version: str = ""  # of the template the message was rendered from, if any


@attrs.frozen(kw_only=True)
class AlreadySent:
    """Nothing sent: SES accepted the same message under the same key before."""

    ses_message_id: str  # the first send's
