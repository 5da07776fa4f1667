"""ProducerLimiter: limits kept in a store, sleeps that end when a send may go, lost races
retried, refusals that say which limit and when to retry."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import attrs
import pytest

from notifier.domain.errors import DependencyUnavailable, InvalidMessage, OverLimit
from notifier.domain.limiter import WRITE_ATTEMPTS, NullLimiter, ProducerLimiter
from notifier.domain.limits import parse_limits
from notifier.domain.state import BucketState
from tests.fakes import FakeLimitStore, ManualClock
from tests.unit.conftest import FIXED_NOW

NOW = FIXED_NOW.timestamp()


@attrs.define
class Sleeps:
    """Records each sleep instead of sleeping."""

    slept: list[float] = attrs.field(factory=list)

    def __call__(self, seconds: float) -> None:
        self.slept.append(seconds)


def limiter(
    limits: str, store: FakeLimitStore | None = None, **kwargs: Any
) -> tuple[ProducerLimiter, FakeLimitStore, Sleeps]:
    store = store if store is not None else FakeLimitStore()
    sleeps = Sleeps()
    kwargs.setdefault("clock", ManualClock(NOW))
    return ProducerLimiter(store, parse_limits(limits), sleep=sleeps, **kwargs), store, sleeps


# ProducerLimiter


def test_a_producer_is_refused_once_its_burst_is_spent() -> None:
    """GIVEN billing at 2/s WHEN it sends 2 recipients then 1 more at the same instant THEN the
    first goes, the second is OverLimit for 0.5 s, and nothing was slept."""
    limits, store, sleeps = limiter("billing=2/s")

    assert limits.acquire("billing", 2, max_wait=0) == 0
    with pytest.raises(OverLimit) as raised:
        limits.acquire("billing", 1, max_wait=0)

    error = raised.value
    assert (error.producer, error.which, error.retry_after) == ("billing", "rate", 0.5)
    assert str(error) == "producer billing is over its limit of 2 recipients/s; retry in 1 s"
    assert (error.reason, error.permanent) == ("over_limit", False)
    assert store.buckets["billing"].day_count == 2
    assert sleeps.slept == []


def test_a_message_larger_than_a_day_s_limit_is_refused_for_good() -> None:
    """GIVEN news at 5 recipients a day WHEN a message to 6 comes THEN it is invalid (no day
    would let it through: put back, it would come back forever), and the bucket is untouched."""
    limits, store, _sleeps = limiter("news=5/d")

    with pytest.raises(InvalidMessage) as raised:
        limits.acquire("news", 6, max_wait=2)

    assert raised.value.permanent is True
    assert [(e.field, e.message) for e in raised.value.errors] == [
        (
            "recipients",
            "6 recipients are more than producer news may send in a day (5); split the message",
        )
    ]
    assert store.buckets == {}
    assert limits.acquire("news", 5, max_wait=0) == 0


def test_a_send_that_may_wait_sleeps_until_it_may_go() -> None:
    """GIVEN an empty bucket at 10/s WHEN a send of 3 may wait 1 s THEN the limiter sleeps
    0.3 s itself and says so."""
    limits, _store, sleeps = limiter("billing=10/s")
    limits.acquire("billing", 10, max_wait=0)

    assert limits.acquire("billing", 3, max_wait=1) == pytest.approx(0.3)
    assert sleeps.slept == [pytest.approx(0.3)]


def test_the_daily_limit_is_named_in_the_refusal() -> None:
    """GIVEN 5/d, 3 sent today WHEN 3 more recipients are asked THEN OverLimit says the daily
    limit, to be retried at the next UTC midnight (14.5 hours after 09:30)."""
    limits, _store, _sleeps = limiter("news.example.com=5/d")
    limits.acquire("news.example.com", 3, max_wait=0)

    with pytest.raises(OverLimit) as raised:
        limits.acquire("News.Example.com", 3, max_wait=30)

    assert raised.value.which == "daily"
    assert raised.value.retry_after == 14.5 * 3600
    assert str(raised.value) == (
        "producer news.example.com is over its limit of 5 recipients/day; retry in 52200 s"
    )


def test_producers_have_a_bucket_each_and_unnamed_ones_none() -> None:
    """GIVEN a limit for billing only WHEN billing is spent THEN another producer still sends,
    and no bucket is kept for it."""
    limits, store, _sleeps = limiter("billing=1/s")
    limits.acquire("billing", 1, max_wait=0)

    for _ in range(100):
        assert limits.acquire("news.example.com", 50, max_wait=0) == 0
    assert set(store.buckets) == {"billing"}


def test_the_default_limit_gives_each_producer_its_own_bucket() -> None:
    """GIVEN `*=1/s` WHEN two producers send THEN each has its own bucket of 1."""
    limits, store, _sleeps = limiter("*=1/s")

    limits.acquire("billing", 1, max_wait=0)
    limits.acquire("news.example.com", 1, max_wait=0)

    assert set(store.buckets) == {"billing", "news.example.com"}


class RacingStore(FakeLimitStore):
    """Another environment sends one recipient between each read and write, `races` times."""

    def __init__(self, races: int) -> None:
        super().__init__()
        self.races = races

    def read(self, producer: str) -> BucketState | None:
        state = super().read(producer)
        if self.races > 0:
            self.races -= 1
            other = state or BucketState(
                tokens=100.0, at=NOW, day="2026-11-28", day_count=0, version=0
            )
            super().write(
                producer,
                attrs.evolve(other, day_count=other.day_count + 1, version=other.version + 1),
            )
        return state


def test_a_lost_race_is_read_again_and_retried() -> None:
    """GIVEN another environment writing between our read and write, twice WHEN billing sends
    THEN the third attempt goes through, on the other's state (its two recipients kept), after
    two short jitter sleeps."""
    limits, store, sleeps = limiter("billing=5/s", store=RacingStore(races=2))

    limits.acquire("billing", 2, max_wait=0)

    assert store.lost == 2
    assert store.buckets["billing"].day_count == 2 + 2
    assert len(sleeps.slept) == 2
    assert all(0 <= s <= 0.005 for s in sleeps.slept)


def test_a_bucket_that_keeps_changing_is_a_transient_failure_not_a_refusal() -> None:
    """GIVEN a race lost on every attempt WHEN billing sends THEN DependencyUnavailable (retry
    later), after a bounded number of attempts."""
    limits, store, _sleeps = limiter("billing=1000/s", store=RacingStore(races=1000))

    with pytest.raises(DependencyUnavailable, match="kept changing"):
        limits.acquire("billing", 1, max_wait=0)
    assert store.lost == WRITE_ATTEMPTS


class SlowReads(FakeLimitStore):
    """A store whose reads take a millisecond, as a network call does: without the limiter's
    per-producer lock, the threads would all read the same version and most writes be lost."""

    def read(self, producer: str) -> BucketState | None:
        state = super().read(producer)
        time.sleep(0.001)
        return state


def test_the_threads_of_one_environment_never_race_each_other() -> None:
    """GIVEN one limiter WHEN 16 threads take 1 recipient each from a bucket of 10 THEN exactly
    10 are granted, and no write was lost (the per-producer lock serialises them)."""
    limits, store, _sleeps = limiter("billing=10/s", SlowReads())
    start = threading.Barrier(16)

    def one(_: int) -> bool:
        start.wait()
        try:
            limits.acquire("billing", 1, max_wait=0)
        except OverLimit:
            return False
        return True

    with ThreadPoolExecutor(max_workers=16) as pool:
        granted = sum(pool.map(one, range(16)))

    assert granted == 10
    assert store.lost == 0


def test_without_limits_nothing_waits() -> None:
    """NullLimiter (no NOTIFIER_PRODUCER_LIMITS) grants everything at once."""
    assert NullLimiter().acquire("billing", 10_000, max_wait=5) == 0.0
