"""The quota soak's two producers: a bulk flood (A) and a steady transactional trickle (B).

Every message goes to one recipient of its own, `<token>@example.com`, and carries its token
in its subject (`soak <run> <token>`) too: the token finds the message again in the proxy's
record of sends (by recipient), in LocalStack's outbox and in a queue (by subject), whatever
SQS message id it has by then (the function forwards bulk mail to the bulk queue and puts a
deferred message back as a fresh copy). `Enqueued` keeps when each SendMessage returned, by
the wall clock the proxy stamps its sends with.
"""

from __future__ import annotations

import enum
import json
import random
import threading
import time
from collections.abc import Mapping, Sequence
from typing import Any

import attrs

from tests.support.privacy import PrivateData

DOMAIN = "example.com"


class Lane(enum.Enum):
    """The queue a message is put on."""

    TRANSACTIONAL = "transactional"
    BULK = "bulk"


@attrs.frozen(kw_only=True)
class Producer:
    """Who sends: its name in the report, its `tenant` tag, its sender and its priority."""

    name: str
    tenant: str
    sender: str
    priority: str | None  # None: the field left out (a producer that predates it)


A = Producer(name="A", tenant="campaigns", sender="noreply@acubeapi.com", priority="bulk")
B = Producer(name="B", tenant="auth", sender="security@acubeapi.com", priority=None)


@attrs.frozen(kw_only=True)
class QuotaMessage:
    producer: Producer
    token: str
    lane: Lane
    body: str

    @property
    def recipient(self) -> str:
        return f"{self.token}@{DOMAIN}"


def messages(
    producer: Producer,
    *,
    run: str,
    count: int,
    seed: int,
    transactional_every: int = 0,
    with_priority: bool = True,
) -> list[QuotaMessage]:
    """`count` messages of `producer`. Bulk ones go on the bulk queue but every
    `transactional_every`-th on the transactional queue (the function forwards them);
    `with_priority=False` leaves the field out (a function that does not know it yet)."""
    rng = random.Random(seed)  # noqa: S311 - tokens unique per run, not secrets
    made = []
    for index in range(count):
        token = f"{producer.name.lower()}{index:05d}x{rng.randrange(16**6):06x}"
        body: dict[str, Any] = {
            "sender": f"{producer.tenant} <{producer.sender}>",
            "recipients": [f"{token}@{DOMAIN}"],
            "subject": f"soak {run} {token}",
            "text_content": f"BODY-{token}: message {index} de {producer.tenant}.",
            "tags": {"tenant": producer.tenant},
        }
        if producer.priority is not None and with_priority:
            body["priority"] = producer.priority
        bulk = producer.priority == "bulk"
        on_transactional = transactional_every and index % transactional_every == 0
        lane = Lane.BULK if bulk and not on_transactional else Lane.TRANSACTIONAL
        made.append(QuotaMessage(producer=producer, token=token, lane=lane, body=json.dumps(body)))
    return made


def private_data(sent: Sequence[QuotaMessage], into: PrivateData) -> None:
    """Add every address and body of `sent` to what must not reach a log."""
    for message in sent:
        into.add_message(json.loads(message.body))


class Enqueued:
    """When each token's SendMessage returned (time.time()); written by the producer threads."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._at: dict[str, float] = {}

    def mark(self, tokens: Sequence[str]) -> None:
        now = time.time()
        with self._lock:
            self._at.update(dict.fromkeys(tokens, now))

    def times(self) -> dict[str, float]:
        with self._lock:
            return dict(self._at)

    def __len__(self) -> int:
        with self._lock:
            return len(self._at)


def flood(
    sqs: Any, batch: Sequence[QuotaMessage], urls: Mapping[Lane, str], enqueued: Enqueued
) -> None:
    """Queue `batch` as fast as SQS takes it, ten a call, each on its lane's queue, a hundred
    at a time so both lanes fill from the start."""
    for window in range(0, len(batch), 100):
        for lane, url in urls.items():
            mine = [message for message in batch[window : window + 100] if message.lane is lane]
            for start in range(0, len(mine), 10):
                chunk = mine[start : start + 10]
                response = sqs.send_message_batch(
                    QueueUrl=url,
                    Entries=[{"Id": str(n), "MessageBody": m.body} for n, m in enumerate(chunk)],
                )
                if response.get("Failed"):
                    raise AssertionError(f"SQS refused messages: {response['Failed']}")
                enqueued.mark([message.token for message in chunk])


def steady(
    sqs: Any,
    batch: Sequence[QuotaMessage],
    url: str,
    *,
    per_second: float,
    start_at: float,
    enqueued: Enqueued,
) -> None:
    """Queue `batch` one at a time, `per_second` of them, the first at `start_at` (time.time()):
    on a schedule, so that a slow call does not slow the ones after it."""
    for index, message in enumerate(batch):
        delay = start_at + index / per_second - time.time()
        if delay > 0:
            time.sleep(delay)
        sqs.send_message(QueueUrl=url, MessageBody=message.body)
        enqueued.mark([message.token])
