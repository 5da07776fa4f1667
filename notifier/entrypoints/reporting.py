"""What one processed record leaves behind: its canonical log line and its metrics.

Addresses are masked and error texts redacted: no full address, body or secret is logged.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import attrs
import structlog

from notifier.domain.deferral import Deferred, Forwarded
from notifier.domain.errors import AllRecipientsSuppressed, InvalidMessage, NotifierError
from notifier.domain.feedback import FeedbackKind, FeedbackRecorded, SetupNotice
from notifier.domain.model import AlreadySent, EmailSent
from notifier.domain.ports import Metrics, Unit
from notifier.domain.privacy import mask_address, redact
from notifier.domain.status import StatusChange

log = structlog.get_logger("notifier")


@attrs.frozen
class Envelope:
    """Who a message was from and to, masked at construction: all a log line keeps of it."""

    sender: str
    recipients: tuple[str, ...]

    @classmethod
    def masked(cls, sender: str, recipients: Iterable[str]) -> Envelope:
        """Mask each address as given (valid or not: an invalid message is logged too)."""
        return cls(mask_address(sender), tuple(mask_address(a) for a in recipients))


@attrs.frozen(kw_only=True)
class Outcome:
    """What happened to one record: an email sent (or found sent before), put back for later
    (`deferred`: with `error` too when the original was held back, its receive counted),
    forwarded to another lane, a notification recorded, or an error."""

    record_id: str
    duration_ms: float
    envelope: Envelope | None = None  # None for a notification or an unparseable record
    sent: EmailSent | AlreadySent | None = None
    recorded: FeedbackRecorded | None = None
    notice: SetupNotice | None = None
    error: BaseException | None = None
    deferred: Deferred | None = None
    forwarded: Forwarded | None = None
    changes: tuple[StatusChange, ...] = ()  # of the message's status record


def reason(error: BaseException) -> str:
    """The failure's reason, a metric dimension: invalid, rejected, throttled, over_limit,
    error, busy, suppressed, conflict, in_progress or paused."""
    return error.reason if isinstance(error, NotifierError) else "error"


def report(outcome: Outcome, metrics: Metrics) -> None:
    """Log the record's canonical line and record its metrics."""
    fields: dict[str, Any] = {
        # Explicit, not only merged by the processor: this line must always carry the ids.
        **structlog.contextvars.get_contextvars(),
        "message_id": outcome.record_id,
        "duration_ms": round(outcome.duration_ms, 1),
    }
    for change in (*outcome.changes, *(outcome.recorded.changes if outcome.recorded else ())):
        metrics.add("StatusChanges", 1, Unit.COUNT, reason=change.status)
    if outcome.notice is not None:
        log.info(
            "ses.setup_notice", notice=outcome.notice.name, topic=outcome.notice.topic, **fields
        )
        return
    if outcome.recorded is not None:
        _feedback(outcome.recorded, metrics, fields)
        return
    if outcome.envelope is not None:
        fields["sender"] = outcome.envelope.sender
        fields["recipients"] = list(outcome.envelope.recipients)
    if outcome.deferred is not None:
        _deferred(outcome.deferred, metrics, fields)
    elif outcome.forwarded is not None:
        lane = outcome.forwarded.lane.value
        metrics.add("EmailsForwarded", 1, Unit.COUNT, reason=lane)
        log.info(
            "email.processed",
            outcome="forwarded",
            lane=lane,
            copy_message_id=outcome.forwarded.copy_id,
            **fields,
        )
    elif isinstance(outcome.sent, AlreadySent):
        metrics.add("EmailsDuplicate", 1, Unit.COUNT)
        log.info(
            "email.processed",
            outcome="duplicate",
            ses_message_id=outcome.sent.ses_message_id,
            **fields,
        )
    elif outcome.sent is not None:
        _sent(outcome.sent, outcome.duration_ms, metrics, fields)
    else:
        assert outcome.error is not None  # an Outcome has sent, recorded or error
        _failed(outcome.error, metrics, fields)


