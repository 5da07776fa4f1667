"""The email queues on SQS: where `POST /v1/emails/enqueue` puts a message for the function to
send later, exactly as a producer's own `SendMessage` would (the same JSON body), and where a
message that must wait is put back (notifier/domain/deferral.py) or a bulk one forwarded."""

from __future__ import annotations

import base64
import contextlib
from collections.abc import Callable, Iterator, Mapping
from typing import TYPE_CHECKING

from botocore.exceptions import BotoCoreError, ClientError

from notifier.adapters.inbound.message import dump_message
from notifier.adapters.outbound.aws import LazyClient, error_code
from notifier.domain.deferral import (
    DEFERRALS_ATTRIBUTE,
    FAILURES_ATTRIBUTE,
    MessageAttribute,
    QueuedMessage,
)
from notifier.domain.errors import DependencyUnavailable, EnqueueNotConfigured, MessageTooLarge
from notifier.domain.model import MessageRequest, Priority

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient
    from mypy_boto3_sqs.type_defs import MessageAttributeValueTypeDef

# SQS's classic limit on a message body. AWS now allows up to 1 MiB, but only on queues whose
# MaximumMessageSize says so; every queue accepts this much.
SQS_MAX_MESSAGE_BYTES = 256 * 1024


class SqsEmailQueue:
    """`EmailQueue` port on an SQS queue (NOTIFIER_QUEUE_URL). The client is made on first use:
    only the enqueue route needs it."""

    def __init__(
        self, client_factory: Callable[[], SQSClient], queue_url: str, *, bulk_queue_url: str = ""
    ) -> None:
        self._lazy = LazyClient(client_factory)
        self._queue_url = queue_url
        self._bulk_queue_url = bulk_queue_url or queue_url  # else the bulk lane is the same

    @property
    def _client(self) -> SQSClient:
        return self._lazy.get()

    def enqueue(self, request: MessageRequest) -> str:
        body = dump_message(request)
        size = len(body.encode("utf-8", "surrogatepass"))
        if size > SQS_MAX_MESSAGE_BYTES:
            raise MessageTooLarge.one(
                "(body)",
                f"is {size} bytes, over the {SQS_MAX_MESSAGE_BYTES} bytes a queue message may"
                " hold: send it now (POST /v1/emails), or put large content in attachments",
            )
        with _translated("SendMessage"):
            url = self._bulk_queue_url if request.bulk else self._queue_url
            return self._client.send_message(QueueUrl=url, MessageBody=body)["MessageId"]


class NullEmailQueue:
    """NOTIFIER_QUEUE_URL unset: there is nowhere to queue a message."""

    def enqueue(self, request: MessageRequest) -> str:
        """Refused: the enqueue route is not configured."""
        raise EnqueueNotConfigured(
            "this deployment has no email queue (NOTIFIER_QUEUE_URL): send now with POST /v1/emails"
        )


class SqsRequeue:
    """`Requeue` port on SQS: the lanes' queues (NOTIFIER_QUEUE_URL, NOTIFIER_BULK_QUEUE_URL),
    and any other queue a record came from, found by name (GetQueueUrl, once per queue)."""

    def __init__(
        self, client_factory: Callable[[], SQSClient], lanes: Mapping[Priority, str]
    ) -> None:
        self._lazy = LazyClient(client_factory)
        self._lanes = {lane: url for lane, url in lanes.items() if url}
        self._by_name = {
            url.rstrip("/").rsplit("/", 1)[-1]: lane for lane, url in self._lanes.items()
        }
        self._urls: dict[str, str] = {}  # queue ARN -> URL, for queues of no lane

    def lane_of(self, message: QueuedMessage) -> Priority | None:
        return self._by_name.get(_queue_name(message.source_arn)) if message.source_arn else None

    def has_lane(self, lane: Priority) -> bool:
        return lane in self._lanes

    def put_back(
        self,
        message: QueuedMessage,
        *,
        lane: Priority,
        delay_seconds: int,
        deferrals: int,
        failures: int,
    ) -> str:
        url = self._source_url(message.source_arn) if message.source_arn else self._lane(lane)
        ours = {FAILURES_ATTRIBUTE: failures, DEFERRALS_ATTRIBUTE: deferrals}
        attributes = {a.name: _attribute(a) for a in message.attributes if a.name not in ours}
        for name, count in ours.items():
            # SQS takes 10 attributes: a producer's own come first. Without room the failures
            # restart from 0 (the bound loosens by that copy's) and the backoff from its start.
            if count and len(attributes) < SQS_MAX_ATTRIBUTES:
                attributes[name] = {"DataType": "Number", "StringValue": str(count)}
        return self._send(url, message.body, attributes, delay_seconds)

    def forward(self, message: QueuedMessage, *, lane: Priority) -> str:
        attributes = {a.name: _attribute(a) for a in message.attributes}
        return self._send(self._lane(lane), message.body, attributes, 0)

    def hold(self, message: QueuedMessage, *, delay_seconds: int) -> None:
        with _translated("ChangeMessageVisibility"):
            self._lazy.get().change_message_visibility(
                QueueUrl=self._source_url(message.source_arn),
                ReceiptHandle=message.receipt_handle,
                VisibilityTimeout=delay_seconds,
            )

    def _send(
        self,
        url: str,
        body: str,
        attributes: dict[str, MessageAttributeValueTypeDef],
        delay_seconds: int,
    ) -> str:
        client = self._lazy.get()
        with _translated("SendMessage"):
            if attributes:
                return client.send_message(
                    QueueUrl=url,
                    MessageBody=body,
                    DelaySeconds=delay_seconds,
                    MessageAttributes=attributes,
                )["MessageId"]
            return client.send_message(QueueUrl=url, MessageBody=body, DelaySeconds=delay_seconds)[
                "MessageId"
            ]

    def _lane(self, lane: Priority) -> str:
        if lane not in self._lanes:
            raise DependencyUnavailable(f"no queue is configured for the {lane.value} lane")
        return self._lanes[lane]

    def _source_url(self, arn: str) -> str:
        lane = self._by_name.get(_queue_name(arn))
        if lane is not None:
            return self._lanes[lane]
        if arn not in self._urls:
            _arn, _aws, _sqs, _region, account, name = (arn.split(":", 5) + [""] * 6)[:6]
            with _translated("GetQueueUrl"):
                self._urls[arn] = self._lazy.get().get_queue_url(
                    QueueName=name, QueueOwnerAWSAccountId=account
                )["QueueUrl"]
        return self._urls[arn]


SQS_MAX_ATTRIBUTES = 10


def _queue_name(arn: str) -> str:
    return arn.rsplit(":", 1)[-1]


def _attribute(attribute: MessageAttribute) -> MessageAttributeValueTypeDef:
    if attribute.data_type.startswith("Binary"):
        return {"DataType": attribute.data_type, "BinaryValue": base64.b64decode(attribute.value)}
    return {"DataType": attribute.data_type, "StringValue": attribute.value}


@contextlib.contextmanager
def _translated(operation: str) -> Iterator[None]:
    try:
        yield
    except ClientError as exc:
        raise DependencyUnavailable(f"SQS {operation} failed ({error_code(exc)})") from exc
    except BotoCoreError as exc:
        raise DependencyUnavailable(f"SQS {operation} failed: {type(exc).__name__}") from exc
