"""EmailService holds each send to its producer's limits: inside the idempotent send, so a
refusal releases the claim and a duplicate takes nothing, and never waiting past the
deadline."""

from __future__ import annotations

import attrs
import pytest

from notifier.domain.errors import OverLimit, SendThrottled
from notifier.domain.limiter import ProducerLimiter
from notifier.domain.limits import parse_limits
from notifier.domain.model import AlreadySent, EmailSent, Mailbox, SendEmail
from notifier.domain.policy import Policy
from notifier.domain.service import LIMIT_SEND_RESERVE_SECONDS, EmailService
from tests.fakes import (
    FakeAttachmentStore,
    FakeIdempotencyStore,
    FakeLimitStore,
    FakeMailer,
    FakeSuppressionList,
    ManualClock,
)
from tests.unit.conftest import FIXED_NOW
from tests.unit.test_limiter import NOW, Sleeps


def command(key: str = "noreply@billing.example.com#key:k1", recipients: int = 1) -> SendEmail:
    """A validated message from billing.example.com to `recipients` people."""
    return SendEmail(
        idempotency_key=key,
        content_hash="h-" + key,
        sender=Mailbox(local_part="noreply", ascii_domain="billing.example.com"),
        to=tuple(
            Mailbox(local_part=f"user{n}", ascii_domain="example.org") for n in range(recipients)
        ),
        subject="Invoice",
        text="Hello",
    )


@attrs.define
class Service:
    """An EmailService with fakes, and what they recorded."""

    service: EmailService
    mailer: FakeMailer
    idempotency: FakeIdempotencyStore
    limits: FakeLimitStore
    clock: ManualClock
    sleeps: Sleeps


def service(limits: str, *, limit_max_wait: float = 0.0, monotonic: float = 0.0) -> Service:
    mailer, idempotency, store = FakeMailer(), FakeIdempotencyStore(), FakeLimitStore()
    clock, sleeps = ManualClock(NOW), Sleeps()
    email = EmailService(
        mailer=mailer,
        attachments=FakeAttachmentStore(),
        policy=Policy(),
        idempotency=idempotency,
        suppression=FakeSuppressionList(),
        clock=lambda: FIXED_NOW,
        monotonic=lambda: monotonic,
        limiter=ProducerLimiter(store, parse_limits(limits), clock=clock, sleep=sleeps),
        limit_max_wait=limit_max_wait,
    )
    return Service(email, mailer, idempotency, store, clock, sleeps)


def test_a_send_over_the_limit_sends_nothing_and_can_be_retried() -> None:
    """GIVEN billing.example.com at 3/s with 2 recipients sent WHEN a 2-recipient message comes
    THEN OverLimit, nothing sent, its idempotency claim released; WHEN retried after
    `retry_after` THEN it is sent."""
    app = service("billing.example.com=3/s")
    app.service.send(command("noreply@billing.example.com#key:first", 2), deadline=30)

    with pytest.raises(OverLimit) as raised:
        app.service.send(command(recipients=2), deadline=30)

    assert len(app.mailer.sent) == 1
    assert list(app.idempotency.records) == ["noreply@billing.example.com#key:first"]
    app.clock.now += raised.value.retry_after
    assert isinstance(app.service.send(command(recipients=2), deadline=30), EmailSent)
    assert len(app.mailer.sent) == 2


def test_a_duplicate_takes_nothing_from_the_limit() -> None:
    """GIVEN a message sent, using the whole burst WHEN the same message comes again THEN it is
    reported already sent, not refused, and the bucket is as the first send left it."""
    app = service("billing.example.com=2/s")
    app.service.send(command(recipients=2), deadline=30)
    before = app.limits.buckets["billing.example.com"]

    assert isinstance(app.service.send(command(recipients=2), deadline=30), AlreadySent)
    assert app.limits.buckets["billing.example.com"] == before


def test_the_wait_never_runs_past_the_deadline() -> None:
    """GIVEN 1/s spent, a 10 s allowed wait and a deadline 6 s away WHEN a message comes THEN
    it waits at most 1 s (keeping 5 s to compose and send): 1 s is enough, so it is sent."""
    app = service(
        "billing.example.com=1/s",
        limit_max_wait=10.0,
        monotonic=30 - LIMIT_SEND_RESERVE_SECONDS - 1,
    )
    app.service.send(command("noreply@billing.example.com#key:first"), deadline=30)

    app.service.send(command(), deadline=30)
    assert app.sleeps.slept == [1.0]

    with pytest.raises(OverLimit):  # 2 s to wait now, only 1 s allowed
        app.service.send(command("noreply@billing.example.com#key:third"), deadline=30)


def test_a_deadline_already_too_close_allows_no_wait() -> None:
    """GIVEN less than the send reserve left WHEN a message would have to wait THEN it is
    refused at once (the wait is not negative)."""
    app = service("billing.example.com=1/s", limit_max_wait=10.0, monotonic=28.0)
    app.service.send(command("noreply@billing.example.com#key:first"), deadline=30)

    with pytest.raises(OverLimit):
        app.service.send(command(), deadline=30)
    assert app.sleeps.slept == []


def test_a_send_that_fails_before_ses_accepts_gives_its_allowance_back() -> None:
    """GIVEN billing at 2/s and 3 a day, and SES throttling the first send past the retries
    WHEN it is sent, then sent again THEN the failed attempt took nothing in the end: the
    retry goes at once and the day's count holds only what SES accepted (a throttled flood
    cannot use up a producer's day)."""
    test = service("billing.example.com=2/s,3/d")
    test.mailer.errors.append(SendThrottled("Maximum sending rate exceeded."))

    with pytest.raises(SendThrottled):
        test.service.send(command(recipients=2), deadline=60)
    bucket = test.limits.buckets["billing.example.com"]
    assert (bucket.tokens, bucket.day_count) == (2, 0)

    assert isinstance(test.service.send(command(recipients=2), deadline=60), EmailSent)
    bucket = test.limits.buckets["billing.example.com"]
    assert (bucket.tokens, bucket.day_count) == (0, 2)
    assert test.sleeps.slept == []
