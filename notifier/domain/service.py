"""The use case: send one validated email. Talks to ports only."""

from __future__ import annotations

import contextlib
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime

import attrs

from notifier.domain.budget import DEFAULT_BYTES_IN_FLIGHT, ByteBudget
from notifier.domain.errors import AttachmentUnavailable, InvalidMessage, MessageTooLarge
from notifier.domain.idempotency import send_once
from notifier.domain.limiter import Limiter, NullLimiter
from notifier.domain.limits import producer_of
from notifier.domain.mime import compose, message_id
from notifier.domain.model import AlreadySent, AttachmentFile, EmailSent, SendEmail
from notifier.domain.policy import Policy
from notifier.domain.ports import AttachmentStore, IdempotencyStore, Mailer, SuppressionList
from notifier.domain.suppression import without_suppressed

# A wait for the producer's limit leaves at least this much of the invocation to compose the
# message and have SES accept it.
LIMIT_SEND_RESERVE_SECONDS = 5.0

# base64 turns 3 bytes into 4 and adds CRLF every 76 characters.
_BASE64_NUMERATOR, _BASE64_DENOMINATOR = 4 * 78, 3 * 76


def encoded_size(raw_size: int) -> int:
    """An upper bound of an attachment's size once base64-encoded into the message."""
    return -(-raw_size * _BASE64_NUMERATOR // _BASE64_DENOMINATOR) + 2


def utc_now() -> datetime:
    """The default clock."""
    return datetime.now(UTC)


@attrs.frozen(kw_only=True)
class EmailService:
    """Leave out suppressed recipients, send at most once, hold the producer to its limits,
    compose and send. `limit_max_wait`: how long a send may wait for its producer's limit
    rather than be refused (never past the deadline)."""

    mailer: Mailer
    attachments: AttachmentStore
    policy: Policy
    idempotency: IdempotencyStore
    suppression: SuppressionList
    idempotency_ttl_seconds: float = 24 * 3600
    budget: ByteBudget = attrs.field(factory=lambda: ByteBudget(DEFAULT_BYTES_IN_FLIGHT))
    clock: Callable[[], datetime] = utc_now
    monotonic: Callable[[], float] = time.monotonic
    limiter: Limiter = attrs.field(factory=NullLimiter)
    limit_max_wait: float = 0.0

    def send(self, command: SendEmail, *, deadline: float) -> EmailSent | AlreadySent:
        """Send `command` unless it was sent before; raise a `NotifierError` saying whether a
        retry can help."""
        command, suppressed = without_suppressed(command, self.suppression)
        sent = send_once(
            store=self.idempotency,
            key=command.idempotency_key,
            content_hash=command.content_hash,
            now=self.clock().timestamp(),
            remaining_seconds=deadline - self.monotonic(),
            ttl_seconds=self.idempotency_ttl_seconds,
            send=lambda: self._deliver(command, deadline),
        )
        return attrs.evolve(sent, suppressed=suppressed) if isinstance(sent, EmailSent) else sent

    def _deliver(self, command: SendEmail, deadline: float) -> EmailSent:
        # Inside send_once: a duplicate takes nothing from the limit, and a refusal releases
        # the idempotency claim like any failure before SES, so the retry can send.
        left = deadline - self.monotonic() - LIMIT_SEND_RESERVE_SECONDS
        producer, recipients = producer_of(command), len(command.destinations)
        self.limiter.acquire(
            producer, recipients, max_wait=max(0.0, min(self.limit_max_wait, left))
        )
        try:
            return self._compose_and_send(command, deadline)
        except BaseException:
            # Not sent (as far as we know: an answer lost after SES accepted is refunded too,
            # the rarer error): the producer's allowance and day's count get it back, so SES
            # throttling does not use up a producer's day.
            self.limiter.give_back(producer, recipients)
            raise

    def _compose_and_send(self, command: SendEmail, deadline: float) -> EmailSent:
        sizes = self._attachment_sizes(command)
        # What the message will weigh once encoded, known before anything is downloaded.
        estimate = sum(map(encoded_size, sizes)) + sum(
            encoded_size(len(text.encode())) for text in (command.text, command.html) if text
        )
        with self.budget.reserve(estimate, timeout=deadline - self.monotonic()):
            raw = self.compose(command)
            ses_id = self.mailer.send_raw(
                raw=raw,
                source=command.sender.addr_spec,
                destinations=command.destinations,
                deadline=deadline,
                configuration_set=command.configuration_set,
                tags=command.tags,
            )
        return EmailSent(
            ses_message_id=ses_id,
            recipients=len(command.destinations),
            size_bytes=len(raw),
            template_version=command.template_version,
        )

    def compose(self, command: SendEmail) -> bytes:
        """The raw message, size-checked after encoding."""
        raw = compose(
            command,
            self._read_attachments(command),
            date=self.clock(),
            message_id=message_id(unique=uuid.uuid4().hex, domain=command.sender.ascii_domain),
        )
        if len(raw) > self.policy.max_message_bytes:
            raise MessageTooLarge.one(
                "(message)",
                f"the composed message is {len(raw)} bytes,"
                f" over the {self.policy.max_message_bytes}-byte limit",
            )
        return raw

    def _attachment_sizes(self, command: SendEmail) -> list[int]:
        """Sizes from the store's metadata; refuse before download what cannot fit."""
        if not command.attachments:
            return []
        assert command.bucket is not None  # validation requires it with attachments
        sizes = []
        for index, attachment in enumerate(command.attachments):
            with _naming_attachment(index):
                sizes.append(self.attachments.size(command.bucket, attachment.key))
        estimate = sum(encoded_size(size) for size in sizes)
        if estimate > self.policy.max_message_bytes:
            raise MessageTooLarge.one(
                "attachments",
                f"attachments total {sum(sizes)} bytes, about {estimate} bytes once encoded,"
                f" over the {self.policy.max_message_bytes}-byte message limit",
            )
        return sizes

    def _read_attachments(self, command: SendEmail) -> list[AttachmentFile]:
        files = []
        for index, attachment in enumerate(command.attachments):
            assert command.bucket is not None
            with _naming_attachment(index):
                data = self.attachments.read(command.bucket, attachment.key)
            files.append(
                AttachmentFile(
                    filename=attachment.filename, content_type=attachment.content_type, data=data
                )
            )
        return files


@contextlib.contextmanager
def _naming_attachment(index: int) -> Iterator[None]:
    """Report a missing or unreadable object as a field error on that attachment."""
    try:
        yield
    except AttachmentUnavailable as exc:
        raise InvalidMessage.one(f"attachments[{index}].key", str(exc)) from exc
