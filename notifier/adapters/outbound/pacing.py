"""Adaptive concurrency for the SES calls of one execution environment: AIMD, as TCP does.

Every attempt holds a slot, and at most `limit` slots are held at once. A throttled answer
halves the limit (at most once per `decrease_every_seconds`, so that one burst of throttled
answers to calls already in flight counts once, not down to 1), and each success adds
1/limit, one slot per limit's worth of successes, back up to the maximum.

After a throttled answer, no new slot is handed out for `pause_seconds`. SES limits a rate,
not a number of calls in flight: at a limit of 1, calls that follow each other at once can
still go over a low quota (a quota of 1 per second, a call of 100 ms), and then only a pause
slows them further. The attempt that was throttled already waits its own backoff; the pause
keeps the other threads from taking its place at once.

Here, not in the domain: pacing attempts is a transport concern, like the retries (the domain
sees one send, never its attempts). Standard library only.
"""

from __future__ import annotations

import contextlib
import math
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from typing import Protocol


class NoSlot(Exception):
    """No slot came free before the deadline."""


class Pacing(Protocol):
    """Paces attempts: each holds a slot, and reports how the service answered."""

    def slot(self, *, deadline: float) -> AbstractContextManager[None]:
        """Hold a slot for one attempt; wait for one until `deadline` (monotonic), then raise
        `NoSlot`."""
        ...

    def throttled(self) -> int | None:
        """The service throttled an attempt; return the new limit if this lowered it."""
        ...

    def succeeded(self) -> None:
        """The service accepted an attempt."""
        ...


class AdaptiveConcurrency:
    """`Pacing` by additive increase, multiplicative decrease of the number of slots, shared by
    every thread that calls the service (thread-safe)."""

    def __init__(
        self,
        maximum: int,
        *,
        decrease_every_seconds: float = 1.0,
        pause_seconds: float = 0.2,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if maximum < 1:
            raise ValueError(f"maximum must be at least 1, got {maximum}")
        self._maximum = float(maximum)
        self._limit = float(maximum)
        self._decrease_every = decrease_every_seconds
        self._pause = pause_seconds
        self._clock = clock
        self._changed = threading.Condition()
        self._held = 0
        self._last_decrease = -math.inf
        self._paused_until = -math.inf

    @property
    def limit(self) -> int:
        """The slots that may be held at once now (1 to the maximum)."""
        return int(self._limit)

    @property
    def held(self) -> int:
        """The slots held now."""
        return self._held

    @contextlib.contextmanager
    def slot(self, *, deadline: float = math.inf) -> Iterator[None]:
        self._acquire(deadline)
        try:
            yield
        finally:
            with self._changed:
                self._held -= 1
                self._changed.notify_all()

    def throttled(self) -> int | None:
        with self._changed:
            now = self._clock()
            self._paused_until = max(self._paused_until, now + self._pause)
            if now - self._last_decrease < self._decrease_every:
                return None  # the same burst: counted once
            self._last_decrease = now
            before = self.limit
            self._limit = max(1.0, self._limit / 2)
            return self.limit if self.limit < before else None

    def succeeded(self) -> None:
        with self._changed:
            before = self.limit
            self._limit = min(self._maximum, self._limit + 1 / self._limit)
            if self.limit > before:
                self._changed.notify_all()

    def _acquire(self, deadline: float) -> None:
        with self._changed:
            while True:
                now = self._clock()
                paused = now < self._paused_until
                if not paused and self._held < self.limit:
                    self._held += 1
                    return
                if now >= deadline or (paused and self._paused_until >= deadline):
                    raise NoSlot("no slot came free before the deadline")
                wake = min(deadline, self._paused_until) if paused else deadline
                self._changed.wait(timeout=None if math.isinf(wake) else wake - now)


class Unpaced:
    """No pacing: every attempt goes at once (a mailer built without a governor)."""

    def slot(self, *, deadline: float) -> AbstractContextManager[None]:
        """No slot to wait for."""
        return contextlib.nullcontext()

    def throttled(self) -> int | None:
        """No limit to lower."""
        return None

    def succeeded(self) -> None:
        """No limit to raise."""


UNPACED = Unpaced()
