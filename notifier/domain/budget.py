"""A byte budget shared by the sends of one process, so that memory is bounded by the bytes in
flight, not only by how many messages are sent at once.

One maximum-size message (10 MB encoded) costs about nine times its size in memory while it is
read, composed and form-encoded for SES v1 (bench/PROFILE.md), so a 256 MB function can hold
one such message, plus small ones, at a time.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator

from notifier.domain.errors import MemoryBudgetFull

# One 10 MB message (encoded) at a time, plus small ones (NOTIFIER_MAX_BYTES_IN_FLIGHT).
DEFAULT_BYTES_IN_FLIGHT = 12 * 1024 * 1024


class ByteBudget:
    """At most `capacity` bytes reserved at once; a message larger than the capacity is let
    through alone (it reserves the whole budget)."""

    def __init__(self, capacity: int) -> None:
        self._capacity = capacity
        self._used = 0
        self._changed = threading.Condition()

    @contextlib.contextmanager
    def reserve(self, size: int, *, timeout: float) -> Iterator[None]:
        """Hold `size` bytes of the budget for the block; wait at most `timeout` seconds for
        them, then fail as transient (the message is retried later, not dropped)."""
        size = min(max(size, 0), self._capacity)
        with self._changed:
            if not self._changed.wait_for(
                lambda: self._used + size <= self._capacity, timeout=max(timeout, 0.0)
            ):
                raise MemoryBudgetFull(
                    "other large messages used the memory budget until the deadline"
                )
            self._used += size
        try:
            yield
        finally:
            with self._changed:
                self._used -= size
                self._changed.notify_all()

    @property
    def in_use(self) -> int:
        """Bytes reserved right now."""
        with self._changed:
            return self._used
