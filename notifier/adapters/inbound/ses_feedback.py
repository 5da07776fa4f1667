"""SES notifications (the JSON SES publishes to SNS) -> the domain's `Feedback`.

Both shapes are understood: identity notifications (`notificationType`) and
configuration-set event publishing (`eventType`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from notifier.domain.feedback import Feedback, FeedbackKind

_ANGLE_ADDRESS = re.compile(r"<([^<>]+)>\s*$")


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
