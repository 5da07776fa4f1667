"""Bytes in flight are bounded: big messages go one at a time, small ones alongside."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest

from notifier.domain.budget import ByteBudget
from notifier.domain.errors import MemoryBudgetFull
from notifier.entrypoints.app import App
from tests.fakes import FakeAttachmentStore, FakeContext, FakeMailer
from tests.unit.conftest import seed_message
from tests.unit.test_handler import sqs_event

MB = 1024 * 1024


class OverlapMailer(FakeMailer):
    """Sends slowly and records how many sends overlapped at most."""

    def __init__(self) -> None:
        super().__init__()
        self._lock = threading.Lock()
        self.current = self.peak = 0

    def send_raw(self, **kwargs: Any) -> str:
        with self._lock:
            self.current += 1
            self.peak = max(self.peak, self.current)
        time.sleep(0.2)
        with self._lock:
            self.current -= 1
        return super().send_raw(**kwargs)


def test_a_reservation_waits_for_room() -> None:
    """GIVEN 8 of 12 MB held WHEN another 8 MB is asked for THEN it waits for the release."""
    budget = ByteBudget(12 * MB)
    order: list[str] = []
    with budget.reserve(8 * MB, timeout=1):

        def second() -> None:
            with budget.reserve(8 * MB, timeout=5):
                order.append("second")

        thread = threading.Thread(target=second)
        thread.start()
        time.sleep(0.1)
        order.append("first released")
    thread.join()
    assert order == ["first released", "second"]
    assert budget.in_use == 0


def test_a_message_bigger_than_the_budget_goes_alone() -> None:
    """It reserves the whole budget instead of waiting forever."""
    budget = ByteBudget(12 * MB)
    with budget.reserve(40 * MB, timeout=0.1):
        assert budget.in_use == 12 * MB


def test_no_room_before_the_deadline_is_a_transient_error() -> None:
    """The message is retried later rather than dropped or left hanging."""
    budget = ByteBudget(12 * MB)
    with (
        budget.reserve(10 * MB, timeout=1),
        pytest.raises(MemoryBudgetFull),
        budget.reserve(5 * MB, timeout=0.05),
    ):
        pass


@pytest.fixture
def mailer() -> OverlapMailer:
    """Replaces the conftest's mailer, so that the app built by `make_app` records overlap."""
    return OverlapMailer()


@pytest.mark.parametrize(("budget_bytes", "overlap"), [(8 * MB, "none"), (1024 * MB, "some")])
def test_large_attachments_in_one_batch_are_bounded_by_bytes(
    make_app: Callable[..., App],
    store: FakeAttachmentStore,
    mailer: OverlapMailer,
    budget_bytes: int,
    overlap: str,
) -> None:
    """Four 5 MB attachments with a budget of 8 MB are sent one at a time (several at once
    when the budget allows: the control case), and every one is sent."""
    for i in range(4):
        store.objects[("acube-invoices", f"big-{i}.bin")] = bytes(5 * MB)
    app = make_app(max_bytes_in_flight=budget_bytes, send_concurrency=4)
    bodies = [json.dumps(seed_message(attachments=[{"key": f"big-{i}.bin"}])) for i in range(4)]
    assert app.handle(sqs_event(*bodies), FakeContext()) == {"batchItemFailures": []}
    assert len(mailer.sent) == 4
    assert (mailer.peak == 1) if overlap == "none" else (mailer.peak > 1)
