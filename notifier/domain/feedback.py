"""SES feedback: bounce, complaint and delivery notifications, and what they do to the
suppression list. The wire format is read by `notifier.adapters.inbound.ses_feedback`; the
domain sees only the typed `Feedback`.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from datetime import datetime

import attrs

from notifier.domain.ports import SuppressionList
from notifier.domain.state import Suppression, SuppressionReason
from notifier.domain.status import Engagement, Observation, Status, StatusChange
from notifier.domain.tracking import Tracker

TRANSIENT_BOUNCE_WINDOW_SECONDS = 7 * 24 * 3600


class FeedbackKind(enum.Enum):
    """Every SES event type, by the name SES gives it."""

    SEND = "Send"
    REJECT = "Reject"
    BOUNCE = "Bounce"
    COMPLAINT = "Complaint"
    DELIVERY = "Delivery"
    DELIVERY_DELAY = "DeliveryDelay"
    OPEN = "Open"
    CLICK = "Click"
    RENDERING_FAILURE = "Rendering Failure"
    SUBSCRIPTION = "Subscription"
    OTHER = "Other"  # a type SES may add later: logged, nothing else


@attrs.frozen(kw_only=True)
class Feedback:
    """One SES event about one sent message, possibly for several recipients."""

    kind: FeedbackKind
    ses_message_id: str
    recipients: tuple[str, ...]  # lower-case addresses the event is about
    destination: tuple[str, ...] = ()  # lower-case: every recipient of the message (mail)
    feedback_type: str = ""  # bounceType, complaintFeedbackType, delayType
    feedback_sub_type: str = ""  # bounceSubType, complaintSubType
    feedback_id: str = ""
    timestamp: str = ""  # the event's own, else the message's
    detail: str = ""  # a reject reason, a rendering error
    sender: str = ""  # the bare source address
    tenant: str = ""  # the message's `tenant` tag (event publishing carries the tags)
    unsubscribed: bool = False  # a Subscription event opting out of everything

    @property
    def permanent_bounce(self) -> bool:
        return self.kind is FeedbackKind.BOUNCE and self.feedback_type == "Permanent"


@attrs.frozen(kw_only=True)
class FeedbackRecorded:
    """What a notification changed: the addresses now suppressed, the status changes."""

    feedback: Feedback
    suppressed: tuple[str, ...] = ()
    changes: tuple[StatusChange, ...] = ()


@attrs.frozen
class SetupNotice:
    """What SES publishes to a feedback topic when it is attached (`topic-validated`,
    `subscription-succeeded`): acknowledged and logged, nothing to do."""

    name: str
    topic: str


def observation(feedback: Feedback) -> Observation | None:
    """What an SES event says of its message's status; None for an unknown event type.

    Any event but a Reject or a Rendering Failure implies SES accepted the message, so the
    message's destinations are `sent` at least: an event arriving before notifier's own send
    record leaves the record it will have anyway."""
    kind, at = feedback.kind, feedback.timestamp
    if kind is FeedbackKind.OTHER:
        return None
    base = Observation(
        ses_message_id=feedback.ses_message_id,
        sender=feedback.sender,
        tenant=feedback.tenant,
        at=at,
    )
    if kind is FeedbackKind.REJECT:
        return attrs.evolve(base, message_status=Status.REJECTED, message_detail=feedback.detail)
    if kind is FeedbackKind.RENDERING_FAILURE:
        return attrs.evolve(
            base, message_status=Status.RENDERING_FAILED, message_detail=feedback.detail
        )
    sent = Observation.of(feedback.ses_message_id, feedback.destination, Status.SENT, at=at)
    status = _RECIPIENT_STATUS.get(kind)
    detail = ".".join(filter(None, (feedback.feedback_type, feedback.feedback_sub_type)))
    about = (
        Observation.of(feedback.ses_message_id, feedback.recipients, status, at=at, detail=detail)
        if status is not None
        else sent
    )
    engagement = _ENGAGEMENT.get(kind)
    if kind is FeedbackKind.SUBSCRIPTION and not feedback.unsubscribed:
        engagement = None
    return attrs.evolve(
        base,
        recipients={**sent.recipients, **about.recipients},
        engagement={engagement: at} if engagement is not None else {},
    )


_RECIPIENT_STATUS = {
    FeedbackKind.SEND: Status.SENT,
    FeedbackKind.DELIVERY: Status.DELIVERED,
    FeedbackKind.DELIVERY_DELAY: Status.DELAYED,
    FeedbackKind.BOUNCE: Status.BOUNCED,
    FeedbackKind.COMPLAINT: Status.COMPLAINED,
}
_ENGAGEMENT = {
    FeedbackKind.OPEN: Engagement.OPENED,
    FeedbackKind.CLICK: Engagement.CLICKED,
    FeedbackKind.SUBSCRIPTION: Engagement.UNSUBSCRIBED,
}


def record_feedback(
    feedback: Feedback,
    *,
    suppression: SuppressionList,
    transient_bounce_limit: int,
    now: float,
) -> FeedbackRecorded:
    """Suppress permanent bounces and complaints at once; transient bounces once an address
    reaches `transient_bounce_limit` within 7 days. Only addresses the list kept are reported
    (the null list of a deployment without a state table keeps none)."""
    if feedback.kind not in (FeedbackKind.BOUNCE, FeedbackKind.COMPLAINT):
        return FeedbackRecorded(feedback=feedback)
    suppressed = []
    for address in feedback.recipients:
        if feedback.kind is FeedbackKind.COMPLAINT:
            reason = SuppressionReason.COMPLAINT
        elif feedback.permanent_bounce:
            reason = SuppressionReason.BOUNCE
        elif (
            suppression.count_transient_bounce(
                address,
                bounce_id=feedback.feedback_id or f"{feedback.ses_message_id}#{feedback.timestamp}",
                at=now,
                window_seconds=TRANSIENT_BOUNCE_WINDOW_SECONDS,
            )
            >= transient_bounce_limit
        ):
            reason = SuppressionReason.TRANSIENT_BOUNCES
        else:
            continue
        kept = suppression.add(
            Suppression(
                address=address,
                reason=reason,
                feedback_type=feedback.feedback_type,
                feedback_sub_type=feedback.feedback_sub_type,
                feedback_id=feedback.feedback_id,
                timestamp=feedback.timestamp,
            )
        )
        if kept:
            suppressed.append(address)
    return FeedbackRecorded(feedback=feedback, suppressed=tuple(suppressed))


@attrs.frozen(kw_only=True)
class FeedbackService:
    """The use case: record one SES event (suppression first: it is idempotent on its own,
    so a status update that fails and is retried never counts a bounce twice)."""

    suppression: SuppressionList
    tracking: Tracker
    transient_bounce_limit: int
    clock: Callable[[], datetime]

    def record(self, feedback: Feedback) -> FeedbackRecorded:
        """Apply the event to the suppression list, then to the message's status record."""
        recorded = record_feedback(
            feedback,
            suppression=self.suppression,
            transient_bounce_limit=self.transient_bounce_limit,
            now=self.clock().timestamp(),
        )
        seen = observation(feedback)
        if seen is None or not feedback.ses_message_id:
            return recorded
        return attrs.evolve(recorded, changes=tuple(self.tracking.observe(seen)))
