"""Lambda events -> inbound messages. The event is recognised by its shape.

- SQS: `Records[*].eventSource == "aws:sqs"`; a body that is an SNS envelope (SNS -> SQS
  without raw message delivery) is unwrapped.
- SNS: `Records[*].EventSource == "aws:sns"`; each `Sns.Message` is a message.
- HTTP: an API Gateway HTTP API event, payload format 2.0 (`version: "2.0"` and
  `requestContext.http`), parsed by `notifier.adapters.inbound.http`.
- Direct: any other JSON object without `Records` is the message itself.
"""

from __future__ import annotations

import enum
import functools
from collections.abc import Callable, Collection, Mapping
from typing import Any

import attrs

from notifier.adapters.inbound.http import is_http_event
from notifier.adapters.inbound.message import decode_json, parse_message
from notifier.adapters.inbound.ses_feedback import parse_ses_notification, setup_notice
from notifier.domain.deferral import (
    DEFERRALS_ATTRIBUTE,
    FAILURES_ATTRIBUTE,
    MessageAttribute,
    QueuedMessage,
)
from notifier.domain.errors import InvalidMessage
from notifier.domain.feedback import Feedback, SetupNotice
from notifier.domain.model import MessageRequest


class EventKind(enum.Enum):
    DIRECT = "direct"
    SQS = "sqs"
    SNS = "sns"
    HTTP = "http"
    UNKNOWN = "unknown"


@attrs.frozen
class Inbound:
    """One record taken from an event: an email request, an SES notification, an SES setup
    notice, or the reason it could not be parsed; `queued`, for a record from SQS or SNS,
    what a copy of it needs (to put it back for later, or on the bulk lane)."""

    record_id: str
    request: MessageRequest | None = None
    feedback: Feedback | None = None
    notice: SetupNotice | None = None
    error: InvalidMessage | None = None
    queued: QueuedMessage | None = None


def classify(event: Any) -> EventKind:
    """Which kind of invocation this is; UNKNOWN for anything we cannot handle."""
    if not isinstance(event, Mapping):
        return EventKind.UNKNOWN
    records = event.get("Records")
    if records is None:
        return EventKind.HTTP if is_http_event(event) else EventKind.DIRECT
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


def sqs_messages(event: Mapping[str, Any], *, feedback_topics: Collection[str]) -> list[Inbound]:
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
        parse = functools.partial(_unwrap_sns_envelope, body, feedback_topics)
        found.append(_parsed(record_id, parse, _from_sqs(record, body)))
    return found


def sns_messages(event: Mapping[str, Any], *, feedback_topics: Collection[str]) -> list[Inbound]:
    """One `Inbound` per SNS record, `record_id` being the SNS `MessageId`."""
    found = []
    for record in event["Records"]:
        sns = record.get("Sns") if isinstance(record, Mapping) else None
        record_id = _text(sns, "MessageId")
        message = sns.get("Message") if isinstance(sns, Mapping) else None
        if not isinstance(message, str):
            found.append(_invalid(record_id, "(body)", "SNS record has no text Message"))
            continue
        topic = _text(sns, "TopicArn")
        parse = functools.partial(_request_or_feedback, message, topic, feedback_topics)
        found.append(_parsed(record_id, parse, _from_sns(_mapping(sns), message)))
    return found


def _from_sqs(record: Mapping[str, Any], body: str) -> QueuedMessage:
    """The SQS record's body and attributes, as SendMessage takes them back."""
    attributes = []
    for name, value in _mapping(record.get("messageAttributes")).items():
        value = _mapping(value)
        data_type = value.get("dataType")
        text = value.get("binaryValue") or value.get("stringValue")
        if isinstance(name, str) and isinstance(data_type, str) and isinstance(text, str):
            attributes.append(MessageAttribute(name=name, data_type=data_type, value=text))
    system = _mapping(record.get("attributes"))
    return QueuedMessage(
        body=body,
        attributes=tuple(attributes),
        source_arn=_text(record, "eventSourceARN"),
        receipt_handle=_text(record, "receiptHandle"),
        receive_count=_whole(system.get("ApproximateReceiveCount"), default=1),
        deferrals=_count(record, DEFERRALS_ATTRIBUTE),
        failures=_count(record, FAILURES_ATTRIBUTE),
    )


