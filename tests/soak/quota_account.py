"""The quota soak's figures: where each message went, how long B waited, how fast A was sent.

Pure functions of what the soak collected (the outbox, the queues, the proxy's record of
sends, the producers' enqueue times), so that each can be checked on its own.

The bounds are stated here, before any run, with the reasons for them:

- `B_P95_BOUND_S`: B sends 2 a second under a limit of 4, so B never waits for its own
  tokens; what it may wait for is the transactional runner's batch in flight, which holds a
  message over its rate at most NOTIFIER_LIMIT_MAX_WAIT_SECONDS (2 s) before putting it back,
  plus the runner's 1 s long poll, plus SES calls: 5 s is that with 2 s to spare.
- A producer's sends in any window of W seconds: at most `rate * W + capacity` (the token
  bucket's own bound, capacity max(rate, 1)) plus `rate * ERROR_BOUND_S`, for the time between
  the function taking a token and the proxy stamping the send (the proxy's clock, not the
  function's, times it; both read one machine's clock, so this is a delay, not a skew).
"""

from __future__ import annotations

import collections
import math
from collections.abc import Iterable, Mapping, Sequence

import attrs

from tests.soak.producers import QuotaMessage

B_P95_BOUND_S = 5.0
# A limit's error bound is its rate times this: from a token taken to the send stamped, which
# on one machine takes milliseconds; 0.5 s is generous.
ERROR_BOUND_S = 0.5
WINDOWS_S = (1.0, 10.0, 60.0)


@attrs.frozen(kw_only=True)
class RateLimit:
    """One producer's `NAME=RATE/s` and what any window of its sends may hold."""

    name: str
    rate: float

    @property
    def capacity(self) -> float:
        return max(self.rate, 1.0)

    @property
    def error_bound(self) -> float:
        return self.rate * ERROR_BOUND_S

    def allowed(self, window_s: float) -> float:
        return self.rate * window_s + self.capacity + self.error_bound


def busiest(sends: Iterable[tuple[float, int]], window_s: float) -> int:
    """The most recipients sent within any `window_s` seconds (both ends included) of
    `sends`, (time, recipients) pairs."""
    ordered = sorted(sends)
    most = inside = first = 0
    for at, recipients in ordered:
        inside += recipients
        while ordered[first][0] < at - window_s:
            inside -= ordered[first][1]
            first += 1
        most = max(most, inside)
    return most


def percentile(values: Sequence[float], fraction: float) -> float:
    """The nearest-rank percentile: the smallest value with `fraction` of them at or below."""
    ordered = sorted(values)
    return ordered[max(math.ceil(fraction * len(ordered)) - 1, 0)]


@attrs.frozen(kw_only=True)
class Latency:
    """Enqueue to SES, in seconds, over the messages that reached SES."""

    count: int
    p50: float
    p95: float
    max: float

    @classmethod
    def of(cls, values: Sequence[float]) -> Latency:
        if not values:
            return cls(count=0, p50=math.inf, p95=math.inf, max=math.inf)
        return cls(
            count=len(values),
            p50=percentile(values, 0.50),
            p95=percentile(values, 0.95),
            max=max(values),
        )


def latencies(
    messages: Iterable[QuotaMessage], *, enqueued: Mapping[str, float], at_ses: Mapping[str, float]
) -> Latency:
    """From each message's enqueue time to its first send SES took."""
    return Latency.of(
        [
            at_ses[m.token] - enqueued[m.token]
            for m in messages
            if m.token in at_ses and m.token in enqueued
        ]
    )


@attrs.frozen(kw_only=True)
class Account:
    """Where every message went. Each should be in exactly one place: sent once."""

    messages: Mapping[str, int]  # by producer
    sent: Mapping[str, int]  # by producer: in the outbox at least once
    lost: tuple[str, ...]  # tokens in no place
    sent_twice: tuple[str, ...]
    dead_lettered: Mapping[str, tuple[str, ...]]  # dead-letter queue -> tokens
    still_queued: tuple[str, ...]  # read from the queues at the end
    unread: int  # messages still delayed or in flight at the end: not readable
    strays: int  # emails of this run, or queued bodies, that belong to no message

    @property
    def dead(self) -> int:
        return sum(len(tokens) for tokens in self.dead_lettered.values())

    @property
    def ok(self) -> bool:
        return not (
            self.lost
            or self.sent_twice
            or self.dead
            or self.still_queued
            or self.unread
            or self.strays
        )


def account(
    messages: Sequence[QuotaMessage],
    *,
    outbox: collections.Counter[str],
    dead_letters: Mapping[str, Sequence[str]],
    queued: Sequence[str],
    unread: int,
) -> Account:
    """`outbox`: emails per token of this run in LocalStack's outbox; `dead_letters`: the tokens
    in each dead-letter queue; `queued`: the tokens still in the queues."""
    tokens = {m.token for m in messages}
    dead = {token for found in dead_letters.values() for token in found}
    waiting = dead | set(queued)
    placed = set(outbox) | waiting
    sent: collections.Counter[str] = collections.Counter(
        m.producer.name for m in messages if outbox[m.token]
    )
    return Account(
        messages=collections.Counter(m.producer.name for m in messages),
        sent=sent,
        lost=tuple(m.token for m in messages if m.token not in placed),
        sent_twice=tuple(sorted(t for t, n in outbox.items() if n > 1)),
        dead_lettered={name: tuple(found) for name, found in dead_letters.items()},
        still_queued=tuple(queued),
        unread=unread,
        strays=sum(n for token, n in outbox.items() if token not in tokens) + len(waiting - tokens),
    )
