"""The error hierarchy: every failure says whether retrying can help.

Entry points map `PermanentError` to "do not retry" (HTTP 4xx, dead-letter queue after
the receive limit) and `TransientError` to "retry later" (HTTP 503, SQS redelivery).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Literal, Self

import attrs

MAX_FIELD_ERRORS = 50


@attrs.frozen
class FieldError:
    """One problem with one field of a message; `field` is a path like `attachments[0].key`."""

    field: str
    message: str


class NotifierError(Exception):
    """Root of every error the service raises on purpose."""

    permanent: bool = True
    reason: str = "error"


class PermanentError(NotifierError):
    """Retrying the same message cannot succeed."""

    permanent = True


class TransientError(NotifierError):
    """The same message may succeed later (throttling, outage, timeout)."""

    permanent = False


class InvalidMessage(PermanentError):
    """The message breaks the schema or a policy; nothing was sent."""

    reason = "invalid"

    def __init__(self, errors: Iterable[FieldError]) -> None:
        found = list(errors)
        if len(found) > MAX_FIELD_ERRORS:  # a response and a log line must stay small
            more = len(found) - MAX_FIELD_ERRORS
            found = [*found[:MAX_FIELD_ERRORS], FieldError("(message)", f"and {more} more errors")]
        self.errors = tuple(found)
        super().__init__("; ".join(f"{e.field}: {e.message}" for e in self.errors))

    @classmethod
    def one(cls, field: str, message: str) -> Self:
        """An error about a single field."""
        return cls([FieldError(field, message)])


class MessageTooLarge(InvalidMessage):
    """The message, once encoded, would be over the size limit (the HTTP API answers 413; a
    direct invocation 400, as any invalid message)."""


class EnqueueNotConfigured(PermanentError):
    """No email queue to put a message on (NOTIFIER_QUEUE_URL is unset)."""

    reason = "not_configured"


class AttachmentUnavailable(PermanentError):
    """An attachment object is missing or cannot be read with our permissions."""

    reason = "invalid"

    def __init__(self, key: str, why: str) -> None:
        self.key = key
        super().__init__(f"attachment {key!r} {why}")


class MessageRejected(PermanentError):
    """SES refused the message for good (unverified sender, rejected content, paused)."""

    reason = "rejected"

    def __init__(self, message: str, *, code: str) -> None:
        self.code = code
        super().__init__(message)


class SendThrottled(TransientError):
    """SES throttled us past our retries."""

    reason = "throttled"


class DependencyUnavailable(TransientError):
    """An AWS dependency failed or timed out past our retries."""

    reason = "error"


class QuotaUnavailable(TransientError):
    """The sending quota could not be read; `code` is the provider's error code (or the
    failure's type). Never a message's error: only the quota metrics are skipped."""

    reason = "error"

    def __init__(self, message: str, *, code: str) -> None:
        self.code = code
        super().__init__(message)


class MemoryBudgetFull(TransientError):
    """Other large messages held the memory budget (NOTIFIER_MAX_BYTES_IN_FLIGHT) until the
    deadline: nothing was sent, the message is retried later."""

    reason = "busy"


class OverLimit(TransientError):
    """The producer sent as much as its limit allows (per second, or per UTC day): nothing was
    sent; the same message goes through after `retry_after` seconds."""

    reason = "over_limit"

    def __init__(
        self,
        producer: str,
        *,
        which: Literal["rate", "daily"],
        limit: float,
        retry_after: float,
    ) -> None:
        self.producer = producer
        self.which = which
        self.retry_after = retry_after
        unit = "recipients/s" if which == "rate" else "recipients/day"
        amount = int(limit) if limit == int(limit) else limit  # 20, not 20.0; but 2.5
        super().__init__(
            f"producer {producer} is over its limit of {amount} {unit};"
            f" retry in {math.ceil(retry_after)} s"
        )


class SendingPaused(MessageRejected):
    """SES has paused sending for the account or configuration set: the rest of the batch is
    not attempted (each call would fail the same way)."""

    reason = "paused"


class AllRecipientsSuppressed(PermanentError):
    """Every recipient is on the suppression list (bounced for good or complained)."""

    reason = "suppressed"

    def __init__(self, suppressed: tuple[str, ...]) -> None:
        self.suppressed = suppressed
        super().__init__(f"all {len(suppressed)} recipient(s) are suppressed; nothing was sent")


class IdempotencyConflict(PermanentError):
    """The idempotency key was already used for a different message."""

    reason = "conflict"


class DuplicateInProgress(TransientError):
    """The same message is being sent right now by another invocation: retry later."""

    reason = "in_progress"
