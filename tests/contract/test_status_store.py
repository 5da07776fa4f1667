"""The `StatusStore` contract: read, write with a version check, link, keep_refused, find, and
expiry checked in code.

A record lives until its `expires_at` rounded up to the whole second (DynamoDB's TTL is whole
seconds, rounded up so that nothing goes early), and reads as unknown from then on, whether
or not the TTL sweep has deleted it. Times carry a fraction so that the rounding shows. See
conftest.py for how each test runs on both implementations and how `clock` moves.
"""

from __future__ import annotations

import math

import attrs

from notifier.domain.ports import StatusStore
from notifier.domain.status import EmailStatus, Engagement, RecipientStatus, Status, recipient_id
from tests.contract.conftest import START
from tests.fakes import ManualClock

DAY = 86_400.0
SES_ID = "0100018f-2c1e-7f3a-ses-message-000000"
KEY = "noreply@acubeapi.com#key:invoice-12345"


def sent(
    ses_message_id: str = SES_ID, *, version: int = 1, expires_at: float = START + 30 * DAY
) -> EmailStatus:
    """A message SES accepted for one recipient, as its first write makes it."""
    return EmailStatus(
        ses_message_id=ses_message_id,
        recipients={
            recipient_id("user@example.com"): RecipientStatus(
                masked="u***@example.com", status=Status.SENT, at="2026-11-28T09:30:00.000+00:00"
            )
        },
        idempotency_key=KEY,
        sender="noreply@acubeapi.com",
        created_at="2026-11-28T09:30:00.000+00:00",
        updated_at="2026-11-28T09:30:00.000+00:00",
        expires_at=expires_at,
        version=version,
    )


def delivered(record: EmailStatus, *, version: int) -> EmailStatus:
    """`record` once its recipient's Delivery event is merged, at `version`."""
    rid = recipient_id("user@example.com")
    return attrs.evolve(
        record,
        recipients={
            rid: attrs.evolve(
                record.recipients[rid], status=Status.DELIVERED, at="2026-11-28T09:30:02.117Z"
            )
        },
        updated_at="2026-11-28T09:30:02.117Z",
        version=version,
    )


def refused(
    key: str = KEY, *, status: Status = Status.FAILED, expires_at: float = START + 30 * DAY
) -> EmailStatus:
    """A message refused before SES, as `StatusService.refused` keeps it (version 1)."""
    return EmailStatus(
        ses_message_id="",
        message_status=status,
        message_detail="subject: is required",
        idempotency_key=key,
        sender="noreply@acubeapi.com",
        created_at="2026-11-28T09:30:00.000+00:00",
        updated_at="2026-11-28T09:30:00.000+00:00",
        expires_at=expires_at,
        version=1,
    )


# read and write


def test_nothing_is_known_at_first(statuses: StatusStore) -> None:
    """GIVEN an empty store THEN no SES message id reads as a record and no key finds one."""
    assert statuses.read(SES_ID) is None
    assert statuses.find(KEY) is None


def test_a_first_write_is_read_back_exactly(statuses: StatusStore) -> None:
    """GIVEN nothing stored WHEN version 1 is written THEN it is kept, and reads back equal to
    what was written, version included."""
    first = sent()

    assert statuses.write(first) is True

    assert statuses.read(SES_ID) == first


def test_each_write_must_follow_the_stored_version(statuses: StatusStore) -> None:
    """GIVEN version 1 stored WHEN version 2 is written THEN it replaces it; and a write that
    does not follow the stored version (1 again, or 4 over 2) is refused, the record untouched."""
    statuses.write(sent())
    second = delivered(sent(), version=2)

    assert statuses.write(second) is True
    assert statuses.write(sent()) is False
    assert statuses.write(delivered(sent(), version=4)) is False

    assert statuses.read(SES_ID) == second


