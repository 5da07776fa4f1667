"""Holds each producer to its limits, across every execution environment that sends for it.

The bucket lives in the `LimitStore`; each request reads it, computes (`token_bucket`) and
writes it back only if no one wrote in between, re-reading on a lost race. The threads of one
environment take turns per producer (a lock), so only environments race each other.
"""

from __future__ import annotations

import contextlib
import random
import threading
import time
from collections.abc import Callable
from typing import Protocol

from notifier.domain.errors import DependencyUnavailable, InvalidMessage, OverLimit
from notifier.domain.limits import Limit, LimitTable
from notifier.domain.ports import LimitStore
from notifier.domain.token_bucket import Granted, give_back, reserve

# Lost races in a row before giving up (transient): each loss means another environment's
# write went through, so this many in a row needs that many environments hammering one bucket.
WRITE_ATTEMPTS = 20
JITTER_SECONDS = 0.005  # at most, between two attempts: spreads out environments that collide


class Limiter(Protocol):
    """Holds producers to their limits: `ProducerLimiter`, or `NullLimiter` without any."""

    def acquire(self, producer: str, recipients: int, *, max_wait: float) -> float:
        """Take `recipients` from the producer's allowance, sleeping (at most `max_wait`
        seconds) until they may be sent, and return how long it slept; raise `OverLimit`
        when that would take longer, having taken nothing."""
        ...

    def give_back(self, producer: str, recipients: int) -> None:
        """Return what `acquire` took for a send that failed before SES accepted it (best
        effort: never raises; a refund lost leaves the count on the safe side)."""
        ...


class NullLimiter:
    """No limits configured (NOTIFIER_PRODUCER_LIMITS empty): every send goes at once."""

    def acquire(self, producer: str, recipients: int, *, max_wait: float) -> float:
        """Nothing to wait for."""
        return 0.0

    def give_back(self, producer: str, recipients: int) -> None:
        """Nothing was taken."""


class ProducerLimiter:
    """`Limiter` on a `LimitStore` shared by every execution environment."""

    def __init__(
        self,
        store: LimitStore,
        table: LimitTable,
        *,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._store = store
        self._table = table
        self._clock = clock
        self._sleep = sleep
        self._locks: dict[str, threading.Lock] = {}
        self._locks_guard = threading.Lock()

    def acquire(self, producer: str, recipients: int, *, max_wait: float) -> float:
        """See `Limiter.acquire`; raise `DependencyUnavailable` if the bucket kept changing."""
        producer = producer.lower()  # as configured, and one bucket whatever the spelling
        limit = self._table.for_producer(producer)
        if limit is None or recipients <= 0:
            return 0.0
        if limit.per_day is not None and recipients > limit.per_day:
            # No day would ever let it through: waiting would only put it back forever.
            raise InvalidMessage.one(
                "recipients",
                f"{recipients} recipients are more than producer {producer} may send in a day"
                f" ({limit.per_day}); split the message",
            )
        with self._lock(producer):
            wait = self._reserve(producer, limit, recipients, max_wait)
        # Outside the lock: the reservation is written, so the next request already waits
        # behind this one and need not wait for this sleep to end.
        if wait > 0:
            self._sleep(wait)
        return wait

    def _reserve(self, producer: str, limit: Limit, recipients: int, max_wait: float) -> float:
        for _ in range(WRITE_ATTEMPTS):
            before = self._store.read(producer)
            outcome = reserve(before, limit, recipients, now=self._clock(), max_wait=max_wait)
            if not isinstance(outcome, Granted):
                amount = limit.per_second if outcome.which == "rate" else limit.per_day
                assert amount is not None  # only a limit that is set refuses
                raise OverLimit(
                    producer, which=outcome.which, limit=amount, retry_after=outcome.retry_after
                )
            if self._store.write(producer, outcome.state):
                return outcome.wait
            self._sleep(random.uniform(0, JITTER_SECONDS))  # noqa: S311 - jitter, not a secret
        raise DependencyUnavailable(f"the limit bucket of producer {producer} kept changing")

    def give_back(self, producer: str, recipients: int) -> None:
        """See `Limiter.give_back`."""
        producer = producer.lower()
        limit = self._table.for_producer(producer)
        if limit is None or recipients <= 0:
            return
        with contextlib.suppress(Exception), self._lock(producer):
            for _ in range(WRITE_ATTEMPTS):
                before = self._store.read(producer)
                if before is None:
                    return
                after = give_back(before, limit, recipients, now=self._clock())
                if self._store.write(producer, after):
                    return

    def _lock(self, producer: str) -> threading.Lock:
        with self._locks_guard:
            return self._locks.setdefault(producer, threading.Lock())
