"""QuotaMonitor: one quota read per interval, never per message, and never a failed message;
alone, then through the real `bootstrap()` with fakes."""

from __future__ import annotations

from typing import Any

import pytest
from structlog.testing import capture_logs

from notifier.domain.errors import QuotaUnavailable
from notifier.domain.ports import Unit
from notifier.domain.quota import Quota
from notifier.entrypoints.app import App
from notifier.entrypoints.bootstrap import bootstrap
from notifier.entrypoints.quota_monitor import QuotaMonitor
from notifier.entrypoints.settings import Settings
from tests.fakes import (
    FakeAttachmentStore,
    FakeContext,
    FakeMailer,
    FakeMetrics,
    FakeSendQuota,
    ManualClock,
)
from tests.unit.conftest import seed_message

PRODUCTION = Quota(max_24_hour_send=50_000, max_send_rate=14, sent_last_24_hours=12_500)


def monitor(
    quota: FakeSendQuota, metrics: FakeMetrics, clock: ManualClock, limit: int = 10
) -> QuotaMonitor:
    return QuotaMonitor(
        quota, metrics, every_seconds=60, concurrency_limit=lambda: limit, clock=clock
    )


def published(metrics: FakeMetrics) -> dict[str, tuple[float, Unit]]:
    metrics.flush()
    values = {name: (value, unit) for name, value, unit, _reason in metrics.flushed}
    metrics.flushed.clear()
    return values


def test_the_first_check_reads_the_quota_and_publishes_it() -> None:
    """GIVEN 12,500 of 50,000 recipients sent WHEN the first invocation starts THEN the quota
    is read once and published: 25% of the daily quota used, the two maximums, and the
    concurrency limit; no rate yet (no interval to measure it over)."""
    quota, metrics, clock = FakeSendQuota(PRODUCTION), FakeMetrics(), ManualClock()

    with capture_logs() as logs:
        monitor(quota, metrics, clock).check()

    assert quota.reads == 1
    assert published(metrics) == {
        "SendConcurrencyLimit": (10, Unit.COUNT),
        "Max24HourSend": (50_000, Unit.COUNT),
        "MaxSendRate": (14, Unit.COUNT),
        "DailyQuotaUsedPercent": (25.0, Unit.PERCENT),
    }
    assert logs == [
        {
            "event": "ses.quota",
            "log_level": "info",
            "max_24_hour_send": 50_000,
            "max_send_rate": 14,
            "sent_last_24_hours": 12_500,
            "daily_used_percent": 25.0,
            "recipients_sent": 0,
            "window_s": 0.0,
            "send_rate_used_percent": None,
        }
    ]


def test_the_quota_is_read_at_most_once_per_interval() -> None:
    """GIVEN a read at t WHEN invocations start at t+1 s and t+59.9 s THEN SES is not asked
    again (only the concurrency limit is published); at t+60 s it is."""
    quota, metrics, clock = FakeSendQuota(PRODUCTION), FakeMetrics(), ManualClock()
    watch = monitor(quota, metrics, clock)
    watch.check()
    published(metrics)

    for step in (1.0, 58.9):
        clock.advance(step)
        watch.check()
        assert quota.reads == 1
        assert published(metrics) == {"SendConcurrencyLimit": (10, Unit.COUNT)}
    clock.advance(0.1)
    watch.check()

    assert quota.reads == 2


def test_the_rate_in_use_is_this_environment_s_recipients_per_second() -> None:
    """GIVEN 420 recipients accepted in the 60 s between two reads of a 14-per-second quota
    WHEN the second read happens THEN SendRateUsedPercent is 7/s over 14/s: 50%."""
    quota, metrics, clock = FakeSendQuota(PRODUCTION), FakeMetrics(), ManualClock()
    watch = monitor(quota, metrics, clock)
    watch.check()
    published(metrics)

    watch.count(400)
    clock.advance(30)
    watch.check()  # not due: the count goes on
    watch.count(20)
    clock.advance(30)
    watch.check()

    assert published(metrics)["SendRateUsedPercent"] == (50.0, Unit.PERCENT)
    watch.count(14)
    clock.advance(60)
    watch.check()  # a new window: only what was counted since the last read
    assert published(metrics)["SendRateUsedPercent"] == pytest.approx((100 / 60, Unit.PERCENT))


@pytest.mark.parametrize(
    "failure",
    [
        QuotaUnavailable("SES GetSendQuota failed (Throttling)", code="Throttling"),
        QuotaUnavailable("SES GetSendQuota failed (AccessDenied)", code="AccessDenied"),
        RuntimeError("a bug in an adapter"),
    ],
)
def test_a_failed_read_logs_one_warning_and_waits_for_the_next_interval(
    failure: Exception,
) -> None:
    """GIVEN GetSendQuota failing (throttled, denied, or anything else) WHEN an invocation
    starts THEN nothing is raised, one warning names the error code, no quota metric is
    published, and SES is not asked again before the interval is over."""
    quota, metrics, clock = FakeSendQuota(PRODUCTION, failure), FakeMetrics(), ManualClock()
    watch = monitor(quota, metrics, clock)

    with capture_logs() as logs:
        watch.check()
        clock.advance(30)
        watch.check()

    code = getattr(failure, "code", "RuntimeError")
    assert logs == [
        {
            "event": "ses.quota_unavailable",
            "log_level": "warning",
            "error_code": code,
            "retry_in_s": 60,
        }
    ]
    assert quota.reads == 1
    assert set(published(metrics)) == {"SendConcurrencyLimit"}


