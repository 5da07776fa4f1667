"""Lambda's SQS event source mapping, as data: ReceiveMessage's messages -> the Lambda SQS
event, and a `batchItemFailures` response -> the ids to leave in the queue."""

from __future__ import annotations

import base64
from collections.abc import Collection, Mapping, Sequence
from typing import Any


class InvalidBatchResponse(Exception):
    """A response Lambda would read as "the whole batch failed"."""


def lambda_event(
    messages: Sequence[Mapping[str, Any]], *, arn: str, region: str
) -> dict[str, list[dict[str, Any]]]:
    """The event Lambda's SQS trigger builds from ReceiveMessage's messages."""
    return {"Records": [lambda_record(m, arn=arn, region=region) for m in messages]}


def lambda_record(message: Mapping[str, Any], *, arn: str, region: str) -> dict[str, Any]:
    """One SQS message in Lambda's shape: lower-camel keys, binary values in base64."""
    record: dict[str, Any] = {
        "messageId": message["MessageId"],
        "receiptHandle": message["ReceiptHandle"],
        "body": message["Body"],
        "attributes": dict(message.get("Attributes", {})),
        "messageAttributes": {
            name: _lambda_attribute(value)
            for name, value in message.get("MessageAttributes", {}).items()
        },
        "md5OfBody": message["MD5OfBody"],
        "eventSource": "aws:sqs",
        "eventSourceARN": arn,
        "awsRegion": region,
    }
    if "MD5OfMessageAttributes" in message:
        record["md5OfMessageAttributes"] = message["MD5OfMessageAttributes"]
    return record


def _lambda_attribute(value: Mapping[str, Any]) -> dict[str, Any]:
    attribute: dict[str, Any] = {}
    if "StringValue" in value:
        attribute["stringValue"] = value["StringValue"]
    if "BinaryValue" in value:
        attribute["binaryValue"] = _base64(value["BinaryValue"])
    attribute["stringListValues"] = list(value.get("StringListValues", []))
    attribute["binaryListValues"] = [_base64(b) for b in value.get("BinaryListValues", [])]
    attribute["dataType"] = value["DataType"]
    return attribute


def _base64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def failed_ids(response: Any, batch_ids: Collection[str]) -> set[str]:
    """The ids to leave in the queue, read as Lambda reads a ReportBatchItemFailures response.

    No response, an object without `batchItemFailures`, or a null or empty list: all succeeded.
    Anything else that does not name messages of this batch fails the whole batch.
    """
    if response is None:
        return set()
    if not isinstance(response, Mapping):
        raise InvalidBatchResponse(f"the response is {type(response).__name__}, not an object")
    failures = response.get("batchItemFailures")
    if failures is None:
        return set()
    if not isinstance(failures, list):
        raise InvalidBatchResponse("batchItemFailures is not a list")
    failed = set()
    for failure in failures:
        item = failure.get("itemIdentifier") if isinstance(failure, Mapping) else None
        if not isinstance(item, str) or item not in batch_ids:
            raise InvalidBatchResponse(f"itemIdentifier {item!r} is not a message of this batch")
        failed.add(item)
    return failed
