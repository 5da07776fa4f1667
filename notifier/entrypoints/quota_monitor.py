"""The SES sending quota, watched from inside the function.

`GetSendQuota` is rate-limited by AWS, so each execution environment reads it at most once per
NOTIFIER_QUOTA_CHECK_SECONDS, at the start of an invocation, never per message. Each read
publishes `Max24HourSend`, `MaxSendRate`, `DailyQuotaUsedPercent` and `SendRateUsedPercent`:
the recipients SES accepted from this environment since its previous read, per second, as a
share of the maximum send rate. The environments' values for the same minute add up to the
account's rate in use (notifier's share of it: other senders of the account are not counted).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Protocol

import structlog

from notifier.domain.errors import QuotaUnavailable
from notifier.domain.ports import Metrics, SendQuota, Unit
from notifier.domain.quota import Quota

log = structlog.get_logger("notifier")


class QuotaWatch(Protocol):
    """What the App tells quota monitoring, on or off."""

    def check(self) -> None:
        """At the start of each invocation: read and publish the quota if a read is due."""
        ...

    def count(self, recipients: int) -> None:
        """Recipients SES accepted from this environment just now."""
        ...


class QuotaMonitor:
    """Reads the quota through `quota` every `every_seconds` at most (on `clock`, monotonic) and
    publishes it to `metrics`; also publishes the send concurrency limit at every invocation.

    A read that fails logs `ses.quota_unavailable` and waits for the next interval: the quota is
    never a reason to fail a message. Recipients are then counted on, so the next successful
    read's rate covers the whole time since the last one."""

    def __init__(
        self,
        quota: SendQuota,
        metrics: Metrics,
        *,
        every_seconds: float,
        concurrency_limit: Callable[[], int],
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._quota = quota
        self._metrics = metrics
        self._every = every_seconds
        self._concurrency_limit = concurrency_limit
        self._clock = clock
        self._lock = threading.Lock()
        self._next_read = float("-inf")
        self._since: float | None = None  # start of the current counting window
        self._recipients = 0

    def count(self, recipients: int) -> None:
        with self._lock:
            self._recipients += recipients

    def check(self) -> None:
        self._metrics.add("SendConcurrencyLimit", self._concurrency_limit(), Unit.COUNT)
        now = self._clock()
        with self._lock:
            if now < self._next_read:
                return
            self._next_read = now + self._every
            if self._since is None:
                self._since = now
            since, recipients = self._since, self._recipients
        try:
            quota = self._quota.read()
        except Exception as exc:  # noqa: BLE001 - the quota must never fail the mail
            code = exc.code if isinstance(exc, QuotaUnavailable) else type(exc).__name__
            log.warning("ses.quota_unavailable", error_code=code, retry_in_s=self._every)
            return
        with self._lock:
            self._recipients -= recipients  # counted from now on: the next window's
            self._since = now
        self._publish(quota, recipients, now - since)

    def _publish(self, quota: Quota, recipients: int, seconds: float) -> None:
        daily = quota.daily_used_percent
        rate = quota.rate_used_percent(recipients, seconds)
        self._metrics.add("Max24HourSend", quota.max_24_hour_send, Unit.COUNT)
        self._metrics.add("MaxSendRate", quota.max_send_rate, Unit.COUNT)
        if daily is not None:
            self._metrics.add("DailyQuotaUsedPercent", daily, Unit.PERCENT)
        if rate is not None:
            self._metrics.add("SendRateUsedPercent", rate, Unit.PERCENT)
        log.info(
            "ses.quota",
            max_24_hour_send=quota.max_24_hour_send,
            max_send_rate=quota.max_send_rate,
            sent_last_24_hours=quota.sent_last_24_hours,
            daily_used_percent=None if daily is None else round(daily, 2),
            recipients_sent=recipients,
            window_s=round(seconds, 1),
            send_rate_used_percent=None if rate is None else round(rate, 2),
        )


class NullQuotaMonitor:
    """NOTIFIER_QUOTA_CHECK_SECONDS=0, or no SES account to watch (a mailer passed in)."""

    def check(self) -> None:
        """Nothing to read or publish."""

    def count(self, recipients: int) -> None:
        """Nothing to count."""
