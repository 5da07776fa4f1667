"""Ports: what the core needs from the outside world. Adapters implement them; fakes too."""

from __future__ import annotations

import enum
from collections.abc import Collection, Sequence
from typing import Protocol

from notifier.domain.deferral import QueuedMessage
from notifier.domain.model import Mailbox, MessageRequest, Priority
from notifier.domain.quota import Quota
from notifier.domain.state import BucketState, IdempotencyRecord, Suppression
from notifier.domain.status import EmailStatus, StatusChange


class AddressParser(Protocol):
    """Turns user-supplied address text into a `Mailbox`."""

    def parse(self, text: str, *, allow_display_name: bool) -> Mailbox:
        """Return the mailbox, or raise `ValueError` with a reason a producer can act on."""
        ...


class AttachmentStore(Protocol):
    """Where attachment objects live (S3)."""

    def size(self, bucket: str, key: str) -> int:
        """Size in bytes, from metadata only; raise `AttachmentUnavailable` if missing."""
        ...

    def read(self, bucket: str, key: str) -> bytes:
        """The whole object; raise `AttachmentUnavailable` if missing or denied."""
        ...


class Mailer(Protocol):
    """Sends composed raw messages (SES `SendRawEmail`)."""

    def send_raw(
        self,
        *,
        raw: bytes,
        source: str,
        destinations: tuple[str, ...],
        deadline: float,
        configuration_set: str | None = None,
        tags: tuple[tuple[str, str], ...] = (),
    ) -> str:
        """Send and return the provider's message id; `deadline` is a `time.monotonic()` bound.
        `configuration_set` overrides the mailer's default one; `tags` are SES message tags."""
        ...


class SendQuota(Protocol):
    """The account's sending quota (SES `GetSendQuota`, a call AWS rate-limits)."""

    def read(self) -> Quota:
        """The quota now; raise `QuotaUnavailable` (with the provider's error code) when it
        cannot be read: throttled, denied, or not implemented by an emulator."""
        ...


class Unit(enum.Enum):
    """CloudWatch's unit names: EMF and `PutMetricData` take the value as it is."""

    COUNT = "Count"
    MILLISECONDS = "Milliseconds"
    PERCENT = "Percent"


class Metrics(Protocol):
    """Collects metrics for one invocation and publishes them on `flush()`."""

    def add(self, name: str, value: float, unit: Unit, *, reason: str | None = None) -> None:
        """Record one value; `reason` adds a Reason dimension (failures by cause)."""
        ...

    def flush(self) -> None:
        """Publish what was recorded since the last flush."""
        ...


class IdempotencyStore(Protocol):
    """Idempotency records (Powertools-style semantics, checked in code, not by TTL)."""

    def claim(self, record: IdempotencyRecord, *, now: float) -> IdempotencyRecord | None:
        """Atomically write `record` (IN_PROGRESS) unless a live record holds its key.

        Return None when written; otherwise the live record, untouched. A record whose
        `expires_at` <= `now` is not live: it is overwritten (taken over)."""
        ...

    def complete(
        self, key: str, *, payload_hash: str, ses_message_id: str, expires_at: float
    ) -> None:
        """Mark the key COMPLETED for this payload with the SES message id, live until
        `expires_at`, whatever became of the claim meanwhile (the email is out)."""
        ...

    def release(self, key: str) -> None:
        """Delete the key's record (the send failed before SES accepted it)."""
        ...


class LimitStore(Protocol):
    """Producers' token buckets, written with optimistic concurrency on `version`."""

    def read(self, producer: str) -> BucketState | None:
        """The producer's bucket as last written, or None if it never was (or expired)."""
        ...

    def write(self, producer: str, state: BucketState) -> bool:
        """Store `state` if the stored one is still at `state.version - 1` (none at all for
        version 1); False when another writer got there first (read again and retry)."""
        ...


class SuppressionList(Protocol):
    """Addresses that bounced for good or complained, plus transient-bounce counts."""

    def suppressed(self, addresses: Collection[str]) -> set[str]:
        """The subset of `addresses` (lower-case ASCII) that is suppressed."""
        ...

    def add(self, entry: Suppression) -> bool:
        """Suppress an address (replacing any earlier entry for it); True once it is kept."""
        ...

    def remove(self, address: str) -> bool:
        """Stop suppressing an address (and forget its transient bounces); False if absent."""
        ...

    def entries(self) -> list[Suppression]:
        """Every suppressed address, sorted by address."""
        ...

    def count_transient_bounce(
        self, address: str, *, bounce_id: str, at: float, window_seconds: float
    ) -> int:
        """Record one transient bounce at `at`, once per `bounce_id` (SES's feedbackId: a
        redelivered notification is not counted again); return how many fell within the
        window."""
        ...


class StatusStore(Protocol):
    """Status records (README "Statuses"), written with optimistic concurrency on `version`."""

    def read(self, ses_message_id: str) -> EmailStatus | None:
        """The live record of that SES message id, or None (never written, or expired)."""
        ...

    def write(self, record: EmailStatus) -> bool:
        """Store `record` if the stored one is still at `record.version - 1` (none at all for
        version 1); False when another writer got there first (read again and retry)."""
        ...

    def link(self, idempotency_key: str, ses_message_id: str, *, expires_at: float) -> None:
        """Make the message's record findable by its sender-scoped idempotency key."""
        ...

    def keep_refused(self, record: EmailStatus) -> None:
        """Keep the record of a message refused before SES (no SES message id), found by its
        `idempotency_key` alone; it replaces what that key pointed at."""
        ...

    def find(self, idempotency_key: str) -> EmailStatus | None:
        """The live record a sender-scoped idempotency key points at, or None."""
        ...


class StatusCallbacks(Protocol):
    """Where status changes are published for producers (an SNS topic)."""

    def publish(self, record: EmailStatus, changes: Sequence[StatusChange]) -> None:
        """Publish each change of `record` (at least once); raise `TransientError` if any
        could not be published."""
        ...


class EmailQueue(Protocol):
    """Where a message waits to be sent later (the email queue, SQS)."""

    def enqueue(self, request: MessageRequest) -> str:
        """Put the message on the queue and return the queue's id for it; raise
        `MessageTooLarge` when it cannot fit a queue message, `TransientError` when the queue
        cannot be reached, `EnqueueNotConfigured` when there is no queue."""
        ...


class Requeue(Protocol):
    """Puts a message that arrived from a queue or a topic on a queue again: later, or on
    another lane. `put_back` and `forward` raise `TransientError` when that cannot be done."""

    def lane_of(self, message: QueuedMessage) -> Priority | None:
        """The lane of the queue the message came from; None from SNS or an unknown queue."""
        ...

    def has_lane(self, lane: Priority) -> bool:
        """Whether a queue is configured for `lane`."""
        ...

    def put_back(
        self,
        message: QueuedMessage,
        *,
        lane: Priority,
        delay_seconds: int,
        deferrals: int,
        failures: int,
    ) -> str:
        """A fresh copy on the queue the message came from (on `lane`'s queue when it came
        from SNS), received `delay_seconds` from now and carrying its counts of deferrals and
        of real failures; returns the copy's queue message id."""
        ...

    def forward(self, message: QueuedMessage, *, lane: Priority) -> str:
        """A copy on `lane`'s queue, now; returns its queue message id."""
        ...

    def hold(self, message: QueuedMessage, *, delay_seconds: int) -> None:
        """Keep the original out of sight for `delay_seconds` (ChangeMessageVisibility)."""
        ...
