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

TRANSIENT_BOUNCE_WINDOW_SECONDS = 7 * 24 * 3600


class FeedbackKind(enum.Enum):
    BOUNCE = "Bounce"
    COMPLAINT = "Complaint"
    DELIVERY = "Delivery"
    OTHER = "Other"  # Send, Reject, Open, Click, DeliveryDelay...: logged, nothing to do


@attrs.frozen(kw_only=True)
class Feedback:
    """One SES notification about one sent message, possibly for several recipients."""

    kind: FeedbackKind
    ses_message_id: str
    recipients: tuple[str, ...]  # lower-case addresses
    feedback_type: str = ""  # bounceType, or complaintFeedbackType
    feedback_sub_type: str = ""  # bounceSubType
    feedback_id: str = ""
    timestamp: str = ""

    @property
    def permanent_bounce(self) -> bool:
        return self.kind is FeedbackKind.BOUNCE and self.feedback_type == "Permanent"


@attrs.frozen(kw_only=True)
class FeedbackRecorded:
    """What a notification changed: the addresses now suppressed."""

    feedback: Feedback
    suppressed: tuple[str, ...] = ()


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
                address, at=now, window_seconds=TRANSIENT_BOUNCE_WINDOW_SECONDS
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
    """The use case: record one SES notification."""

    suppression: SuppressionList
    transient_bounce_limit: int
    clock: Callable[[], datetime]

    def record(self, feedback: Feedback) -> FeedbackRecorded:
        """Apply the notification to the suppression list."""
        return record_feedback(
            feedback,
            suppression=self.suppression,
            transient_bounce_limit=self.transient_bounce_limit,
            now=self.clock().timestamp(),
        )
