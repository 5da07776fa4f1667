"""Lambda events -> inbound messages. The event is recognised by its shape.

- SQS: `Records[*].eventSource == "aws:sqs"`; a body that is an SNS envelope (SNS -> SQS
  without raw message delivery) is unwrapped.
- SNS: `Records[*].EventSource == "aws:sns"`; each `Sns.Message` is a message.
- Direct: any other JSON object without `Records` is the message itself.
"""

from __future__ import annotations

import enum
import functools
from collections.abc import Callable, Mapping
from typing import Any

import attrs

from notifier.adapters.inbound.message import decode_json, parse_message
from notifier.domain.errors import InvalidMessage
from notifier.domain.feedback import Feedback, parse_ses_notification
from notifier.domain.model import MessageRequest


class EventKind(enum.Enum):
    DIRECT = "direct"
    SQS = "sqs"
    SNS = "sns"
    UNKNOWN = "unknown"


@attrs.frozen
class Inbound:
    """One record taken from an event: an email request, an SES notification, or the reason
    it could not be parsed."""

    record_id: str
    request: MessageRequest | None = None
    feedback: Feedback | None = None
    error: InvalidMessage | None = None


def classify(event: Any) -> EventKind:
    """Which kind of invocation this is; UNKNOWN for anything we cannot handle."""
    if not isinstance(event, Mapping):
        return EventKind.UNKNOWN
    records = event.get("Records")
    if records is None:
        return EventKind.DIRECT
    if not isinstance(records, list) or not records:
        return EventKind.UNKNOWN
    sources = [
        r.get("eventSource") or r.get("EventSource") if isinstance(r, Mapping) else None
        for r in records
    ]
    # SQS: any SQS record makes it a batch, whose other records then fail one by one (and are
    # reported); SNS only when every record is one (a failure there fails the invocation).
    if "aws:sqs" in sources:
        return EventKind.SQS
    if all(source == "aws:sns" for source in sources):
        return EventKind.SNS
    return EventKind.UNKNOWN


def direct_message(event: Mapping[str, Any], request_id: str) -> Inbound:
    """The direct invocation's event is the message."""
    return _parsed(request_id, functools.partial(parse_message, event))


def sqs_messages(event: Mapping[str, Any]) -> list[Inbound]:
    """One `Inbound` per SQS record, `record_id` being its `messageId`.

    A record with no usable `messageId` gets the empty id: Lambda reads an empty
    `itemIdentifier` as "the whole batch failed", so nothing is deleted unprocessed.
    """
    found = []
    for record in event["Records"]:
        record_id = _text(record, "messageId")
        if not isinstance(record, Mapping) or record.get("eventSource") != "aws:sqs":
            found.append(_invalid(record_id, "(record)", "is not an SQS record"))
            continue
        body = record.get("body")
        if not isinstance(body, str):
            found.append(_invalid(record_id, "(body)", "SQS record has no text body"))
            continue
        found.append(_parsed(record_id, functools.partial(_unwrap_sns_envelope, body)))
    return found


def sns_messages(event: Mapping[str, Any]) -> list[Inbound]:
    """One `Inbound` per SNS record, `record_id` being the SNS `MessageId`."""
    found = []
    for record in event["Records"]:
        sns = record.get("Sns") if isinstance(record, Mapping) else None
        record_id = _text(sns, "MessageId")
        message = sns.get("Message") if isinstance(sns, Mapping) else None
        if not isinstance(message, str):
            found.append(_invalid(record_id, "(body)", "SNS record has no text Message"))
            continue
        found.append(_parsed(record_id, functools.partial(_request_or_feedback, message)))
    return found


def _unwrap_sns_envelope(body: str) -> MessageRequest | Feedback:
    data = decode_json(body)
    if (
        isinstance(data, Mapping)
        and data.get("Type") == "Notification"
        and "TopicArn" in data
        and isinstance(data.get("Message"), str)
    ):
        return _request_or_feedback(data["Message"])
    return _request_or_feedback_data(data)


def _request_or_feedback(text: str) -> MessageRequest | Feedback:
    return _request_or_feedback_data(decode_json(text))


def _request_or_feedback_data(data: Any) -> MessageRequest | Feedback:
    feedback = parse_ses_notification(data)
    return feedback if feedback is not None else parse_message(data)


def _parsed(record_id: str, parse: Callable[[], MessageRequest | Feedback]) -> Inbound:
    try:
        parsed = parse()
    except InvalidMessage as exc:
        return Inbound(record_id, error=exc)
    if isinstance(parsed, Feedback):
        return Inbound(record_id, feedback=parsed)
    return Inbound(record_id, request=parsed)


def _invalid(record_id: str, field: str, message: str) -> Inbound:
    return Inbound(record_id, error=InvalidMessage.one(field, message))


def _text(mapping: Any, key: str) -> str:
    value = mapping.get(key) if isinstance(mapping, Mapping) else None
    return value if isinstance(value, str) else ""
