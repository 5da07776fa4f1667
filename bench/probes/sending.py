"""Helpers of the probes that talk to SES: notifier's raw bytes, and a bare SES client."""

from __future__ import annotations

import os
from typing import Any

import boto3
from botocore.config import Config

from bench.fakes import Context, CountingMailer, CountingMetrics, MemoryAttachments
from bench.probes.common import require_sent
from notifier.entrypoints.bootstrap import bootstrap
from notifier.entrypoints.settings import Settings


def send_concurrency() -> int:
    """The handler's thread count (NOTIFIER_SEND_CONCURRENCY, default 10), for the bare loop."""
    return int(os.environ.get("NOTIFIER_SEND_CONCURRENCY") or Settings().send_concurrency)


def notifier_raw(message: dict[str, Any]) -> bytes:
    """The raw bytes notifier composes for `message` (a fake mailer keeps them)."""
    from bench.messages import sqs_event

    mailer = CountingMailer()
    app = bootstrap(
        Settings(),
        mailer=mailer,
        attachments=MemoryAttachments({}),
        metrics=CountingMetrics(),
        configure_logs=False,
    )
    require_sent(app.handle(sqs_event([message]), Context()))
    return mailer.last_raw


def bare_client(threads: int) -> Any:
    """An SES client with a pool for `threads` and no retries, as notifier's own is built."""
    config = Config(
        max_pool_connections=max(10, threads),
        retries={"mode": "standard", "total_max_attempts": 1},
    )
    return boto3.client("ses", config=config)


def bare_send(client: Any, raw: bytes, message: dict[str, Any]) -> str:
    """One `send_raw_email` of ready bytes: the work no handler can avoid."""
    response = client.send_raw_email(
        Source=message["sender"],
        Destinations=message["recipients"],
        RawMessage={"Data": raw},
    )
    return str(response["MessageId"])
