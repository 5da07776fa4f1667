"""SES notifications (the JSON SES publishes to SNS) -> the domain's `Feedback`.

Both shapes are understood: identity notifications (`notificationType`) and
configuration-set event publishing (`eventType`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import attrs

from notifier.domain.feedback import Feedback, FeedbackKind

_ANGLE_ADDRESS = re.compile(r"<([^<>]+)>\s*$")


# What SES publishes when an operator attaches a topic (docs/operations.md): acknowledged.
VALIDATION_NOTICE = "Successfully validated SNS topic for Amazon SES event publishing."
SUBSCRIPTION_NOTICE = "AmazonSnsSubscriptionSucceeded"
# The object holding an event's details is named after its type, except this one.
_DETAIL_KEY = {FeedbackKind.RENDERING_FAILURE: "failure"}
# Events about some recipients: where their details list them (and under which key of each
# item, None for plain strings), and the fields of the feedback type and sub-type.
_RECIPIENT_EVENTS: dict[FeedbackKind, tuple[str, str | None, str, str]] = {
    FeedbackKind.BOUNCE: ("bouncedRecipients", "emailAddress", "bounceType", "bounceSubType"),
    FeedbackKind.COMPLAINT: (
        "complainedRecipients",
        "emailAddress",
        "complaintFeedbackType",
        "complaintSubType",
    ),
    FeedbackKind.DELIVERY: ("recipients", None, "", ""),
    FeedbackKind.DELIVERY_DELAY: ("delayedRecipients", "emailAddress", "delayType", ""),
}


def setup_notice(text: str, data: Any) -> str | None:
    """The name of an SES setup notice (`text` as SNS delivered it, `data` its JSON or None),
    or None if it is not one."""
    if text.strip() == VALIDATION_NOTICE:
        return "topic-validated"
    if isinstance(data, Mapping) and data.get("notificationType") == SUBSCRIPTION_NOTICE:
        return "subscription-succeeded"
    return None


def parse_ses_notification(data: Any) -> Feedback | None:
    """The `Feedback` in an SES notification (identity notification or event publishing, any
    event type), or None if `data` is not an SES notification."""
    if not isinstance(data, Mapping):
        return None
    kind_name = data.get("notificationType") or data.get("eventType")
    mail = data.get("mail")
    if not isinstance(kind_name, str) or not isinstance(mail, Mapping):
        return None
    try:
        kind = FeedbackKind(kind_name)
    except ValueError:
        kind = FeedbackKind.OTHER
    detail = data.get(_DETAIL_KEY.get(kind, kind_name[:1].lower() + kind_name[1:]))
    detail = detail if isinstance(detail, Mapping) else {}
    base = Feedback(
        kind=kind,
        ses_message_id=_text(mail, "messageId"),
        recipients=(),
        destination=_addresses(mail.get("destination")),
        timestamp=_text(detail, "timestamp") or _text(mail, "timestamp"),
        sender=next(iter(_addresses([mail.get("source")])), ""),
        tenant=_tag(mail, "tenant"),
        feedback_id=_text(detail, "feedbackId"),
    )
    if kind in _RECIPIENT_EVENTS:
        listed, item_key, type_field, sub_type_field = _RECIPIENT_EVENTS[kind]
        return attrs.evolve(
            base,
            recipients=_addresses(detail.get(listed), key=item_key),
            feedback_type=_text(detail, type_field) if type_field else "",
            feedback_sub_type=_text(detail, sub_type_field) if sub_type_field else "",
        )
    if kind is FeedbackKind.REJECT:
        return attrs.evolve(base, detail=_short(_text(detail, "reason")))
    if kind is FeedbackKind.RENDERING_FAILURE:
        why = " ".join(filter(None, (_text(detail, "templateName"), _text(detail, "errorMessage"))))
        return attrs.evolve(base, detail=_short(why))
    if kind is FeedbackKind.SUBSCRIPTION:
        return attrs.evolve(base, unsubscribed=_unsubscribed(detail))
    return base  # Send, Open, Click, and types SES may add


def _tag(mail: Mapping[str, Any], name: str) -> str:
    """A message tag (event publishing gives `mail.tags` as lists of values)."""
    tags = mail.get("tags")
    values = tags.get(name) if isinstance(tags, Mapping) else None
    return values[0] if isinstance(values, list) and values and isinstance(values[0], str) else ""


def _unsubscribed(detail: Mapping[str, Any]) -> bool:
    """A Subscription event that opts out of the whole list or of any topic."""
    preferences = detail.get("newTopicPreferences")
    if not isinstance(preferences, Mapping):
        return False
    if preferences.get("unsubscribeAll") is True:
        return True
    topics = preferences.get("topicSubscriptionStatus")
    return isinstance(topics, list) and any(
        isinstance(t, Mapping) and t.get("subscriptionStatus") == "OptOut" for t in topics
    )


def _short(text: str) -> str:
    return text if len(text) <= 300 else text[:300] + "..."


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
