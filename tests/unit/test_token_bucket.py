"""The token bucket's arithmetic: refill, burst, debt, reservation waits and the daily limit."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from notifier.domain.limits import Limit
from notifier.domain.state import BucketState
from notifier.domain.token_bucket import Granted, Refused, give_back, reserve, utc_day

NOW = datetime(2026, 11, 28, 9, 30, 0, 250_000, tzinfo=UTC).timestamp()
MIDNIGHT = datetime(2026, 11, 29, tzinfo=UTC).timestamp()
TEN_A_SECOND = Limit(per_second=10.0)


def bucket(tokens: float, *, at: float = NOW, day_count: int = 0, version: int = 3) -> BucketState:
    return BucketState(tokens=tokens, at=at, day=utc_day(at), day_count=day_count, version=version)


def granted(outcome: Granted | Refused) -> Granted:
    assert isinstance(outcome, Granted), outcome
    return outcome


def refused(outcome: Granted | Refused) -> Refused:
    assert isinstance(outcome, Refused), outcome
    return outcome


def test_a_new_producer_starts_with_a_full_bucket() -> None:
    """GIVEN no stored bucket WHEN 10 recipients are asked at 10/s THEN they go at once; the
    bucket is empty, today's count is 10, and it is version 1 (written over nothing)."""
    outcome = granted(reserve(None, TEN_A_SECOND, 10, now=NOW, max_wait=0))

    assert outcome.wait == 0
    assert outcome.state == BucketState(
        tokens=0.0, at=NOW, day="2026-11-28", day_count=10, version=1
    )


def test_the_bucket_refills_at_the_rate_up_to_its_capacity() -> None:
    """GIVEN an empty bucket at 10/s WHEN 0.5 s pass THEN 5 recipients go and a 6th is
    refused; WHEN an hour passes THEN only the burst (10) is there, not 36,000."""
    empty = bucket(0.0)

    half = granted(reserve(empty, TEN_A_SECOND, 5, now=NOW + 0.5, max_wait=0))
    assert half.state.tokens == pytest.approx(0.0)
    assert half.state.version == 4
    refused(reserve(empty, TEN_A_SECOND, 6, now=NOW + 0.5, max_wait=0))

    later = granted(reserve(empty, TEN_A_SECOND, 10, now=NOW + 3600, max_wait=0))
    assert later.state.tokens == 0.0
    refused(reserve(later.state, TEN_A_SECOND, 1, now=NOW + 3600, max_wait=0))


def test_a_request_that_may_wait_reserves_its_tokens_ahead() -> None:
    """GIVEN 2 tokens at 10/s WHEN 5 recipients may wait 0.5 s THEN they are granted with a
    0.3 s wait and the bucket owes 3; WHEN the next 2 come at once THEN they wait 0.5 s (behind
    the first reservation), and a third pair, which would wait 0.7 s, is refused."""
    first = granted(reserve(bucket(2.0), TEN_A_SECOND, 5, now=NOW, max_wait=0.5))
    assert first.wait == pytest.approx(0.3)
    assert first.state.tokens == pytest.approx(-3.0)

    second = granted(reserve(first.state, TEN_A_SECOND, 2, now=NOW, max_wait=0.5))
    assert second.wait == pytest.approx(0.5)

    third = refused(reserve(second.state, TEN_A_SECOND, 2, now=NOW, max_wait=0.5))
    assert third.which == "rate"
    assert third.retry_after == pytest.approx(0.7)


def test_a_message_over_the_capacity_goes_when_the_bucket_is_full_and_leaves_a_debt() -> None:
    """GIVEN a full bucket of 10 WHEN one message has 25 recipients THEN it goes at once (it
    could never find 25 tokens) and the bucket owes 15: the next recipient waits 1.6 s."""
    oversize = granted(reserve(bucket(10.0), TEN_A_SECOND, 25, now=NOW, max_wait=0))
    assert oversize.wait == 0
    assert oversize.state.tokens == -15.0

    after = refused(reserve(oversize.state, TEN_A_SECOND, 1, now=NOW, max_wait=0))
    assert after.retry_after == pytest.approx(1.6)


def test_a_message_over_the_capacity_waits_for_a_full_bucket() -> None:
    """GIVEN 4 tokens of 10 WHEN a 25-recipient message may wait 1 s THEN it waits 0.6 s, until
    the bucket is full; with no wait allowed it is refused for those 0.6 s."""
    assert granted(reserve(bucket(4.0), TEN_A_SECOND, 25, now=NOW, max_wait=1)).wait == (
        pytest.approx(0.6)
    )
    assert refused(reserve(bucket(4.0), TEN_A_SECOND, 25, now=NOW, max_wait=0)).retry_after == (
        pytest.approx(0.6)
    )


def test_a_rate_under_one_a_second_sends_one_recipient_at_a_time() -> None:
    """GIVEN 0.2/s (capacity 1) WHEN one recipient goes THEN the next waits 5 s."""
    slow = Limit(per_second=0.2)
    first = granted(reserve(None, slow, 1, now=NOW, max_wait=0))

    assert refused(reserve(first.state, slow, 1, now=NOW, max_wait=0)).retry_after == (
        pytest.approx(5.0)
    )


