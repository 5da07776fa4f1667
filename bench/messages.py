"""The messages and events the benchmark sends: the seed's sample invoice and larger ones."""

from __future__ import annotations

import functools
import json
import random
import uuid
from typing import Any

from devtools.invoice import invoice_message

SENDER_DOMAIN = "acubeapi.com"
BUCKET = "notifier-bench"
LARGE_ATTACHMENT_KEY = "invoices/bench-200k.pdf"
HUGE_ATTACHMENT_KEY = "invoices/bench-7m.pdf"
LARGE_HTML_BYTES = 100 * 1024
LARGE_ATTACHMENT_BYTES = 200 * 1024
# 7 MiB of incompressible data is about 9.6 MB once base64-encoded: just under SES's 10 MB.
HUGE_ATTACHMENT_BYTES = 7 * 1024 * 1024


def sample_message(recipient: str = "user@example.com") -> dict[str, Any]:
    """The producers' sample (README "The message"), to any recipient."""
    return invoice_message(sender=f"noreply@{SENDER_DOMAIN}", recipients=[recipient])


def large_message(recipient: str = "user@example.com") -> dict[str, Any]:
    """The sample with a 100 KB HTML body and one 200 KB attachment."""
    return {
        **sample_message(recipient),
        "html_content": _large_html(),
        "bucket_name": BUCKET,
        "attachments": [
            {
                "key": LARGE_ATTACHMENT_KEY,
                "filename": "facture-12345.pdf",
                "content_type": "application/pdf",
            }
        ],
    }


@functools.cache
def _large_html() -> str:
    row = "<tr><td>Prestation de service — réf. 12345</td><td>1</td><td>120,00 €</td></tr>\n"
    rows = LARGE_HTML_BYTES // len(row.encode()) + 1
    return "<h1>Facture Prête</h1><table>\n" + row * rows + "</table>"


def huge_message(recipient: str) -> dict[str, Any]:
    """The sample with one 7 MiB attachment: a message just under SES's size limit."""
    return {
        **sample_message(recipient),
        "bucket_name": BUCKET,
        "attachments": [{"key": HUGE_ATTACHMENT_KEY, "content_type": "application/pdf"}],
    }


def attachment_bytes(size: int) -> bytes:
    """Incompressible, reproducible content (a PDF is compressed, so it looks like this)."""
    return random.Random(size).randbytes(size)  # noqa: S311 - test data, not a secret


def sqs_event(messages: list[dict[str, Any]]) -> dict[str, Any]:
    """An SQS batch as Lambda's event source mapping delivers it (tests/events/sqs.json)."""
    return {"Records": [_sqs_record(json.dumps(message)) for message in messages]}


def _sqs_record(body: str) -> dict[str, Any]:
    return {
        "messageId": str(uuid.uuid4()),
        "receiptHandle": "AQEB" + uuid.uuid4().hex,
        "body": body,
        "attributes": {
            "ApproximateReceiveCount": "1",
            "SentTimestamp": "1717171200183",
            "SenderId": "AIDAIENQZJOLO23YVJ4VO",
            "ApproximateFirstReceiveTimestamp": "1717171200185",
        },
        "messageAttributes": {},
        "md5OfBody": "950bb4310dc2a949c44094a62efd4c2b",
        "eventSource": "aws:sqs",
        "eventSourceARN": "arn:aws:sqs:us-east-1:000000000000:notifier-email",
        "awsRegion": "us-east-1",
    }
