"""SesMailer paced by AdaptiveConcurrency: every attempt holds a slot, throttling slows all."""

from __future__ import annotations

import contextlib
import itertools
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from botocore.exceptions import ClientError
from botocore.stub import Stubber
from structlog.testing import capture_logs

from notifier.adapters.outbound.pacing import AdaptiveConcurrency, Pacing
from notifier.adapters.outbound.ses import SesMailer
from notifier.domain.errors import NotifierError, SendThrottled
from tests.fakes import ManualClock
from tests.unit.test_adapters import send


class RecordingPacing:
    """Grants every slot at once and keeps what the mailer told it."""

    def __init__(self) -> None:
        self.slots = 0
        self.throttles = 0
        self.successes = 0

    @contextlib.contextmanager
    def slot(self, *, deadline: float) -> Iterator[None]:
        self.slots += 1
        yield

    def throttled(self) -> int | None:
        self.throttles += 1
        return None

    def succeeded(self) -> None:
        self.successes += 1


def test_every_attempt_holds_a_slot_and_reports_how_ses_answered(
    ses: tuple[Any, Stubber],
) -> None:
    """GIVEN SES answering Throttling, ServiceUnavailable, Throttling, then accepting WHEN one
    message is sent THEN each of the 4 attempts held a slot; the pacing heard of 2 throttled
    answers and 1 success (an outage is neither)."""
    client, stubber = ses
    stubber.add_client_error("send_raw_email", "Throttling", "Maximum sending rate exceeded")
    stubber.add_client_error("send_raw_email", "ServiceUnavailable", "down", http_status_code=503)
    stubber.add_client_error("send_raw_email", "Throttling", "Maximum sending rate exceeded")
    stubber.add_response("send_raw_email", {"MessageId": "ses-1"})
    clock, pacing = ManualClock(), RecordingPacing()
    mailer = SesMailer(client, max_attempts=4, backoff_seconds=0.001, clock=clock, pacing=pacing)

    assert send(mailer, deadline=clock() + 60) == "ses-1"

    assert (pacing.slots, pacing.throttles, pacing.successes) == (4, 2, 1)


def test_a_lowered_limit_is_logged(ses: tuple[Any, Stubber]) -> None:
    """GIVEN a limit of 10 WHEN SES throttles THEN `ses.concurrency_reduced` says the new
    limit, 5, once."""
    client, stubber = ses
    stubber.add_client_error("send_raw_email", "Throttling", "Maximum sending rate exceeded")
    stubber.add_response("send_raw_email", {"MessageId": "ses-1"})
    clock = ManualClock()
    pacing = AdaptiveConcurrency(10, pause_seconds=0.0, clock=clock)
    mailer = SesMailer(client, max_attempts=2, backoff_seconds=0.001, clock=clock, pacing=pacing)

    with capture_logs() as logs:
        send(mailer, deadline=clock() + 60)

    reduced = [line for line in logs if line["event"] == "ses.concurrency_reduced"]
    assert reduced == [{"event": "ses.concurrency_reduced", "log_level": "info", "limit": 5}]


def test_no_slot_before_the_deadline_is_a_throttled_send_without_a_call(
    ses: tuple[Any, Stubber],
) -> None:
    """GIVEN the only slot held elsewhere and one second left WHEN a message is sent THEN SES
    is not called (no response is queued) and the send fails as throttled: retried later."""
    client, _stubber = ses
    clock = ManualClock()
    pacing = AdaptiveConcurrency(1, clock=clock)
    mailer = SesMailer(client, max_attempts=3, clock=clock, pacing=pacing)

    with pacing.slot(deadline=clock()), pytest.raises(SendThrottled, match="no send slot"):
        send(mailer, deadline=clock() + 1.0)


class CrowdedSes:
    """SES whose rate a fixed number of calls in flight uses up: a call made while more than
    `capacity` are in flight is throttled. Each call takes a few real milliseconds (so that
    threads overlap) and 0.1 s of `clock` (so that the governor's second goes by)."""

    def __init__(self, capacity: int, clock: ManualClock) -> None:
        self.capacity = capacity
        self.clock = clock
        self.calls = 0
        self.in_flight = 0
        self._lock = threading.Lock()
        self._ids = itertools.count(1)

    def send_raw_email(self, **_request: Any) -> dict[str, str]:
        with self._lock:
            self.calls += 1
            self.in_flight += 1
            crowded = self.in_flight > self.capacity
            self.clock.advance(0.1)
        try:
            time.sleep(0.002)
            if crowded:
                error = {"Code": "Throttling", "Message": "Maximum sending rate exceeded."}
                raise ClientError({"Error": error}, "SendRawEmail")  # type: ignore[typeddict-item]
            return {"MessageId": f"ses-{next(self._ids)}"}
        finally:
            with self._lock:
                self.in_flight -= 1


def attempts_per_message(
    governor: Callable[[ManualClock], Pacing] | None, messages: int = 60
) -> float:
    """Send `messages` on 10 threads to a CrowdedSes of capacity 2, paced by what `governor`
    makes on the test's clock (or not paced at all); return the SES calls per message."""
    clock = ManualClock()
    ses = CrowdedSes(capacity=2, clock=clock)
    options: dict[str, Any] = {"pacing": governor(clock)} if governor is not None else {}
    mailer = SesMailer(
        ses,  # type: ignore[arg-type]
        max_attempts=10,
        backoff_seconds=0.001,
        max_backoff_seconds=0.004,
        clock=clock,
        **options,
    )

    def one(_: int) -> None:
        with contextlib.suppress(NotifierError):
            send(mailer, deadline=clock() + 1e6)

    with ThreadPoolExecutor(max_workers=10) as pool:
        list(pool.map(one, range(messages)))
    return ses.calls / messages


def test_under_throttling_the_governor_cuts_the_attempts_per_message() -> None:
    """GIVEN SES throttling whatever goes over 2 calls in flight, and 10 send threads WHEN 60
    messages are sent THEN with the governor (AIMD at its defaults, no pause: the SES fake's
    clock moves only when it is called) each message takes far fewer SES calls than with every
    thread retrying at full concurrency (about 2 against about 9, the attempts running out)."""
    ungoverned = attempts_per_message(None)
    governed = attempts_per_message(
        lambda clock: AdaptiveConcurrency(10, pause_seconds=0.0, clock=clock)
    )

    assert ungoverned > 4.0
    assert governed < ungoverned / 2