def _count(record: Mapping[str, Any], attribute: str) -> int:
    """One of notifier's own counters on an SQS message (0 when absent or not a number)."""
    value = _mapping(_mapping(record.get("messageAttributes")).get(attribute))
    return _whole(value.get("stringValue"), default=0)


def _from_sns(sns: Mapping[str, Any], message: str) -> QueuedMessage:
    """The SNS message and its attributes, as SQS's SendMessage takes them (a list becomes
    its JSON text: SQS has no list type)."""
    attributes = []
    for name, value in _mapping(sns.get("MessageAttributes")).items():
        value = _mapping(value)
        kind, text = value.get("Type"), value.get("Value")
        if isinstance(name, str) and isinstance(kind, str) and isinstance(text, str):
            data_type = kind if kind in {"String", "Number", "Binary"} else "String"
            attributes.append(MessageAttribute(name=name, data_type=data_type, value=text))
    return QueuedMessage(body=message, attributes=tuple(attributes))


Parsed = MessageRequest | Feedback | SetupNotice


def _unwrap_sns_envelope(body: str, feedback_topics: Collection[str]) -> Parsed:
    data = decode_json(body)
    if (
        isinstance(data, Mapping)
        and data.get("Type") == "Notification"
        and isinstance(data.get("TopicArn"), str)
        and isinstance(data.get("Message"), str)
    ):
        return _request_or_feedback(data["Message"], data["TopicArn"], feedback_topics)
    return _request_or_feedback_data(data, "", feedback_topics)


def _request_or_feedback(text: str, topic: str, feedback_topics: Collection[str]) -> Parsed:
    if topic and topic in feedback_topics:
        # SES's "Successfully validated SNS topic..." notice is plain text, not JSON.
        notice = setup_notice(text, None)
        if notice is not None:
            return SetupNotice(notice, topic)
    return _request_or_feedback_data(decode_json(text), topic, feedback_topics)


def _request_or_feedback_data(data: Any, topic: str, feedback_topics: Collection[str]) -> Parsed:
    """An SES notification is feedback only when SNS delivered it from a feedback topic:
    anyone who may queue mail must not be able to suppress an address by forging one."""
    if topic and topic in feedback_topics:
        notice = setup_notice("", data)
        if notice is not None:
            return SetupNotice(notice, topic)
    feedback = parse_ses_notification(data)
    if feedback is None:
        return parse_message(data)
    if topic and topic in feedback_topics:
        return feedback
    raise InvalidMessage.one(
        "(body)",
        "an SES notification is accepted only from a feedback topic"
        " (NOTIFIER_FEEDBACK_TOPIC_ARNS), not from a producer",
    )


def _parsed(
    record_id: str, parse: Callable[[], Parsed], queued: QueuedMessage | None = None
) -> Inbound:
    try:
        parsed = parse()
    except InvalidMessage as exc:
        return Inbound(record_id, error=exc)
    if isinstance(parsed, Feedback):
        return Inbound(record_id, feedback=parsed)
    if isinstance(parsed, SetupNotice):
        return Inbound(record_id, notice=parsed)
    return Inbound(record_id, request=parsed, queued=queued)


def _invalid(record_id: str, field: str, message: str) -> Inbound:
    return Inbound(record_id, error=InvalidMessage.one(field, message))


def _mapping(value: Any) -> Mapping[Any, Any]:
    return value if isinstance(value, Mapping) else {}


def _whole(value: Any, *, default: int) -> int:
    try:
        return max(int(value), 0)
    except (TypeError, ValueError):
        return default


def _text(mapping: Any, key: str) -> str:
    value = mapping.get(key) if isinstance(mapping, Mapping) else None
    return value if isinstance(value, str) else ""
