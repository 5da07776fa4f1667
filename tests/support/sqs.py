"""Small SQS facts the e2e tests and the soak read."""

from __future__ import annotations

from typing import Any

import boto3


def queue_depth(url: str, sqs: Any = None) -> tuple[int, int]:
    """(messages waiting, messages in flight) in the queue at `url`."""
    attributes = (sqs or boto3.client("sqs")).get_queue_attributes(
        QueueUrl=url,
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    return (
        int(attributes["ApproximateNumberOfMessages"]),
        int(attributes["ApproximateNumberOfMessagesNotVisible"]),
    )