def test_after_a_failed_read_the_rate_covers_the_whole_time_since_the_last_good_one() -> None:
    """GIVEN a read at t, a failure at t+60 s and a read at t+120 s, with 840 recipients in
    between THEN the rate is 840 over 120 s = 7/s: 50% of 14 (nothing counted is lost)."""
    throttled = QuotaUnavailable("throttled", code="Throttling")
    quota, metrics, clock = FakeSendQuota(PRODUCTION), FakeMetrics(), ManualClock()
    watch = monitor(quota, metrics, clock)
    watch.check()
    quota.errors.append(throttled)

    watch.count(420)
    clock.advance(60)
    watch.check()
    watch.count(420)
    clock.advance(60)
    watch.check()

    assert quota.reads == 3
    assert published(metrics)["SendRateUsedPercent"] == (50.0, Unit.PERCENT)


def test_a_zero_quota_publishes_the_maximums_without_percentages() -> None:
    """GIVEN a quota of 0 per day and 0 per second (unknown) THEN the maximums are published
    as they are, no percentage, and nothing divides by zero."""
    zero = Quota(max_24_hour_send=0, max_send_rate=0, sent_last_24_hours=5)
    quota, metrics, clock = FakeSendQuota(zero), FakeMetrics(), ManualClock()
    watch = monitor(quota, metrics, clock)
    watch.check()
    watch.count(5)
    clock.advance(60)

    watch.check()

    assert published(metrics) == {
        "SendConcurrencyLimit": (10, Unit.COUNT),
        "Max24HourSend": (0, Unit.COUNT),
        "MaxSendRate": (0, Unit.COUNT),
    }


def app_watching(
    quota: FakeSendQuota, metrics: FakeMetrics, clock: ManualClock, **settings: Any
) -> App:
    """The real composition root with fakes, the quota read through `quota` on `clock`."""
    return bootstrap(
        Settings(attachment_buckets=("acube-invoices",), **settings),
        mailer=FakeMailer(),
        attachments=FakeAttachmentStore({("acube-invoices", "invoices/12345.pdf"): b"%PDF"}),
        metrics=metrics,
        send_quota=quota,
        monotonic=clock,
        configure_logs=False,
    )


def test_the_app_reads_the_quota_once_a_minute_and_counts_what_it_sent() -> None:
    """GIVEN the sandbox quota (1 per second) WHEN three invocations in the first minute send
    30 recipients in all, and one more starts at 60 s THEN GetSendQuota was read twice, and
    the second read publishes 30 recipients over 60 s: 50% of the rate."""
    quota, metrics, clock = FakeSendQuota(), FakeMetrics(), ManualClock()
    app = app_watching(quota, metrics, clock)
    ten = [f"user{i}@example.com" for i in range(10)]

    for _ in range(3):
        response = app.handle(seed_message(recipients=ten), FakeContext())
        assert response["statusCode"] == 200
        clock.advance(10)
    assert quota.reads == 1
    clock.advance(30)
    app.handle(seed_message(), FakeContext())

    assert quota.reads == 2
    assert [v for n, v, _u, _r in metrics.flushed if n == "SendRateUsedPercent"] == [50.0]
    assert [v for n, v, _u, _r in metrics.flushed if n == "SendConcurrencyLimit"] == [10] * 4


def test_an_unreadable_quota_fails_no_message() -> None:
    """GIVEN GetSendQuota denied WHEN a message comes THEN it is sent, and the one warning
    names the error code."""
    denied = QuotaUnavailable("SES GetSendQuota failed (AccessDenied)", code="AccessDenied")
    quota, metrics, clock = FakeSendQuota(None, denied), FakeMetrics(), ManualClock()
    app = app_watching(quota, metrics, clock)

    with capture_logs() as logs:
        response = app.handle(seed_message(), FakeContext())

    assert response["statusCode"] == 200
    warnings = [line for line in logs if line["log_level"] == "warning"]
    assert [(line["event"], line["error_code"]) for line in warnings] == [
        ("ses.quota_unavailable", "AccessDenied")
    ]
    assert metrics.total("EmailsSent") == 1


def test_a_check_interval_of_zero_turns_the_quota_checks_off() -> None:
    """NOTIFIER_QUOTA_CHECK_SECONDS=0: no GetSendQuota and no quota metric (the null object)."""
    quota, metrics, clock = FakeSendQuota(), FakeMetrics(), ManualClock()
    app = app_watching(quota, metrics, clock, quota_check_seconds=0)

    app.handle(seed_message(), FakeContext())

    assert quota.reads == 0
    assert {n for n, *_ in metrics.flushed} & {"Max24HourSend", "SendConcurrencyLimit"} == set()
