"""The use case: keep every message's status record, and call producers back on each change.

Callbacks are published before the record is written: a crash between the two publishes the
change again on the retry (consumers deduplicate on `change_id`), and a publish that fails
leaves the record unchanged so that the event is retried; no change is ever lost.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Protocol

import attrs

from notifier.domain.errors import (
    AllRecipientsSuppressed,
    DependencyUnavailable,
    InvalidMessage,
    MessageRejected,
    SendingPaused,
)
from notifier.domain.model import EmailSent, SendEmail
from notifier.domain.ports import StatusCallbacks, StatusStore
from notifier.domain.privacy import redact
from notifier.domain.status import EmailStatus, Observation, Status, StatusChange

WRITE_ATTEMPTS = 8  # concurrent events for one message: each conflict costs one read and write
TENANT_TAG = "tenant"


class Tracker(Protocol):
    """Keeps status records: `StatusService`, or `NullTracker` without a state table."""

    def observe(self, seen: Observation) -> list[StatusChange]:
        """Join an observation into its record; the changes it made."""
        ...

    def sent(self, command: SendEmail, sent: EmailSent) -> list[StatusChange]:
        """Record that SES accepted `command`."""
        ...

    def refused(self, refusal: Refusal) -> StatusChange | None:
        """Record a message refused before SES."""
        ...

    def get(self, ses_message_id: str) -> EmailStatus | None:
        """The live record of an SES message id, or None."""
        ...

    def find(self, idempotency_key: str) -> EmailStatus | None:
        """The live record a sender-scoped idempotency key points at, or None."""
        ...


class NullTracker:
    """No state table (NOTIFIER_STATE_TABLE unset): no statuses, no callbacks."""

    def observe(self, seen: Observation) -> list[StatusChange]:
        """Nothing is kept."""
        return []

    def sent(self, command: SendEmail, sent: EmailSent) -> list[StatusChange]:
        """Nothing is kept."""
        return []

    def refused(self, refusal: Refusal) -> StatusChange | None:
        """Nothing is kept."""
        return None

    def get(self, ses_message_id: str) -> EmailStatus | None:
        """Nothing was kept."""
        return None

    def find(self, idempotency_key: str) -> EmailStatus | None:
        """Nothing was kept."""
        return None


@attrs.frozen(kw_only=True)
class StatusService:
    """Merge observations into status records and publish what changed."""

    store: StatusStore
    callbacks: StatusCallbacks
    retention_seconds: float
    clock: Callable[[], datetime]

    def observe(self, seen: Observation) -> list[StatusChange]:
        """Join `seen` into its record; the changes it made (none for a repeat)."""
        for _ in range(WRITE_ATTEMPTS):
            before = self.store.read(seen.ses_message_id)
            base = before or EmailStatus(
                ses_message_id=seen.ses_message_id,
                expires_at=self.clock().timestamp() + self.retention_seconds,
            )
            after = base.merge(seen)
            if before is not None and after == before:
                return []
            changes = after.changes_since(before)
            if changes:
                self.callbacks.publish(after, changes)
            if self.store.write(attrs.evolve(after, version=base.version + 1)):
                return changes
        raise DependencyUnavailable("the status record kept changing while it was updated")

    def sent(self, command: SendEmail, sent: EmailSent) -> list[StatusChange]:
        """SES accepted `command`: every recipient `sent` (the suppressed ones `suppressed`),
        findable by the idempotency key."""
        at = self.clock().isoformat(timespec="milliseconds")
        tenant = dict(command.tags).get(TENANT_TAG, "")
        seen = Observation.of(
            sent.ses_message_id,
            command.destinations,
            Status.SENT,
            at=at,
            idempotency_key=command.idempotency_key,
            sender=command.sender.addr_spec.lower(),  # as SES events give it, and as in the key
            tenant=tenant,
            template_version=command.template_version,
        )
        left_out = Observation.of(sent.ses_message_id, sent.suppressed, Status.SUPPRESSED, at=at)
        seen = attrs.evolve(seen, recipients={**seen.recipients, **left_out.recipients})
        changes = self.observe(seen)
        self.store.link(
            command.idempotency_key,
            sent.ses_message_id,
            expires_at=self.clock().timestamp() + self.retention_seconds,
        )
        return changes

    def refused(self, refusal: Refusal) -> StatusChange | None:
        """A message refused before SES (`failed`, or `suppressed`: nobody left to send to).
        Nothing when the key's message was sent already: a copy refused later (its recipients
        suppressed since) says nothing of the email that went out."""
        kept = self.store.find(refusal.idempotency_key)
        if kept is not None and kept.ses_message_id:
            return None
        now = self.clock()
        at = now.isoformat(timespec="milliseconds")
        status, detail = refusal.status, refusal.detail
        record = EmailStatus(
            ses_message_id="",
            recipients=Observation.of("", refusal.recipients, status, at=at).recipients,
            message_status=status,
            message_detail=detail,
            idempotency_key=refusal.idempotency_key,
            sender=refusal.sender,
            tenant=refusal.tenant,
            created_at=at,
            updated_at=at,
            expires_at=now.timestamp() + self.retention_seconds,
            version=1,
        )
        change = StatusChange(status=status.value, detail=detail, at=at)
        self.callbacks.publish(record, [change])
        self.store.keep_refused(record)
        return change

    def get(self, ses_message_id: str) -> EmailStatus | None:
        """The record of an SES message id."""
        return self.store.read(ses_message_id)

    def find(self, idempotency_key: str) -> EmailStatus | None:
        """The record a sender-scoped idempotency key points at."""
        return self.store.find(idempotency_key)


@attrs.frozen(kw_only=True)
class Refusal:
    """A message refused for good before SES, and the status it leaves."""

    idempotency_key: str  # sender-scoped
    sender: str
    tenant: str
    status: Status  # FAILED or SUPPRESSED
    detail: str
    recipients: tuple[str, ...] = ()  # those it names (the suppressed ones)


def refusal_status(error: BaseException) -> tuple[Status, str, tuple[str, ...]] | None:
    """The status a failure leaves (and its detail, and the recipients it names), or None when
    it leaves none: transient failures are retried, a paused account is retried, and an
    idempotency conflict must not overwrite the key's first message."""
    if isinstance(error, AllRecipientsSuppressed):
        return Status.SUPPRESSED, "every recipient is suppressed", error.suppressed
    if isinstance(error, InvalidMessage):
        return Status.FAILED, _detail(error), ()
    if isinstance(error, MessageRejected) and not isinstance(error, SendingPaused):
        return Status.FAILED, _detail(error), ()
    return None


def _detail(error: BaseException) -> str:
    text = redact(str(error))
    return text if len(text) <= 500 else text[:500] + "..."
