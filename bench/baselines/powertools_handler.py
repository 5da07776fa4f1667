"""The same job written with Powertools for AWS Lambda: the second cold-start baseline.

Logger, Metrics (EMF), `BatchProcessor` + `process_partial_response` for per-record failure
isolation, a module-level SES client, and the seed's `build_email()`. Attachments are read
with an S3 client made on first use, as in the seed handler.
"""

from __future__ import annotations

import functools
from typing import Any

import boto3
from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import (
    BatchProcessor,
    EventType,
    process_partial_response,
)
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from bench.baselines.seed_email import attachment_name, build_email

processor = BatchProcessor(event_type=EventType.SQS)
logger = Logger(service="notifier")
metrics = Metrics(namespace="Notifier", service="notifier")

ses = boto3.client("ses")


@functools.cache
def _s3() -> Any:
    return boto3.client("s3")


def record_handler(record: SQSRecord) -> str:
    """Send one record's message; raising marks the record as failed."""
    message = record.json_body
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
    metrics.add_metric(name="EmailsSent", unit=MetricUnit.Count, value=1)
    logger.info("email sent", extra={"ses_message_id": response["MessageId"]})
    return str(response["MessageId"])


@logger.inject_lambda_context
@metrics.log_metrics(capture_cold_start_metric=True)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """An SQS batch, each record processed on its own, failures reported to SQS."""
    return process_partial_response(
        event=event, record_handler=record_handler, processor=processor, context=context
    )
