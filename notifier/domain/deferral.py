"""Putting a queued message back for later, without spending its receives.

A message whose producer is over its limit, or that SES throttled past the function's retries,
only needs to wait. SQS counts every receive (`ApproximateReceiveCount`) and dead-letters a
message whose count passes the queue's `maxReceiveCount`; nothing lowers that count, and
`ChangeMessageVisibility` only postpones the next receive, which is counted too. So a message
that waited through a long flood by `ChangeMessageVisibility` would be dead-lettered with
nothing wrong with it.

A deferral therefore puts a fresh copy on the queue (`SendMessage` with `DelaySeconds`, same
body and attributes, `notifier-deferrals` counting the deferrals) and lets the original be
deleted (it is reported as processed). Why this neither counts nor loses nor doubles:

- not counted: the copy is a new SQS message, whose receive count starts at 0. What is
  carried over is only what failed for real: the copy's `notifier-failures` attribute is the
  original's plus the original's receives before this one (each of those was a failed
  attempt: a receive that waited was deleted at once, its copy going on). So a message that
  only waits, however long, never comes near `maxReceiveCount`;
- still bounded: once a message's real failures reach `maxReceiveCount`
  (NOTIFIER_MAX_RECEIVE_COUNT, the template passes it) no copy is made: it waits the counted
  way (`ChangeMessageVisibility` to the delay and a batch item failure), so SQS's own count
  ends it in the dead-letter queue. A message is attempted for real at most
  2 x maxReceiveCount - 1 times across its copies;
- not lost: the original is deleted only after `SendMessage` succeeded; if it fails, the
  original stays (a batch item failure, its visibility set to the delay);
- not sent twice: if the invocation dies between the copy and the delete, both the original
  and the copy come back; they carry the same body, so the same idempotency key and content
  hash, and the second finds the first's record (sent, or in progress).

tests/integration/test_deferral.py holds it on LocalStack with `maxReceiveCount` 1: a
message deferred many times is sent once and never dead-lettered.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import attrs

from notifier.domain.model import Priority

DEFERRALS_ATTRIBUTE = "notifier-deferrals"
FAILURES_ATTRIBUTE = "notifier-failures"
MAX_DELAY_SECONDS = 900  # SQS's DelaySeconds maximum; a longer wait is several deferrals
FIRST_DELAY_SECONDS = 2.0


@attrs.frozen(kw_only=True)
class MessageAttribute:
    """An SQS message attribute as SendMessage takes it (a Binary value in base64)."""

    name: str
    data_type: str
    value: str


@attrs.frozen(kw_only=True)
class QueuedMessage:
    """A message as it arrived from a queue or a topic: what a copy of it needs.

    `source_arn` and `receipt_handle` are empty for a message delivered by SNS (it was on no
    queue); `deferrals` is how many times it was put back before."""

    body: str
    attributes: tuple[MessageAttribute, ...] = ()
    source_arn: str = ""
    receipt_handle: str = ""
    receive_count: int = 1  # SQS's ApproximateReceiveCount; 1 for SNS
    deferrals: int = 0
    failures: int = 0  # real failures of the copies before this one

    @property
    def real_failures(self) -> int:
        """Attempts that failed for real: the earlier copies', and this one's receives before
        the current one."""
        return self.failures + max(self.receive_count - 1, 0)


@attrs.frozen(kw_only=True)
class Deferred:
    """A message put back on its queue for `delay_seconds`: not sent now, not lost."""

    reason: str  # over_limit, throttled
    delay_seconds: int
    deferrals: int  # including this one
    copied: bool  # a fresh copy (not counted), or the original held back (counted)
    producer: str = ""  # over whose limit, for over_limit
    copy_id: str = ""  # the copy's queue message id: where the message went on


def deferral_delay(retry_after: float, deferrals: int, *, jitter: Callable[[], float]) -> int:
    """Seconds until the copy is received: never before `retry_after`, doubling with each
    deferral so a long flood is not re-read in a tight loop, spread by `jitter()` (0 to 1) so
    that copies deferred together do not come back together; at most SQS's 900 s."""
    backoff = FIRST_DELAY_SECONDS * 2.0 ** min(deferrals, 10)
    base = max(retry_after, backoff)
    return min(MAX_DELAY_SECONDS, math.ceil(base * (1.0 + jitter())))


@attrs.frozen(kw_only=True)
class Forwarded:
    """A message moved to the queue of its lane (bulk mail that arrived elsewhere)."""

    lane: Priority
    copy_id: str  # its queue message id there
