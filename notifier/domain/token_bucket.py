"""A producer's token bucket, counted in recipients, as pure arithmetic on its stored state.

The bucket holds at most `capacity = max(rate, 1)` tokens and refills at `rate` tokens a
second. A request for `n` recipients at `now`, allowed to wait `max_wait` seconds:

1. refills: `tokens = min(capacity, tokens + rate * (now - at))`;
2. is refused ("daily") when the UTC day's count plus `n` is over the daily limit, with
   `retry_after` the seconds to the next UTC midnight;
3. is granted when the bucket holds `need = min(n, capacity)` tokens within `max_wait`:
   `need - tokens <= rate * max_wait`. Then `tokens -= n` (below zero: a debt that later
   requests wait for), the day's count grows by `n`, and the caller sleeps
   `wait = max(0, (need - tokens_before) / rate)` before sending. Asking for `need`, not `n`,
   lets a message with more recipients than the capacity go when the bucket is full (instead
   of never), paying with a debt;
4. is refused ("rate") otherwise, with `retry_after = (need - tokens) / rate`: a retry made
   that much later is granted with no wait (if no one else took the tokens meanwhile).

Error bound. Let a request's send time be when its wait ends. Send times follow the order of
the writes, and each grant finds its `need` in the bucket at its send time, after the grants
before it were taken out; so over any interval of length `T`, the recipients sent for one
producer are at most

    capacity + rate * T + max(0, n_max - capacity) + rate * skew

where `n_max - capacity` (under `n_max - 1`) is the debt of one message larger than the
capacity, and `skew` the largest difference between the clocks of the execution environments
sharing the bucket: a fast clock credits its lead once (`at` never goes back, so a slow clock
credits nothing until it catches up). What happens between the end of the wait and SES
(composing, attachments, the network) can bunch sends further by `rate` times the spread of
that latency. The daily count is exact: every grant is one conditional write of the count.
A message with more recipients than the daily limit never fits: the limiter refuses it for
good (an invalid message) before it gets here.
"""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from typing import Literal

import attrs

from notifier.domain.limits import Limit
from notifier.domain.state import BucketState

# An epoch time in a float is exact to about 0.2 microseconds: rounding must not refuse a
# retry made exactly `retry_after` seconds later.
TOLERANCE_SECONDS = 1e-6


@attrs.frozen
class Granted:
    """Go after `wait` seconds; `state` is what the store must hold from now on."""

    state: BucketState
    wait: float


@attrs.frozen
class Refused:
    """Over the `which` limit: nothing taken; the same request goes in `retry_after` s."""

    which: Literal["rate", "daily"]
    retry_after: float


def reserve(
    before: BucketState | None, limit: Limit, recipients: int, *, now: float, max_wait: float
) -> Granted | Refused:
    """Take `recipients` from the bucket `before` (None: never used, so full) at `now`."""
    at = now if before is None else max(before.at, now)  # never back: see the error bound
    day = utc_day(at)
    count = before.day_count if before is not None and before.day == day else 0
    if limit.per_day is not None and count + recipients > limit.per_day:
        return Refused("daily", _next_midnight(day) - now)
    tokens, wait = 0.0, 0.0
    if limit.per_second is not None:
        rate, capacity = limit.per_second, limit.capacity
        tokens = (
            capacity if before is None else min(capacity, before.tokens + rate * (at - before.at))
        )
        wait = (min(recipients, capacity) - tokens) / rate  # until the bucket holds the need
        if wait > max(max_wait, 0.0) + TOLERANCE_SECONDS:
            return Refused("rate", wait)
        wait = wait if wait > TOLERANCE_SECONDS else 0.0
        tokens -= recipients
    state = BucketState(
        tokens=tokens,
        at=at,
        day=day,
        day_count=count + recipients,
        version=(before.version if before is not None else 0) + 1,
    )
    return Granted(state=state, wait=wait)


def give_back(before: BucketState, limit: Limit, recipients: int, *, now: float) -> BucketState:
    """The bucket with `recipients` returned: taken for a send that then failed before SES
    accepted it. Tokens up to the burst at most; the day's count only on the same UTC day."""
    tokens = before.tokens
    if limit.per_second is not None:
        tokens = min(limit.capacity, before.tokens + recipients)
    same_day = before.day == utc_day(max(before.at, now))
    return attrs.evolve(
        before,
        tokens=tokens,
        day_count=max(0, before.day_count - recipients) if same_day else before.day_count,
        version=before.version + 1,
    )


def utc_day(epoch_seconds: float) -> str:
    """The UTC date of an epoch time, `YYYY-MM-DD`."""
    return datetime.fromtimestamp(epoch_seconds, UTC).date().isoformat()


def _next_midnight(day: str) -> float:
    following = datetime.fromisoformat(day).date() + timedelta(days=1)
    return datetime.combine(following, time(0), UTC).timestamp()
