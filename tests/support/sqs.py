"""Small SQS facts the e2e tests and the soak read."""

from __future__ import annotations

from typing import Any

import boto3


def queue_depth(url: str, sqs: Any = None) -> tuple[int, int]:
    """(messages waiting, messages in flight) in the queue at `url`; waiting counts the
    delayed ones too (a message put back for later is a delayed copy)."""
    attributes = (sqs or boto3.client("sqs")).get_queue_attributes(
        QueueUrl=url,
        AttributeNames=[
            "ApproximateNumberOfMessages",
            "ApproximateNumberOfMessagesDelayed",
            "ApproximateNumberOfMessagesNotVisible",
        ],
    )["Attributes"]
    return (
        int(attributes["ApproximateNumberOfMessages"])
        + int(attributes["ApproximateNumberOfMessagesDelayed"]),
        int(attributes["ApproximateNumberOfMessagesNotVisible"]),
    )