def test_a_stale_writer_is_refused_and_wins_after_reading_again(statuses: StatusStore) -> None:
    """GIVEN two writers that both read version 1 WHEN both write version 2 THEN the first is
    kept and the second refused; once it reads again and merges, its version 3 is kept: no
    update is lost."""
    statuses.write(sent())
    one = statuses.read(SES_ID)
    two = statuses.read(SES_ID)
    assert one is not None
    assert two is not None
    opened = attrs.evolve(two, engagement={Engagement.OPENED: "2026-11-28T10:00:00.000Z"})

    assert statuses.write(delivered(one, version=2)) is True
    assert statuses.write(attrs.evolve(opened, version=2)) is False

    again = statuses.read(SES_ID)
    assert again is not None
    assert again.version == 2
    merged = attrs.evolve(again, engagement=opened.engagement, version=3)
    assert statuses.write(merged) is True
    assert statuses.read(SES_ID) == merged
    assert merged.status is Status.DELIVERED


def test_records_of_different_messages_are_apart(statuses: StatusStore) -> None:
    """GIVEN two messages WHEN each is written THEN each reads back as its own, each at its
    own version 1."""
    other = sent("0100018f-other-message-000000")

    assert statuses.write(sent()) is True
    assert statuses.write(other) is True

    assert statuses.read(SES_ID) == sent()
    assert statuses.read(other.ses_message_id) == other


# link, keep_refused and find


def test_a_linked_key_finds_the_record_as_it_is_now(statuses: StatusStore) -> None:
    """GIVEN a record linked to its idempotency key WHEN the record is updated afterwards THEN
    the key finds the current version (a link points, it does not copy)."""
    statuses.write(sent())
    statuses.link(KEY, SES_ID, expires_at=START + 30 * DAY)
    assert statuses.find(KEY) == sent()

    statuses.write(delivered(sent(), version=2))

    assert statuses.find(KEY) == delivered(sent(), version=2)


def test_a_key_linked_to_a_message_without_a_record_finds_nothing(statuses: StatusStore) -> None:
    """GIVEN a key linked to an SES message id whose record was never written THEN find is None,
    and once the record is written the key finds it."""
    statuses.link(KEY, SES_ID, expires_at=START + 30 * DAY)

    assert statuses.find(KEY) is None

    statuses.write(sent())
    assert statuses.find(KEY) == sent()


def test_a_refused_record_is_found_by_its_key(statuses: StatusStore) -> None:
    """GIVEN a message refused before SES (no SES message id) WHEN kept THEN its key finds it as
    kept; other keys find nothing, and it is not an SES message's record."""
    failed = refused()

    statuses.keep_refused(failed)

    assert statuses.find(KEY) == failed
    assert statuses.find("noreply@acubeapi.com#key:invoice-99999") is None
    assert statuses.read("") is None


def test_a_later_refusal_replaces_the_earlier_one(statuses: StatusStore) -> None:
    """GIVEN a key whose message was refused WHEN it is refused again (all recipients now
    suppressed) THEN the key finds the later refusal."""
    statuses.keep_refused(refused())
    suppressed = refused(status=Status.SUPPRESSED)

    statuses.keep_refused(suppressed)

    assert statuses.find(KEY) == suppressed


def test_a_refused_record_is_replaced_by_a_later_link(statuses: StatusStore) -> None:
    """GIVEN a key whose first attempt was refused (SES rejected it) WHEN a later attempt is sent
    and linked to the same key THEN the key finds the sent message's record."""
    statuses.keep_refused(refused())
    statuses.write(sent())

    statuses.link(KEY, SES_ID, expires_at=START + 30 * DAY)

    assert statuses.find(KEY) == sent()


def test_keys_are_apart(statuses: StatusStore) -> None:
    """GIVEN two keys, one linked and one refused THEN each finds its own record."""
    other_key = "noreply@acubeapi.com#sha256:" + "ab" * 32
    statuses.write(sent())
    statuses.link(KEY, SES_ID, expires_at=START + 30 * DAY)

    statuses.keep_refused(refused(other_key))

    assert statuses.find(KEY) == sent()
    assert statuses.find(other_key) == refused(other_key)


# expiry


