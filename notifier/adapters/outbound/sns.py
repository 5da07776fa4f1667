"""Status callbacks on SNS: one message per change, with attributes producers filter on.

The payload (README "Callbacks", version 1) names the recipient by the SHA-256 of its
lower-case address and a masked form, never the address itself: the topic is shared by every
producing team, and a subscription without a filter policy must not receive another team's
recipients.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError

from notifier.adapters.outbound.aws import LazyClient, error_code
from notifier.domain.errors import DependencyUnavailable
from notifier.domain.idempotency import producer_key
from notifier.domain.status import EmailStatus, StatusChange

if TYPE_CHECKING:
    from mypy_boto3_sns import SNSClient
    from mypy_boto3_sns.type_defs import PublishBatchRequestEntryTypeDef

PAYLOAD_VERSION = 1
_BATCH = 10  # PublishBatch's maximum


def callback_payload(record: EmailStatus, change: StatusChange) -> dict[str, Any]:
    """The JSON body of one callback."""
    scoped = record.idempotency_key
    return {
        "version": PAYLOAD_VERSION,
        "change_id": change.change_id(record.ses_message_id, scoped),
        "status": change.status,
        "message_status": record.status.value,
        "ses_message_id": record.ses_message_id or None,
        "idempotency_key": producer_key(scoped) if scoped else None,
        "sender": record.sender or None,
        "tenant": record.tenant or None,
        "recipient": {"id": change.recipient, "masked": change.masked}
        if change.recipient
        else None,
        "detail": change.detail or None,
        "at": change.at or None,
    }


def callback_attributes(record: EmailStatus, change: StatusChange) -> dict[str, str]:
    """The message attributes subscriptions filter on (status, sender_domain, tenant)."""
    attributes = {"status": change.status}
    if record.sender:
        attributes["sender_domain"] = record.sender.rpartition("@")[2].lower()
    if record.tenant:
        attributes["tenant"] = record.tenant
    return attributes


class SnsStatusCallbacks:
    """`StatusCallbacks` port on an SNS topic (NOTIFIER_STATUS_TOPIC_ARN). The client is made
    on first use: most invocations of a deployment without events publish nothing."""

    def __init__(self, client_factory: Callable[[], SNSClient], topic_arn: str) -> None:
        self._lazy = LazyClient(client_factory)
        self._topic_arn = topic_arn

    @property
    def _client(self) -> SNSClient:
        return self._lazy.get()

    def publish(self, record: EmailStatus, changes: Sequence[StatusChange]) -> None:
        entries: list[PublishBatchRequestEntryTypeDef] = [
            {
                "Id": str(index),
                "Message": json.dumps(callback_payload(record, change), separators=(",", ":")),
                "MessageAttributes": {
                    name: {"DataType": "String", "StringValue": value}
                    for name, value in callback_attributes(record, change).items()
                },
            }
            for index, change in enumerate(changes)
        ]
        for start in range(0, len(entries), _BATCH):
            try:
                response = self._client.publish_batch(
                    TopicArn=self._topic_arn,
                    PublishBatchRequestEntries=entries[start : start + _BATCH],
                )
            except ClientError as exc:
                raise DependencyUnavailable(f"SNS PublishBatch failed ({error_code(exc)})") from exc
            except BotoCoreError as exc:
                raise DependencyUnavailable(
                    f"SNS PublishBatch failed: {type(exc).__name__}"
                ) from exc
            if response.get("Failed"):
                codes = sorted({failure.get("Code", "?") for failure in response["Failed"]})
                raise DependencyUnavailable(
                    f"SNS refused {len(response['Failed'])} status callback(s): {', '.join(codes)}"
                )


class NullStatusCallbacks:
    """NOTIFIER_STATUS_TOPIC_ARN unset: statuses are kept, nobody is called back."""

    def publish(self, record: EmailStatus, changes: Sequence[StatusChange]) -> None:
        """Nothing to publish to."""
