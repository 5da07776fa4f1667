"""The quota soak's evidence: what is left in the queues, what SES's outbox holds, what the
proxy forwarded, what the runners logged, each read back to the messages' tokens."""

from __future__ import annotations

import collections
import json
import re
import urllib.request
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

import boto3

from devtools.provision import Provisioned
from tests.soak.producers import QuotaMessage
from tests.support.faultproxy import ForwardedSend
from tests.support.sqs import queue_depth


def depth(sqs: Any, url: str) -> int:
    """Messages in the queue: waiting, delayed (a deferred message's copy) and in flight."""
    return sum(queue_depth(url, sqs))


def tokens_in(url: str, run: str) -> dict[str, str]:
    """SQS message id -> token of the messages in the queue at `url`, received and hidden for
    15 minutes (nothing else reads them by then)."""
    sqs = boto3.client("sqs")
    subject = re.compile(re.escape(f"soak {run} ") + r"([a-z0-9]+)")
    found: dict[str, str] = {}
    empty = 0
    while empty < 2:
        received = sqs.receive_message(
            QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=900, WaitTimeSeconds=0
        ).get("Messages", [])
        empty = 0 if received else empty + 1
        for message in received:
            token = subject.search(message["Body"])
            found[message["MessageId"]] = token[1] if token else "(no soak subject)"
    return found


def failure_reasons(message_ids: Iterable[str], lines: Iterable[str]) -> collections.Counter[str]:
    """Why each of `message_ids` failed the last time the runners logged it failing."""
    last: dict[str, str] = {}
    for record in log_records(lines):
        if record.get("event") == "email.processed" and record.get("outcome") == "failed":
            fields = ", ".join(record.get("invalid_fields") or [])
            why = str(record.get("reason"))
            last[str(record.get("message_id"))] = f"{why} [{fields}]" if fields else why
    return collections.Counter(last.get(i, "(not logged)") for i in message_ids)


def left_in(stack: Provisioned, run: str) -> tuple[list[str], int]:
    """The tokens still in either queue once the runners have stopped, and how many messages
    could not be read (still delayed, or in flight)."""
    sqs = boto3.client("sqs")
    urls = (stack.queue_url, stack.bulk_queue_url)
    tokens = [token for url in urls for token in tokens_in(url, run).values()]
    return tokens, sum(depth(sqs, url) for url in urls) - len(tokens)


def outbox(endpoint_url: str, run: str) -> collections.Counter[str]:
    """Emails per token of this run in LocalStack's SES outbox."""
    subject = re.compile(r"^Subject: soak " + re.escape(run) + r" (\S+)\r?$", re.MULTILINE)
    with urllib.request.urlopen(f"{endpoint_url}/_aws/ses", timeout=60) as response:
        messages = json.load(response)["messages"]
    found: collections.Counter[str] = collections.Counter()
    for message in messages:
        token = subject.search(message.get("RawData", ""))
        if token is not None:
            found[token[1]] += 1
    return found


def first_sends(
    sends: Iterable[ForwardedSend], by_recipient: Mapping[str, QuotaMessage]
) -> dict[str, float]:
    """Token -> when SES first took a send to its recipient."""
    first: dict[str, float] = {}
    for send in sends:
        if send.status != 200:
            continue
        for recipient in send.recipients:
            message = by_recipient.get(recipient)
            if message is not None:
                first.setdefault(message.token, send.at)
    return first


def sends_of(
    producer: str, sends: Iterable[ForwardedSend], by_recipient: Mapping[str, QuotaMessage]
) -> list[tuple[float, int]]:
    """(time, recipients) of each send SES took for `producer`."""
    counted = []
    for send in sends:
        senders = [by_recipient.get(recipient) for recipient in send.recipients]
        mine = sum(1 for m in senders if m is not None and m.producer.name == producer)
        if send.status == 200 and mine:
            counted.append((send.at, mine))
    return counted


def log_records(lines: Iterable[str]) -> Iterator[dict[str, Any]]:
    """The JSON lines of the runners' logs, decoded."""
    for line in lines:
        if line.startswith("{"):
            try:
                yield json.loads(line)
            except ValueError:
                continue  # a line cut short when its runner stopped


def logged(lines: Iterable[str], event: str, **fields: Any) -> int:
    """How many of the runners' log lines are `event` with these `fields` (`email.processed`
    with `outcome="deferred"`...)."""
    return sum(
        1
        for record in log_records(lines)
        if record.get("event") == event and all(record.get(k) == v for k, v in fields.items())
    )
