"""The `SuppressionList` contract: suppressed, add, remove, entries, count_transient_bounce.

Addresses are compared without regard to case, and kept lower-case. See conftest.py for how
each test runs on both implementations. `add` is called for its effect only: what it returns
is about to change.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any

import attrs

from notifier.domain.ports import IdempotencyStore, SuppressionList
from notifier.domain.state import IdempotencyRecord, RecordStatus, Suppression, SuppressionReason

NOW = 1_764_320_000.25
DAY = 86_400.0
WEEK = 7 * DAY


def bounce(address: str, **changes: Any) -> Suppression:
    """A permanent bounce with every field set, as the feedback service records it."""
    entry = Suppression(
        address=address,
        reason=SuppressionReason.BOUNCE,
        feedback_type="Permanent",
        feedback_sub_type="General",
        feedback_id="0100018f-feedback",
        timestamp="2026-11-28T09:30:00.000Z",
    )
    return attrs.evolve(entry, **changes)


# suppressed


def test_nothing_is_suppressed_at_first(suppressions: SuppressionList) -> None:
    """GIVEN an empty list WHEN addresses are checked THEN none is suppressed, and checking no
    address at all is no error."""
    assert suppressions.suppressed(["user@example.com"]) == set()
    assert suppressions.suppressed([]) == set()


def test_suppressed_addresses_are_found_whatever_their_case(
    suppressions: SuppressionList,
) -> None:
    """GIVEN two suppressed addresses WHEN recipients are checked THEN exactly those come back,
    compared without regard to case but in the caller's spelling (each spelling given)."""
    suppressions.add(bounce("gone@example.com"))
    suppressions.add(bounce("angry@example.com", reason=SuppressionReason.COMPLAINT))

    found = suppressions.suppressed(
        ["GONE@example.com", "gone@example.com", "angry@example.com", "ok@example.com"]
    )

    assert found == {"GONE@example.com", "gone@example.com", "angry@example.com"}


def test_more_than_a_hundred_addresses_are_checked(suppressions: SuppressionList) -> None:
    """GIVEN suppressed addresses spread over 250 recipients WHEN all are checked at once THEN
    every one is found (DynamoDB's BatchGetItem takes 100 keys at a time)."""
    recipients = [f"user{n:03}@example.com" for n in range(250)]
    for address in [*recipients[::99], recipients[100], recipients[-1]]:  # 0, 99, 100, 198, 249
        suppressions.add(bounce(address))

    found = suppressions.suppressed(recipients)

    assert found == {recipients[n] for n in (0, 99, 100, 198, 249)}


# add


def test_an_address_added_in_any_case_is_kept_lower_case(suppressions: SuppressionList) -> None:
    """GIVEN an entry whose address has capitals WHEN added THEN it suppresses the address in
    any case and is listed lower-case; `add` says it was kept."""
    assert suppressions.add(bounce("Angry@Example.com")) is True

    assert suppressions.suppressed(["angry@example.com"]) == {"angry@example.com"}
    assert suppressions.entries() == [bounce("angry@example.com")]


def test_add_replaces_the_earlier_entry_for_the_address(suppressions: SuppressionList) -> None:
    """GIVEN a suppressed address WHEN it is added again with another reason THEN the new entry
    replaces the old one whole (no field of the old one survives)."""
    suppressions.add(bounce("amy@example.com"))

    suppressions.add(
        Suppression(address="AMY@example.com", reason=SuppressionReason.TRANSIENT_BOUNCES)
    )

    assert suppressions.entries() == [
        Suppression(address="amy@example.com", reason=SuppressionReason.TRANSIENT_BOUNCES)
    ]


# entries


def test_entries_are_every_suppression_sorted_by_address_as_written(
    suppressions: SuppressionList, store: IdempotencyStore
) -> None:
    """GIVEN suppressions added out of order, next to an idempotency record and a transient
    bounce count in the same store WHEN listed THEN only the suppressions come back, sorted by
    address, each field as written (empty ones included)."""
    store.claim(
        IdempotencyRecord(
            key="noreply@acubeapi.com#sha256:ab",
            status=RecordStatus.IN_PROGRESS,
            payload_hash="ab",
            expires_at=NOW + 30,
        ),
        now=NOW,
    )
    suppressions.count_transient_bounce(
        "soft@example.com", bounce_id=f"b{NOW}", at=NOW, window_seconds=WEEK
    )
    complaint = Suppression(
        address="bob@example.com", reason=SuppressionReason.COMPLAINT, feedback_type="abuse"
    )
    for entry in (bounce("zed@example.com"), complaint, bounce("amy@example.com")):
        suppressions.add(entry)

    assert suppressions.entries() == [
        bounce("amy@example.com"),
        complaint,
        bounce("zed@example.com"),
    ]


def test_no_entries_at_first(suppressions: SuppressionList) -> None:
    """GIVEN an empty list WHEN listed THEN there is nothing."""
    assert suppressions.entries() == []


# remove


