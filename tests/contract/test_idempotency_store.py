"""The `IdempotencyStore` contract: claim, complete and release, expiry checked in code.

Times are epoch seconds with a fraction, so that an implementation that rounds (DynamoDB's TTL
is whole seconds) shows here. See conftest.py for how each test runs on both implementations.
"""

from __future__ import annotations

from notifier.domain.ports import IdempotencyStore
from notifier.domain.state import IdempotencyRecord, RecordStatus

NOW = 1_764_320_000.25
DAY = 86_400.0
KEY = "noreply@acubeapi.com#key:invoice-12345"


def in_progress(
    key: str = KEY, *, payload_hash: str = "h1", expires_at: float = NOW + 30
) -> IdempotencyRecord:
    return IdempotencyRecord(
        key=key, status=RecordStatus.IN_PROGRESS, payload_hash=payload_hash, expires_at=expires_at
    )


def holder(store: IdempotencyStore, key: str = KEY, *, now: float) -> IdempotencyRecord | None:
    """What a claim of `key` at `now` meets: the live record, or None (and then a new claim,
    far in the future, now holds the key)."""
    return store.claim(in_progress(key, payload_hash="probe", expires_at=now + 10 * DAY), now=now)


def test_a_fresh_key_is_claimed(store: IdempotencyStore) -> None:
    """GIVEN no record WHEN a key is claimed THEN the claim succeeds (None), and a second claim
    meets the first record exactly as written."""
    first = in_progress()

    assert store.claim(first, now=NOW) is None

    assert holder(store, now=NOW) == first


def test_a_live_claim_is_returned_untouched(store: IdempotencyStore) -> None:
    """GIVEN an IN_PROGRESS record WHEN the key is claimed again just before its expiry THEN the
    claim fails with the holder's record, and the record is still the holder's."""
    first = in_progress(expires_at=NOW + 30)
    store.claim(first, now=NOW)

    held = store.claim(in_progress(payload_hash="h2", expires_at=NOW + 60), now=NOW + 29.75)

    assert held == first
    assert holder(store, now=NOW + 29.75) == first


def test_an_expired_claim_is_taken_over_at_exactly_its_expiry(store: IdempotencyStore) -> None:
    """GIVEN an IN_PROGRESS record whose holder died WHEN the key is claimed at exactly its
    `expires_at` THEN the claim succeeds (a record with `expires_at <= now` is not live) and
    the new record replaces the old."""
    store.claim(in_progress(expires_at=NOW + 30), now=NOW)
    second = in_progress(payload_hash="h2", expires_at=NOW + 60)

    assert store.claim(second, now=NOW + 30) is None

    assert holder(store, now=NOW + 31) == second


def test_keys_are_independent(store: IdempotencyStore) -> None:
    """GIVEN a live claim WHEN another key is claimed THEN it succeeds: records never share."""
    store.claim(in_progress(), now=NOW)

    assert store.claim(in_progress(KEY + "-other"), now=NOW) is None
    assert store.claim(in_progress(KEY.upper()), now=NOW) is None  # keys are case-sensitive


def test_a_completed_key_answers_with_the_ses_message_id(store: IdempotencyStore) -> None:
    """GIVEN a claimed key WHEN it is completed THEN a claim before the new expiry meets the
    COMPLETED record: same payload hash, the SES message id, the new expiry."""
    store.claim(in_progress(), now=NOW)

    store.complete(KEY, payload_hash="h1", ses_message_id="ses-0001", expires_at=NOW + DAY)

    assert holder(store, now=NOW + DAY - 0.25) == IdempotencyRecord(
        key=KEY,
        status=RecordStatus.COMPLETED,
        payload_hash="h1",
        expires_at=NOW + DAY,
        ses_message_id="ses-0001",
    )


def test_a_completed_key_can_be_claimed_again_at_its_expiry(store: IdempotencyStore) -> None:
    """GIVEN a completed key WHEN it is claimed at exactly its expiry (the TTL; no sweep is
    waited for) THEN the claim succeeds, and the new IN_PROGRESS record has no SES message id."""
    store.claim(in_progress(), now=NOW)
    store.complete(KEY, payload_hash="h1", ses_message_id="ses-0001", expires_at=NOW + DAY)
    again = in_progress(payload_hash="h2", expires_at=NOW + DAY + 30)

    assert store.claim(again, now=NOW + DAY) is None

    assert holder(store, now=NOW + DAY + 1) == again


def test_completing_a_taken_over_key_marks_the_new_holders_record(
    store: IdempotencyStore,
) -> None:
    """GIVEN a claim taken over by another invocation WHEN the first holder's send is accepted
    and it completes THEN the record says COMPLETED for the payload it sent, with that SES
    message id, whatever happened meanwhile (SES has sent it; a retry must not send it again)."""
    store.claim(in_progress(expires_at=NOW + 30), now=NOW)
    store.claim(in_progress(payload_hash="h2", expires_at=NOW + 90), now=NOW + 30)

    store.complete(KEY, payload_hash="h1", ses_message_id="ses-0001", expires_at=NOW + DAY)

    assert holder(store, now=NOW + 60) == IdempotencyRecord(
        key=KEY,
        status=RecordStatus.COMPLETED,
        payload_hash="h1",
        expires_at=NOW + DAY,
        ses_message_id="ses-0001",
    )


def test_completing_a_released_key_writes_a_completed_record(store: IdempotencyStore) -> None:
    """GIVEN a key whose record is gone (taken over, then released by the new holder) WHEN the
    first holder completes it THEN a COMPLETED record with the SES message id and expiry holds
    the key, with the payload hash it was given: a later duplicate is still a duplicate, not a
    conflict."""
    store.claim(in_progress(), now=NOW)
    store.release(KEY)

    store.complete(KEY, payload_hash="h1", ses_message_id="ses-0001", expires_at=NOW + DAY)

    held = holder(store, now=NOW + 1)
    assert held is not None
    assert held == IdempotencyRecord(
        key=KEY,
        status=RecordStatus.COMPLETED,
        payload_hash="h1",
        expires_at=NOW + DAY,
        ses_message_id="ses-0001",
    )


def test_a_released_key_can_be_claimed_at_once(store: IdempotencyStore) -> None:
    """GIVEN a claim released after a failed send WHEN the key is claimed again, long before the
    old expiry THEN the claim succeeds; releasing a key that holds nothing is no error."""
    store.claim(in_progress(expires_at=NOW + 30), now=NOW)

    store.release(KEY)

    assert store.claim(in_progress(expires_at=NOW + 31), now=NOW + 1) is None
    store.release(KEY + "-never-claimed")
