"""The account's SES sending quota, and how much of it is in use."""

from __future__ import annotations

import attrs


@attrs.frozen(kw_only=True)
class Quota:
    """SES v1 `GetSendQuota`, all in recipients: at most `max_24_hour_send` per rolling
    24 hours and `max_send_rate` per second, `sent_last_24_hours` already used. A maximum of 0
    or less (SES answers -1 for an unlimited daily quota) has no percentage."""

    max_24_hour_send: float
    max_send_rate: float
    sent_last_24_hours: float

    @property
    def daily_used_percent(self) -> float | None:
        """How much of the 24-hour quota the account has used, or None without a maximum."""
        if self.max_24_hour_send <= 0:
            return None
        return 100 * self.sent_last_24_hours / self.max_24_hour_send

    def rate_used_percent(self, recipients: int, seconds: float) -> float | None:
        """How much of the maximum send rate `recipients` sent over `seconds` used, or None
        without a maximum or an interval."""
        if self.max_send_rate <= 0 or seconds <= 0:
            return None
        return 100 * recipients / seconds / self.max_send_rate