@pytest.mark.parametrize(
    ("tokens", "recipients", "max_wait"),
    [(0.0, 1, 0.0), (-3.7, 4, 0.0), (0.3, 7, 0.25), (-120.0, 1, 2.0), (6.0, 30, 0.1)],
)
def test_a_retry_after_exactly_retry_after_is_granted(
    tokens: float, recipients: int, max_wait: float
) -> None:
    """GIVEN a refusal for the rate WHEN the same request comes back exactly `retry_after`
    seconds later THEN it is granted, with no wait, and an instant earlier it is not."""
    before = bucket(tokens, at=NOW + 0.123)
    retry_after = refused(
        reserve(before, TEN_A_SECOND, recipients, now=NOW + 0.123, max_wait=max_wait)
    ).retry_after

    assert retry_after > 0
    again = granted(
        reserve(before, TEN_A_SECOND, recipients, now=NOW + 0.123 + retry_after, max_wait=0)
    )
    assert again.wait == 0
    early = NOW + 0.123 + retry_after - 0.001
    refused(reserve(before, TEN_A_SECOND, recipients, now=early, max_wait=0))


def test_the_daily_limit_counts_recipients_until_utc_midnight() -> None:
    """GIVEN 100/d and 98 recipients today WHEN 3 more are asked THEN they are refused until
    the next UTC midnight, whatever the rate allows; 2 more are granted; after midnight the
    count starts again."""
    daily = Limit(per_second=1000.0, per_day=100)
    today = bucket(1000.0, day_count=98)

    refusal = refused(reserve(today, daily, 3, now=NOW, max_wait=0))
    assert refusal.which == "daily"
    assert refusal.retry_after == MIDNIGHT - NOW

    assert granted(reserve(today, daily, 2, now=NOW, max_wait=0)).state.day_count == 100
    tomorrow = granted(reserve(today, daily, 3, now=MIDNIGHT, max_wait=0)).state
    assert (tomorrow.day, tomorrow.day_count) == ("2026-11-29", 3)


def test_a_daily_limit_alone_keeps_no_tokens() -> None:
    """GIVEN only a daily limit WHEN requests come at once THEN they go with no wait until the
    day's count is reached."""
    daily = Limit(per_day=5)
    first = granted(reserve(None, daily, 4, now=NOW, max_wait=0))
    second = granted(reserve(first.state, daily, 1, now=NOW, max_wait=0))

    assert (first.wait, second.wait, second.state.day_count) == (0, 0, 5)
    assert refused(reserve(second.state, daily, 1, now=NOW, max_wait=0)).which == "daily"


def test_a_clock_behind_the_stored_time_credits_nothing_and_keeps_the_time() -> None:
    """GIVEN a bucket written at NOW by an environment whose clock is ahead WHEN an environment
    1 s behind asks THEN nothing is refilled and the stored time does not go back (so the fast
    clock's lead is credited once, not again)."""
    ahead = bucket(2.0, at=NOW)

    outcome = granted(reserve(ahead, TEN_A_SECOND, 2, now=NOW - 1.0, max_wait=0))

    assert outcome.state.tokens == 0.0
    assert outcome.state.at == NOW
    refused(reserve(ahead, TEN_A_SECOND, 3, now=NOW - 1.0, max_wait=0))


def test_a_clock_behind_midnight_keeps_counting_the_new_day() -> None:
    """GIVEN a bucket written just after midnight WHEN a clock 1 s behind (still yesterday)
    asks THEN it counts into the new day, and a refusal waits for the midnight after that."""
    daily = Limit(per_day=10)
    new_day = bucket(0.0, at=MIDNIGHT + 0.5, day_count=10)

    refusal = refused(reserve(new_day, daily, 1, now=MIDNIGHT - 0.5, max_wait=0))

    assert refusal.retry_after == 86_400.0 + 0.5


@settings(max_examples=300, deadline=None)
@given(
    rate=st.sampled_from([0.5, 1.0, 3.0, 10.0]),
    max_wait=st.sampled_from([0.0, 0.4, 2.0]),
    requests=st.lists(
        st.tuples(st.floats(0, 2, allow_nan=False), st.integers(1, 25)), min_size=1, max_size=60
    ),
)
def test_sends_in_any_window_stay_within_the_stated_bound(
    rate: float, max_wait: float, requests: list[tuple[float, int]]
) -> None:
    """The module's error bound, one clock: GIVEN requests arriving at any pace WHEN each
    granted one is sent as its wait ends THEN every window of length T holds at most
    capacity + rate * T + (n_max - capacity) recipients."""
    limit = Limit(per_second=rate)
    state, now, sends = None, NOW, []
    for gap, recipients in requests:
        now += gap
        outcome = reserve(state, limit, recipients, now=now, max_wait=max_wait)
        if isinstance(outcome, Granted):
            state = outcome.state
            sends.append((now + outcome.wait, recipients))
    debt = max(0.0, max(n for _, n in sends) - limit.capacity)
    for start, _ in sends:
        for end, _ in sends:
            if end >= start:
                sent = sum(n for t, n in sends if start <= t <= end)
                # (slack: float epoch times, and the microsecond a grant may come early)
                assert sent <= limit.capacity + rate * (end - start) + debt + 1e-3


def test_what_is_given_back_refills_up_to_the_burst_and_that_day_only() -> None:
    """A refund returns tokens (never above one second's burst) and takes the recipients off
    the day's count; after midnight the new day's count is left alone."""
    limit = Limit(per_second=5, per_day=100)
    state = BucketState(tokens=-1.0, at=NOW, day=utc_day(NOW), day_count=40, version=7)

    back = give_back(state, limit, 3, now=NOW + 1)
    assert (back.tokens, back.day_count, back.version) == (2.0, 37, 8)
    assert give_back(state, limit, 50, now=NOW).tokens == 5.0  # the burst at most
    assert give_back(state, limit, 50, now=NOW).day_count == 0
    assert give_back(state, limit, 3, now=MIDNIGHT + 1).day_count == 40
