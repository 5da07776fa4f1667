"""The queue the runner drains: the `Queue` port and its SQS adapter."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Protocol

import attrs
from botocore.exceptions import BotoCoreError, ClientError

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient
    from mypy_boto3_sqs.type_defs import DeleteMessageBatchRequestEntryTypeDef

MAX_MESSAGES = 10  # what ReceiveMessage allows, and the template's BatchSize
MAX_WAIT_SECONDS = 20  # the longest long poll SQS allows


class Queue(Protocol):
    """The queue the runner drains; messages keep the shape ReceiveMessage gives them."""

    @property
    def arn(self) -> str:
        """The queue's ARN, the records' `eventSourceARN`."""
        ...

    @property
    def region(self) -> str:
        """The queue's region, the records' `awsRegion`."""
        ...

    @property
    def visibility_timeout(self) -> int:
        """Seconds a received message stays hidden: the budget of one invocation."""
        ...

    def receive(self, *, max_messages: int, wait_seconds: int) -> Sequence[Mapping[str, Any]]:
        """Up to `max_messages` messages, waiting at most `wait_seconds` for the first."""
        ...

    def delete(self, receipts: Mapping[str, str]) -> set[str]:
        """Delete messages (message id -> receipt handle); return the ids left undeleted."""
        ...


class QueueUnavailable(Exception):
    """SQS could not be read."""


@attrs.frozen(kw_only=True)
class SqsQueue:
    """`Queue` on SQS."""

    client: SQSClient
    url: str
    arn: str
    region: str
    visibility_timeout: int

    @classmethod
    def connect(
        cls, client: SQSClient, *, url: str | None = None, name: str | None = None
    ) -> SqsQueue:
        """Look the queue up by URL or name; raises botocore's error if it does not exist."""
        if url is None:
            if name is None:
                raise ValueError("a queue URL or name is needed")
            url = client.get_queue_url(QueueName=name)["QueueUrl"]
        attributes = client.get_queue_attributes(
            QueueUrl=url, AttributeNames=["QueueArn", "VisibilityTimeout"]
        )["Attributes"]
        return cls(
            client=client,
            url=url,
            arn=attributes["QueueArn"],
            region=client.meta.region_name,
            visibility_timeout=int(attributes["VisibilityTimeout"]),
        )

    def receive(self, *, max_messages: int, wait_seconds: int) -> Sequence[Mapping[str, Any]]:
        try:
            response = self.client.receive_message(
                QueueUrl=self.url,
                MaxNumberOfMessages=max_messages,
                WaitTimeSeconds=wait_seconds,
                # The newer name of AttributeNames=["All"]: every system attribute.
                MessageSystemAttributeNames=["All"],
                MessageAttributeNames=["All"],
            )
        except (ClientError, BotoCoreError) as exc:
            raise QueueUnavailable(f"{type(exc).__name__}: {exc}") from exc
        return response.get("Messages", [])

    def delete(self, receipts: Mapping[str, str]) -> set[str]:
        ids = list(receipts)
        undeleted: set[str] = set()
        for start in range(0, len(ids), MAX_MESSAGES):
            chunk = ids[start : start + MAX_MESSAGES]
            entries: list[DeleteMessageBatchRequestEntryTypeDef] = [
                {"Id": str(n), "ReceiptHandle": receipts[message_id]}
                for n, message_id in enumerate(chunk)
            ]
            try:
                response = self.client.delete_message_batch(QueueUrl=self.url, Entries=entries)
            except (ClientError, BotoCoreError):
                undeleted.update(chunk)
                continue
            undeleted.update(chunk[int(failure["Id"])] for failure in response.get("Failed", []))
        return undeleted
