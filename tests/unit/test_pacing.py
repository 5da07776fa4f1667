"""AdaptiveConcurrency: the AIMD slots every SES attempt of an execution environment holds."""

from __future__ import annotations

import contextlib
import threading

import pytest

from notifier.adapters.outbound.pacing import AdaptiveConcurrency, NoSlot
from tests.fakes import ManualClock


def governor(
    maximum: int = 10, clock: ManualClock | None = None, **options: float
) -> AdaptiveConcurrency:
    options.setdefault("pause_seconds", 0.0)
    return AdaptiveConcurrency(maximum, clock=clock or ManualClock(), **options)


def test_the_limit_starts_at_the_maximum() -> None:
    """A new environment may send at the configured concurrency at once."""
    assert governor(10).limit == 10


def test_a_throttled_answer_halves_the_limit_once_per_second() -> None:
    """GIVEN a limit of 10 WHEN three throttled answers arrive in the same second THEN the
    limit is 5 (one burst counts once); one more a second later makes it 2 (2.5 slots)."""
    clock = ManualClock()
    pacing = governor(10, clock)

    assert pacing.throttled() == 5
    clock.advance(0.5)
    assert [pacing.throttled(), pacing.throttled()] == [None, None]
    assert pacing.limit == 5
    clock.advance(0.5)
    assert pacing.throttled() == 2
    assert pacing.limit == 2


def test_the_limit_never_falls_below_one() -> None:
    """However long SES throttles, one attempt at a time may still go."""
    clock = ManualClock()
    pacing = governor(10, clock)

    lowered = []
    for _ in range(10):
        lowered.append(pacing.throttled())
        clock.advance(1.0)

    assert pacing.limit == 1
    assert lowered == [5, 2, 1, None, None, None, None, None, None, None]


def test_successes_add_one_slot_per_limit_s_worth_of_them() -> None:
    """GIVEN a limit down to 1 WHEN attempts succeed THEN each adds 1/limit: 2 after one
    success, 3 after four (1 + 1 + 1/2 + 1/2.5 + ...), the additive increase."""
    clock = ManualClock()
    pacing = governor(10, clock)
    for _ in range(4):
        pacing.throttled()
        clock.advance(1.0)
    assert pacing.limit == 1

    limits = []
    for _ in range(4):
        pacing.succeeded()
        limits.append(pacing.limit)

    assert limits == [2, 2, 2, 3]


def test_the_limit_never_rises_above_the_maximum() -> None:
    """Successes on an unthrottled account leave the limit at the configured concurrency."""
    pacing = governor(4)

    for _ in range(100):
        pacing.succeeded()

    assert pacing.limit == 4


def hold(pacing: AdaptiveConcurrency) -> contextlib.ExitStack:
    """A slot held until the returned stack is closed."""
    stack = contextlib.ExitStack()
    stack.enter_context(pacing.slot())
    return stack


def no_slot_now(pacing: AdaptiveConcurrency, clock: ManualClock) -> bool:
    """Whether an attempt that cannot wait gets no slot."""
    try:
        with pacing.slot(deadline=clock()):
            return False
    except NoSlot:
        return True


def test_no_more_slots_than_the_limit_are_held() -> None:
    """GIVEN a limit of 2 with both slots held THEN a third attempt with no time to wait gets
    no slot; once one is released, it does."""
    clock = ManualClock()
    pacing = governor(2, clock)
    first, second = hold(pacing), hold(pacing)

    assert no_slot_now(pacing, clock)
    second.close()
    assert not no_slot_now(pacing, clock)
    first.close()
    assert pacing.held == 0


def test_a_lowered_limit_holds_back_new_attempts_until_enough_slots_are_free() -> None:
    """GIVEN 4 slots held and the limit halved to 2 THEN no new slot until only one is held."""
    clock = ManualClock()
    pacing = governor(4, clock)
    slots = [hold(pacing) for _ in range(4)]
    assert pacing.throttled() == 2

    blocked = []
    for stack in slots[:3]:
        stack.close()
        blocked.append(no_slot_now(pacing, clock))

    assert blocked == [True, True, False]  # 3 held, 2 held, then 1 held: room for one
    slots[3].close()


def test_a_waiting_attempt_proceeds_when_a_slot_is_released() -> None:
    """GIVEN the one slot held WHEN another thread asks for one THEN it waits, and goes on as
    soon as the slot is released (woken, not polling)."""
    pacing = governor(1)
    asked, entered = threading.Event(), threading.Event()

    def attempt() -> None:
        asked.set()
        with pacing.slot():
            entered.set()

    holder = hold(pacing)
    waiter = threading.Thread(target=attempt)
    waiter.start()
    asked.wait()

    assert not entered.wait(0.005)
    holder.close()
    assert entered.wait(5)
    waiter.join(5)
    assert pacing.held == 0


def test_a_raised_limit_wakes_a_waiting_attempt() -> None:
    """GIVEN a limit of 1 (throttled down from 2) with its slot held WHEN a success raises it
    to 2 THEN the waiting attempt gets the second slot."""
    clock = ManualClock()
    pacing = governor(2, clock)
    pacing.throttled()
    asked, entered = threading.Event(), threading.Event()

    def attempt() -> None:
        asked.set()
        with pacing.slot():
            entered.set()

    with pacing.slot():
        waiter = threading.Thread(target=attempt)
        waiter.start()
        asked.wait()
        assert not entered.wait(0.005)
        pacing.succeeded()
        assert entered.wait(5)
    waiter.join(5)


def test_after_a_throttled_answer_new_slots_wait_for_the_pause() -> None:
    """GIVEN a pause of 0.2 s WHEN SES throttles at t THEN an attempt whose deadline comes
    before t+0.2 gets no slot (at once: waiting could not help), and one at t+0.2 gets it."""
    clock = ManualClock()
    pacing = governor(10, clock, pause_seconds=0.2)
    pacing.throttled()

    with pytest.raises(NoSlot), pacing.slot(deadline=clock() + 0.1):
        pass
    clock.advance(0.2)

    with pacing.slot(deadline=clock()):
        assert pacing.held == 1


def test_a_pause_is_waited_out_on_the_clock() -> None:
    """With the real clock and a pause of 2 ms, an attempt asking right after a throttled
    answer waits the pause out, then goes."""
    pacing = AdaptiveConcurrency(10, pause_seconds=0.002)
    pacing.throttled()

    with pacing.slot(deadline=float("inf")):
        assert pacing.held == 1


def test_the_maximum_must_be_at_least_one() -> None:
    """A governor with no slot at all could never send."""
    with pytest.raises(ValueError, match="at least 1"):
        AdaptiveConcurrency(0)
