"""State kept between invocations: idempotency records, the suppression list and producers'
token buckets.

Both live in one DynamoDB table (NOTIFIER_STATE_TABLE), told apart by key prefix; see
README "State table". Times are epoch seconds (floats) from the service's clock.
"""

from __future__ import annotations

import enum

import attrs


class RecordStatus(enum.Enum):
    IN_PROGRESS = "IN_PROGRESS"
    COMPLETED = "COMPLETED"


@attrs.frozen(kw_only=True)
class IdempotencyRecord:
    """Who holds an idempotency key. `expires_at`: for IN_PROGRESS, when a crashed holder's
    claim may be taken over; for COMPLETED, when the key may be used again (the TTL)."""

    key: str
    status: RecordStatus
    payload_hash: str
    expires_at: float
    ses_message_id: str | None = None


class SuppressionReason(enum.Enum):
    BOUNCE = "bounce"  # a permanent bounce
    COMPLAINT = "complaint"
    TRANSIENT_BOUNCES = "transient-bounces"  # too many transient bounces in the window


@attrs.frozen(kw_only=True)
class Suppression:
    """An address we no longer send to, and why (from the SES notification that put it here)."""

    address: str  # lower-case ASCII addr-spec
    reason: SuppressionReason
    feedback_type: str = ""  # bounceType or complaintFeedbackType
    feedback_sub_type: str = ""  # bounceSubType
    feedback_id: str = ""
    timestamp: str = ""  # ISO 8601, from the notification


@attrs.frozen(kw_only=True)
class BucketState:
    """A producer's token bucket (see `token_bucket`), as last written: `tokens` (negative
    while in debt) as of `at` (epoch seconds), recipients counted on UTC day `day`
    (`YYYY-MM-DD`), and the `version` of the write, for optimistic concurrency."""

    tokens: float
    at: float
    day: str
    day_count: int
    version: int