def test_remove_forgets_the_address_and_its_bounces(suppressions: SuppressionList) -> None:
    """GIVEN a suppressed address with transient bounces WHEN removed (in another case) THEN it
    is True, the address is no longer suppressed nor listed, and its bounce count starts
    again."""
    suppressions.count_transient_bounce(
        "gone@example.com", bounce_id=f"b{NOW}", at=NOW, window_seconds=WEEK
    )
    suppressions.count_transient_bounce(
        "gone@example.com", bounce_id=f"b{NOW + 1}", at=NOW + 1, window_seconds=WEEK
    )
    suppressions.add(bounce("gone@example.com"))
    suppressions.add(bounce("kept@example.com"))

    assert suppressions.remove("Gone@Example.com") is True

    assert suppressions.suppressed(["gone@example.com", "kept@example.com"]) == {"kept@example.com"}
    assert suppressions.entries() == [bounce("kept@example.com")]
    assert (
        suppressions.count_transient_bounce(
            "gone@example.com", bounce_id=f"b{NOW + 2}", at=NOW + 2, window_seconds=WEEK
        )
        == 1
    )


def test_remove_of_an_absent_address_is_false(suppressions: SuppressionList) -> None:
    """GIVEN an address that was never suppressed WHEN removed THEN it is False, and nothing
    else changes; removing twice is False the second time."""
    suppressions.add(bounce("kept@example.com"))

    assert suppressions.remove("nobody@example.com") is False
    assert suppressions.remove("kept@example.com") is True
    assert suppressions.remove("kept@example.com") is False
    assert suppressions.entries() == []


def test_remove_forgets_the_bounces_of_an_address_not_suppressed(
    suppressions: SuppressionList,
) -> None:
    """GIVEN an address with transient bounces but no suppression WHEN removed THEN it is False
    (nothing was suppressed), yet its bounces are forgotten (GDPR erasure)."""
    suppressions.count_transient_bounce(
        "soft@example.com", bounce_id=f"b{NOW}", at=NOW, window_seconds=WEEK
    )

    assert suppressions.remove("soft@example.com") is False

    assert (
        suppressions.count_transient_bounce(
            "soft@example.com", bounce_id=f"b{NOW + 1}", at=NOW + 1, window_seconds=WEEK
        )
        == 1
    )


# count_transient_bounce


def each_a_new_bounce(suppressions: SuppressionList) -> Callable[..., int]:
    """`count_transient_bounce` with a fresh bounce id on every call."""
    ids = itertools.count(1)
    return lambda address, **times: suppressions.count_transient_bounce(
        address, bounce_id=f"bounce-{next(ids)}", **times
    )


def test_a_bounce_notified_twice_is_counted_once(suppressions: SuppressionList) -> None:
    """GIVEN a transient bounce counted WHEN the same notification comes again (SNS and SQS
    deliver at least once) THEN the count does not move; another bounce still counts."""
    count = suppressions.count_transient_bounce

    assert count("soft@example.com", bounce_id="fb-1", at=NOW, window_seconds=WEEK) == 1
    assert count("soft@example.com", bounce_id="fb-1", at=NOW + 60, window_seconds=WEEK) == 1
    assert count("Soft@example.com", bounce_id="fb-2", at=NOW + 120, window_seconds=WEEK) == 2


def test_transient_bounces_are_counted_per_address_whatever_the_case(
    suppressions: SuppressionList,
) -> None:
    """GIVEN transient bounces for one address in several spellings WHEN each is recorded THEN
    the count is that address's alone, across spellings."""
    count = each_a_new_bounce(suppressions)

    assert count("Soft@example.com", at=NOW, window_seconds=WEEK) == 1
    assert count("soft@example.com", at=NOW + DAY, window_seconds=WEEK) == 2
    assert count("other@example.com", at=NOW + DAY, window_seconds=WEEK) == 1
    assert count("SOFT@EXAMPLE.COM", at=NOW + 2 * DAY, window_seconds=WEEK) == 3


def test_a_bounce_exactly_one_window_old_still_counts(suppressions: SuppressionList) -> None:
    """GIVEN a bounce at NOW WHEN another is recorded at exactly NOW + window THEN both count
    (the window includes its start); a moment later the first has left it."""
    count = each_a_new_bounce(suppressions)
    count("soft@example.com", at=NOW, window_seconds=WEEK)

    assert count("soft@example.com", at=NOW + WEEK, window_seconds=WEEK) == 2
    assert count("soft@example.com", at=NOW + WEEK + 0.25, window_seconds=WEEK) == 2


def test_bounces_older_than_the_window_are_dropped_for_good(suppressions: SuppressionList) -> None:
    """GIVEN bounces over eight days WHEN each is recorded THEN the count is of those within the
    window before it; a bounce that has left the window does not come back with a later, wider
    window (it was forgotten, not just skipped)."""
    count = each_a_new_bounce(suppressions)
    assert count("soft@example.com", at=NOW, window_seconds=WEEK) == 1
    assert count("soft@example.com", at=NOW + 2 * DAY, window_seconds=WEEK) == 2
    assert count("soft@example.com", at=NOW + 8 * DAY, window_seconds=WEEK) == 2  # NOW left

    assert count("soft@example.com", at=NOW + 8 * DAY, window_seconds=30 * DAY) == 3  # + this one