def test_a_record_lives_until_its_expiry_rounded_up(
    statuses: StatusStore, clock: ManualClock
) -> None:
    """GIVEN a record expiring at a time with a fraction WHEN read just before THEN it is there;
    from the whole second after it (never earlier) it reads as None, and so does its key."""
    expires_at = START + 30 * DAY  # .25 past a second
    statuses.write(sent(expires_at=expires_at))
    statuses.link(KEY, SES_ID, expires_at=expires_at)

    clock.now = expires_at - 0.25
    assert statuses.read(SES_ID) == sent(expires_at=expires_at)
    assert statuses.find(KEY) == sent(expires_at=expires_at)

    clock.now = math.ceil(expires_at)
    assert statuses.read(SES_ID) is None
    assert statuses.find(KEY) is None


def test_an_expired_link_finds_nothing(statuses: StatusStore, clock: ManualClock) -> None:
    """GIVEN a key whose link expires before the record WHEN the link has expired THEN the key
    finds nothing, though the record is still read by its SES message id."""
    statuses.write(sent(expires_at=START + 30 * DAY))
    statuses.link(KEY, SES_ID, expires_at=START + DAY)

    clock.now = START + 2 * DAY

    assert statuses.find(KEY) is None
    assert statuses.read(SES_ID) == sent(expires_at=START + 30 * DAY)


def test_an_expired_refused_record_is_forgotten(statuses: StatusStore, clock: ManualClock) -> None:
    """GIVEN a refused record WHEN past its expiry THEN its key finds nothing."""
    statuses.keep_refused(refused(expires_at=START + DAY))

    clock.now = START + 2 * DAY

    assert statuses.find(KEY) is None


def test_an_expired_record_is_written_anew(statuses: StatusStore, clock: ManualClock) -> None:
    """GIVEN a record past its expiry (still in the table until the TTL sweep, which may take
    days) WHEN a late event writes a new version 1 THEN it is kept and read back: an event
    arriving after the retention never fails for ever on a record nobody can read."""
    statuses.write(sent(expires_at=START + DAY))
    clock.now = START + 2 * DAY
    assert statuses.read(SES_ID) is None
    anew = delivered(sent(expires_at=START + 32 * DAY), version=1)

    assert statuses.write(anew) is True

    assert statuses.read(SES_ID) == anew


# the record as stored


def test_every_field_of_a_record_survives_the_store(statuses: StatusStore) -> None:
    """GIVEN a record with every field set (several recipients with details, a message-level
    status, every engagement, non-ASCII text, a fractional expiry) WHEN written and read by id
    and by key THEN it comes back equal, field for field."""
    full = EmailStatus(
        ses_message_id=SES_ID,
        recipients={
            recipient_id("jane@example.com"): RecipientStatus(
                masked="j***@example.com",
                status=Status.BOUNCED,
                at="2026-11-28T09:31:00.004Z",
                detail="Permanent.General",
            ),
            recipient_id("Zoé@exemple.fr"): RecipientStatus(
                masked="Z***@exemple.fr",
                status=Status.DELAYED,
                at="2026-11-28T09:40:00.095Z",
                detail="TransientCommunicationFailure",
            ),
            recipient_id("richard@example.com"): RecipientStatus(
                masked="r***@example.com",
                status=Status.COMPLAINED,
                at="2026-11-28T11:00:00.000Z",
                detail="abuse",
            ),
            recipient_id("gone@example.com"): RecipientStatus(
                masked="g***@example.com", status=Status.SUPPRESSED, at="2026-11-28T09:30:00.000Z"
            ),
        },
        message_status=Status.RENDERING_FAILED,
        message_detail="MyTemplate Attribute 'attributeName' is not présent",
        engagement={
            Engagement.OPENED: "2026-11-28T10:00:19.652Z",
            Engagement.CLICKED: "2026-11-28T10:01:25.570Z",
            Engagement.UNSUBSCRIBED: "2026-11-28T10:02:17.910Z",
        },
        idempotency_key=KEY,
        sender="noreply@acubeapi.com",
        tenant="billing",
        template_version="invoice-ready/fr@0123456789ab",
        created_at="2026-11-28T09:30:00.000+00:00",
        updated_at="2026-11-28T11:00:00.000Z",
        expires_at=START + 30 * DAY + 0.5,
        version=1,
    )

    statuses.write(full)
    statuses.link(KEY, SES_ID, expires_at=full.expires_at)

    assert statuses.read(SES_ID) == full
    assert statuses.find(KEY) == full
