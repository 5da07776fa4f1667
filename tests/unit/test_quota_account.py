"""The quota soak's verdicts (tests/soak/quota_account.py): the checks that decide PASS or
FAIL, each shown to pass and to fail."""

from __future__ import annotations

import collections

import pytest

from tests.soak import producers
from tests.soak.quota_account import RateLimit, account, busiest, percentile


def test_a_limit_allows_its_rate_over_the_window_plus_one_bucket_plus_the_slack() -> None:
    """campaigns=10/s: a bucket of 10, and 10/s x 0.5 s for the send stamped after the
    token was taken: 25 in a second, 115 in ten; a rate under 1 still has a bucket of 1."""
    limit = RateLimit(name="campaigns", rate=10.0)

    assert (limit.capacity, limit.error_bound) == (10.0, 5.0)
    assert [limit.allowed(w) for w in (1.0, 10.0, 60.0)] == [25.0, 115.0, 615.0]
    assert RateLimit(name="slow", rate=0.5).capacity == 1.0


def test_the_busiest_window_counts_recipients_with_both_ends_included() -> None:
    """Sends at 0, 0.5, 1.0 (2 recipients) and 2.5: a 1 s window holds 4 at most, since
    [0, 1] includes both ends; a 0.4 s window holds the 2-recipient send alone."""
    sends = [(2.5, 1), (0.0, 1), (0.5, 1), (1.0, 2)]

    assert busiest(sends, 1.0) == 4
    assert busiest(sends, 0.4) == 2
    assert busiest(sends, 10.0) == 5
    assert busiest([], 1.0) == 0


@pytest.mark.parametrize(
    ("fraction", "expected"), [(0.5, 5.0), (0.95, 10.0), (0.9, 9.0), (0.01, 1.0)]
)
def test_percentiles_are_nearest_rank(fraction: float, expected: float) -> None:
    """Of 1..10 s, p50 is 5 s and p95 is 10 s: a value that occurred, never interpolated."""
    assert percentile([float(n) for n in range(10, 0, -1)], fraction) == expected


def test_the_account_puts_each_message_in_one_place_or_says_where_it_is_not() -> None:
    """GIVEN four messages WHEN one was sent once, one twice, one dead-lettered and one is
    nowhere, and the outbox holds a stranger THEN each shows up as such, and it is not ok;
    with each sent once it is."""
    sent = producers.messages(producers.A, run="r1", count=4, seed=1)
    once, twice, dead, nowhere = (m.token for m in sent)

    found = account(
        sent,
        outbox=collections.Counter({once: 1, twice: 2, "stranger": 1}),
        dead_letters={"bulk DLQ": [dead]},
        queued=[],
        unread=0,
    )
    clean = account(
        sent,
        outbox=collections.Counter({m.token: 1 for m in sent}),
        dead_letters={"bulk DLQ": []},
        queued=[],
        unread=0,
    )

    assert (found.lost, found.sent_twice, found.dead, found.strays) == ((nowhere,), (twice,), 1, 1)
    assert found.sent == {"A": 2}
    assert not found.ok
    assert clean.ok
    assert clean.sent == {"A": 4}