def _sent(sent: EmailSent, duration_ms: float, metrics: Metrics, fields: dict[str, Any]) -> None:
    for address in sent.suppressed:
        metrics.add("SuppressedSkips", 1, Unit.COUNT)
        log.info("recipient.suppressed", recipient=mask_address(address), **fields)
    if sent.unrecorded:
        metrics.add("IdempotencyUnrecorded", 1, Unit.COUNT)
        log.error("idempotency.unrecorded", ses_message_id=sent.ses_message_id, **fields)
    metrics.add("EmailsSent", 1, Unit.COUNT)
    metrics.add("Recipients", sent.recipients, Unit.COUNT)
    metrics.add("SendLatency", duration_ms, Unit.MILLISECONDS)
    log.info(
        "email.processed",
        outcome="sent",
        ses_message_id=sent.ses_message_id,
        size_bytes=sent.size_bytes,
        **({"template_version": sent.template_version} if sent.template_version else {}),
        **fields,
    )


def _deferred(deferred: Deferred, metrics: Metrics, fields: dict[str, Any]) -> None:
    """Waiting is not failing: an info line, and EmailsDeferred rather than EmailsFailed."""
    metrics.add("EmailsDeferred", 1, Unit.COUNT, reason=deferred.reason)
    if deferred.producer:
        fields["producer"] = deferred.producer
    log.info(
        "email.processed",
        outcome="deferred",
        reason=deferred.reason,
        delay_seconds=deferred.delay_seconds,
        deferrals=deferred.deferrals,
        receive_counted=not deferred.copied,
        **({"copy_message_id": deferred.copy_id} if deferred.copy_id else {}),
        **fields,
    )


def _failed(error: BaseException, metrics: Metrics, fields: dict[str, Any]) -> None:
    why = reason(error)
    metrics.add("EmailsFailed", 1, Unit.COUNT, reason=why)
    if isinstance(error, AllRecipientsSuppressed):
        metrics.add("SuppressedSkips", len(error.suppressed), Unit.COUNT)
        for address in error.suppressed:
            log.info("recipient.suppressed", recipient=mask_address(address), **fields)
    if isinstance(error, InvalidMessage):
        # A field name is the producer's text (an unknown key may be an address): redacted.
        fields["invalid_fields"] = [redact(e.field) for e in error.errors]
    log.warning(
        "email.processed",
        outcome="failed",
        reason=why,
        retryable=not getattr(error, "permanent", False),
        error=redact(str(error)) if isinstance(error, NotifierError) else type(error).__name__,
        **fields,
    )


def _feedback(recorded: FeedbackRecorded, metrics: Metrics, fields: dict[str, Any]) -> None:
    feedback = recorded.feedback
    if feedback.kind is FeedbackKind.BOUNCE:
        kind = f"{feedback.feedback_type or 'Undetermined'}.{feedback.feedback_sub_type or 'None'}"
        metrics.add("Bounces", len(feedback.recipients), Unit.COUNT, reason=kind)
    elif feedback.kind is FeedbackKind.COMPLAINT:
        metrics.add("Complaints", len(feedback.recipients), Unit.COUNT)
    elif feedback.kind is FeedbackKind.DELIVERY:
        metrics.add("Deliveries", len(feedback.recipients), Unit.COUNT)
    if recorded.suppressed:
        metrics.add("AddressesSuppressed", len(recorded.suppressed), Unit.COUNT)
    log.info(
        "feedback.processed",
        kind=feedback.kind.value,
        ses_message_id=feedback.ses_message_id,
        feedback_type=feedback.feedback_type,
        feedback_sub_type=feedback.feedback_sub_type,
        recipients=[mask_address(a) for a in feedback.recipients],
        suppressed=[mask_address(a) for a in recorded.suppressed],
        **fields,
    )
