"""The obvious handler the seed describes: the baseline for cold start, cost, batch and memory.

A module-level `boto3.client("ses")`, `json`, `logging`, `build_email()` and `as_bytes()`;
the records of a batch are sent one after another. Attachments are read with an S3 client
made on first use: the seed's cold start pays for one client only, which makes the cold-start
comparison stricter for notifier (which builds its S3 client at cold start), not looser.
"""

from __future__ import annotations

import functools
import json
import logging
from typing import Any

import boto3

from bench.baselines.seed_email import attachment_name, build_email

logger = logging.getLogger()
logger.setLevel(logging.INFO)

ses = boto3.client("ses")


@functools.cache
def _s3() -> Any:
    return boto3.client("s3")


def send(message: dict[str, Any]) -> str:
    """Read the attachments, build the email, send it; return the SES message id."""
    attachments = [
        (
            attachment_name(attachment),
            _s3().get_object(Bucket=message["bucket_name"], Key=attachment["key"])["Body"].read(),
        )
        for attachment in message.get("attachments", [])
    ]
    raw = build_email(message, attachments).as_bytes()
    response = ses.send_raw_email(
        Source=message["sender"],
        Destinations=message["recipients"],
        RawMessage={"Data": raw},
    )
    logger.info("Email sent: %s", response["MessageId"])
    return str(response["MessageId"])


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """An SQS batch (records sent in turn, failures reported) or a direct message."""
    if "Records" not in event:
        return {"statusCode": 200, "messageId": send(event)}
    failures = []
    for record in event["Records"]:
        try:
            send(json.loads(record["body"]))
        except Exception:
            logger.exception("Failed to send %s", record["messageId"])
            failures.append({"itemIdentifier": record["messageId"]})
    return {"batchItemFailures": failures}
