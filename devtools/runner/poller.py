"""The poller: receive a batch, invoke, delete what did not fail; stop on a signal."""

from __future__ import annotations

import contextlib
import functools
import signal
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from types import FrameType
from typing import Any

import attrs

from devtools.runner.events import InvalidBatchResponse, failed_ids, lambda_event
from devtools.runner.invokers import Function, InvokeFailed
from devtools.runner.queue import MAX_MESSAGES, MAX_WAIT_SECONDS, Queue, QueueUnavailable

RECEIVE_RETRY_SECONDS = 1.0  # pause after a failed receive, so an outage is not a busy loop


class PollInterrupted(BaseException):
    """A stop signal ended a long poll. A BaseException, so no `except Exception` swallows it."""


class StopFlag:
    """A request to stop, from a signal handler or from another thread.

    While the runner waits on an empty queue a signal also cuts the wait short; while it
    handles a batch, it finishes the batch, deletes included, and then stops.
    """

    def __init__(self) -> None:
        self._event = threading.Event()
        self._interruptible = False

    def set(self) -> None:
        """Ask the runner to stop after the current receive or batch."""
        self._event.set()

    def is_set(self) -> bool:
        return self._event.is_set()

    def wait(self, seconds: float) -> bool:
        """Sleep up to `seconds`, waking early (and returning True) on a stop request."""
        return self._event.wait(seconds)

    def handle_signal(self, signum: int, _frame: FrameType | None) -> None:
        """A `signal.signal` handler for SIGINT and SIGTERM."""
        self._event.set()
        if self._interruptible:
            self._interruptible = False
            raise PollInterrupted(signal.Signals(signum).name)

    @contextlib.contextmanager
    def interruptible(self) -> Iterator[None]:
        """Within this block a signal raises `PollInterrupted` instead of waiting for its end.

        Only a receive belongs here: if the signal lands just as messages arrive, they are not
        lost but come back after the visibility timeout.
        """
        self._interruptible = True
        try:
            if self._event.is_set():  # a signal that came just before the block
                raise PollInterrupted("stop requested")
            yield
        finally:
            self._interruptible = False


@attrs.frozen(kw_only=True)
class BatchSummary:
    """What happened to one batch."""

    number: int
    received: int
    ok: int
    failed: int
    deleted: int
    duration_ms: float
    error: str | None = None

    def line(self) -> str:
        text = (
            f"batch {self.number}: received {self.received}, ok {self.ok},"
            f" failed {self.failed}, deleted {self.deleted} in {self.duration_ms:.0f} ms"
        )
        return f"{text}; {self.error}" if self.error else text


class Runner:
    """Poll, invoke, delete: one batch at a time, as one Lambda event source mapping poller."""

    def __init__(
        self,
        *,
        queue: Queue,
        function: Function,
        wait_seconds: int = MAX_WAIT_SECONDS,
        max_messages: int = MAX_MESSAGES,
        retry_seconds: float = RECEIVE_RETRY_SECONDS,
        report: Callable[[str], None] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._queue = queue
        self._function = function
        self._wait_seconds = wait_seconds
        self._max_messages = max_messages
        self._retry_seconds = retry_seconds
        self._report = report or functools.partial(print, flush=True)
        self._clock = clock
        self._batches = 0

    def run(self, stop: StopFlag, *, max_batches: int | None = None) -> int:
        """Handle batches until `stop` is set or `max_batches` were handled; return how many."""
        handled = 0
        while not stop.is_set() and (max_batches is None or handled < max_batches):
            try:
                with stop.interruptible():
                    messages = self._queue.receive(
                        max_messages=self._max_messages, wait_seconds=self._wait_seconds
                    )
            except PollInterrupted:
                break
            except QueueUnavailable as exc:
                self._report(f"receive failed: {exc}")
                stop.wait(self._retry_seconds)
                continue
            if messages:
                self._report(self.handle(messages).line())
                handled += 1
        return handled

    def handle(self, messages: Sequence[Mapping[str, Any]]) -> BatchSummary:
        """Invoke the function with one batch, then delete what it did not report as failed."""
        started = self._clock()
        self._batches += 1
        event = lambda_event(messages, arn=self._queue.arn, region=self._queue.region)
        ids = [record["messageId"] for record in event["Records"]]
        budget = self._queue.visibility_timeout - (self._clock() - started)
        try:
            response = self._function.invoke(event, budget_seconds=budget)
            failed = failed_ids(response, ids)
        except (InvokeFailed, InvalidBatchResponse) as exc:
            return self._summary(started, ids, failed=set(ids), deleted=0, error=exc)
        receipts = {
            record["messageId"]: record["receiptHandle"]
            for record in event["Records"]
            if record["messageId"] not in failed
        }
        undeleted = self._queue.delete(receipts)
        return self._summary(started, ids, failed=failed, deleted=len(receipts) - len(undeleted))

    def _summary(
        self,
        started: float,
        ids: Sequence[str],
        *,
        failed: set[str],
        deleted: int,
        error: Exception | None = None,
    ) -> BatchSummary:
        ok = len(ids) - len(failed)
        note = None
        if error is not None:
            note = f"nothing deleted, the whole batch will be retried: {error}"
        elif deleted < ok:
            note = f"{ok - deleted} not deleted: they will be received (and sent) again"
        return BatchSummary(
            number=self._batches,
            received=len(ids),
            ok=ok,
            failed=len(failed),
            deleted=deleted,
            duration_ms=(self._clock() - started) * 1000,
            error=note,
        )
