"""The email queue on SQS: where `POST /v1/emails/enqueue` puts a message for the function to
send later, exactly as a producer's own `SendMessage` would (the same JSON body)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from botocore.exceptions import BotoCoreError, ClientError

from notifier.adapters.inbound.message import dump_message
from notifier.adapters.outbound.aws import LazyClient, error_code
from notifier.domain.errors import DependencyUnavailable, EnqueueNotConfigured, MessageTooLarge
from notifier.domain.model import MessageRequest

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient

# SQS's classic limit on a message body. AWS now allows up to 1 MiB, but only on queues whose
# MaximumMessageSize says so; every queue accepts this much.
SQS_MAX_MESSAGE_BYTES = 256 * 1024


class SqsEmailQueue:
    """`EmailQueue` port on an SQS queue (NOTIFIER_QUEUE_URL). The client is made on first use:
    only the enqueue route needs it."""

    def __init__(self, client_factory: Callable[[], SQSClient], queue_url: str) -> None:
        self._lazy = LazyClient(client_factory)
        self._queue_url = queue_url

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
        try:
            return self._client.send_message(QueueUrl=self._queue_url, MessageBody=body)[
                "MessageId"
            ]
        except ClientError as exc:
            raise DependencyUnavailable(f"SQS SendMessage failed ({error_code(exc)})") from exc
        except BotoCoreError as exc:
            raise DependencyUnavailable(f"SQS SendMessage failed: {type(exc).__name__}") from exc


class NullEmailQueue:
    """NOTIFIER_QUEUE_URL unset: there is nowhere to queue a message."""

    def enqueue(self, request: MessageRequest) -> str:
        """Refused: the enqueue route is not configured."""
        raise EnqueueNotConfigured(
            "this deployment has no email queue (NOTIFIER_QUEUE_URL): send now with POST /v1/emails"
        )
