"""SES feedback: bounce, complaint and delivery notifications, and what they do to the
suppression list.

Both shapes SES publishes to SNS are understood: identity notifications
(`notificationType`) and configuration-set event publishing (`eventType`).
"""

from __future__ import annotations

import enum
import re
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

import attrs

from notifier.domain.ports import SuppressionList
from notifier.domain.state import Suppression, SuppressionReason

TRANSIENT_BOUNCE_WINDOW_SECONDS = 7 * 24 * 3600
_ANGLE_ADDRESS = re.compile(r"<([^<>]+)>\s*$")


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


def parse_ses_notification(data: Any) -> Feedback | None:
    """The `Feedback` in an SES notification, or None if `data` is not an SES notification."""
    if not isinstance(data, Mapping):
        return None
    kind_name = data.get("notificationType") or data.get("eventType")
    mail = data.get("mail")
    if not isinstance(kind_name, str) or not isinstance(mail, Mapping):
        return None
    ses_message_id = _text(mail, "messageId")
    try:
        kind = FeedbackKind(kind_name)
    except ValueError:
        kind = FeedbackKind.OTHER
    detail = data.get(kind_name[:1].lower() + kind_name[1:])
    if kind is FeedbackKind.OTHER or not isinstance(detail, Mapping):
        return Feedback(kind=FeedbackKind.OTHER, ses_message_id=ses_message_id, recipients=())
    if kind is FeedbackKind.BOUNCE:
        recipients = _addresses(detail.get("bouncedRecipients"), key="emailAddress")
        feedback_type = _text(detail, "bounceType")
        sub_type = _text(detail, "bounceSubType")
    elif kind is FeedbackKind.COMPLAINT:
        recipients = _addresses(detail.get("complainedRecipients"), key="emailAddress")
        feedback_type = _text(detail, "complaintFeedbackType")
        sub_type = _text(detail, "complaintSubType")
    else:
        recipients = _addresses(detail.get("recipients"))
        feedback_type = sub_type = ""
    return Feedback(
        kind=kind,
        ses_message_id=ses_message_id,
        recipients=recipients,
        feedback_type=feedback_type,
        feedback_sub_type=sub_type,
        feedback_id=_text(detail, "feedbackId"),
        timestamp=_text(detail, "timestamp"),
    )


def record_feedback(
    feedback: Feedback,
    *,
    suppression: SuppressionList | None,
    transient_bounce_limit: int,
    now: float,
) -> FeedbackRecorded:
    """Suppress permanent bounces and complaints at once; transient bounces once an address
    reaches `transient_bounce_limit` within 7 days. With no suppression list, nothing is kept."""
    if suppression is None or feedback.kind not in (FeedbackKind.BOUNCE, FeedbackKind.COMPLAINT):
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
        suppression.add(
            Suppression(
                address=address,
                reason=reason,
                feedback_type=feedback.feedback_type,
                feedback_sub_type=feedback.feedback_sub_type,
                feedback_id=feedback.feedback_id,
                timestamp=feedback.timestamp,
            )
        )
        suppressed.append(address)
    return FeedbackRecorded(feedback=feedback, suppressed=tuple(suppressed))


def _addresses(items: Any, *, key: str | None = None) -> tuple[str, ...]:
    """Lower-case addresses from SES's recipient lists (objects or plain strings)."""
    if not isinstance(items, list):
        return ()
    found = []
    for item in items:
        value = item.get(key) if key and isinstance(item, Mapping) else item
        if isinstance(value, str) and "@" in value:
            match = _ANGLE_ADDRESS.search(value)
            found.append((match[1] if match else value).strip().lower())
    return tuple(dict.fromkeys(found))


def _text(mapping: Mapping[str, Any], key: str) -> str:
    value = mapping.get(key)
    return value if isinstance(value, str) else ""


@attrs.frozen(kw_only=True)
class FeedbackService:
    """The use case: record one SES notification."""

    suppression: SuppressionList | None
    transient_bounce_limit: int
    clock: Callable[[], datetime]

    def record(self, feedback: Feedback) -> FeedbackRecorded:
        """Apply the notification to the suppression list (if there is one)."""
        return record_feedback(
            feedback,
            suppression=self.suppression,
            transient_bounce_limit=self.transient_bounce_limit,
            now=self.clock().timestamp(),
        )
