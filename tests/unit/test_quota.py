"""The sending quota: its percentages (pure) and the SES adapter that reads it (Stubber)."""

from __future__ import annotations

import pytest
from botocore.exceptions import EndpointConnectionError
from botocore.stub import Stubber

from notifier.adapters.outbound.ses_quota import SesSendQuota
from notifier.domain.errors import QuotaUnavailable
from notifier.domain.quota import Quota


def quota(max_24: float = 50_000, rate: float = 14, sent: float = 0) -> Quota:
    return Quota(max_24_hour_send=max_24, max_send_rate=rate, sent_last_24_hours=sent)


def test_the_daily_percentage_is_sent_over_the_maximum() -> None:
    """12,500 recipients of 50,000 in 24 hours: 25%."""
    assert quota(sent=12_500).daily_used_percent == 25.0


@pytest.mark.parametrize("maximum", [0, -1])
def test_no_daily_maximum_gives_no_percentage(maximum: float) -> None:
    """GIVEN a maximum of 0 (unknown) or -1 (SES's "unlimited") THEN no percentage, and no
    division by zero."""
    assert quota(max_24=maximum, sent=10).daily_used_percent is None


def test_the_rate_percentage_is_recipients_per_second_over_the_maximum_rate() -> None:
    """420 recipients in 60 s is 7 per second: half of a 14-per-second maximum."""
    assert quota(rate=14).rate_used_percent(420, 60.0) == 50.0


@pytest.mark.parametrize(("rate", "seconds"), [(0, 60.0), (14, 0.0)])
def test_no_rate_maximum_or_interval_gives_no_percentage(rate: float, seconds: float) -> None:
    """A zero maximum rate or a zero-length interval has no percentage."""
    assert quota(rate=rate).rate_used_percent(10, seconds) is None


def test_ses_send_quota_reads_get_send_quota(ses: tuple[object, Stubber]) -> None:
    """SES's three figures become the `Quota` value object, unchanged."""
    client, stubber = ses
    stubber.add_response(
        "get_send_quota",
        {"Max24HourSend": 50_000.0, "MaxSendRate": 14.0, "SentLast24Hours": 1_234.0},
        {},
    )

    read = SesSendQuota(lambda: client).read()  # type: ignore[arg-type,return-value]

    assert read == Quota(max_24_hour_send=50_000, max_send_rate=14, sent_last_24_hours=1_234)


@pytest.mark.parametrize("code", ["Throttling", "AccessDenied", "InternalFailure"])
def test_a_failed_read_names_the_error_code(ses: tuple[object, Stubber], code: str) -> None:
    """A throttled, denied or failed call raises `QuotaUnavailable` with SES's error code only
    (no message text: an AccessDenied message names the role)."""
    client, stubber = ses
    stubber.add_client_error(
        "get_send_quota", code, "User: arn:aws:sts::123456789012:assumed-role/x is not allowed"
    )

    with pytest.raises(QuotaUnavailable) as caught:
        SesSendQuota(lambda: client).read()  # type: ignore[arg-type,return-value]

    assert caught.value.code == code
    assert "arn:" not in str(caught.value)


def test_an_unreachable_endpoint_is_unavailable_too() -> None:
    """A connection failure is `QuotaUnavailable` named after botocore's error type."""

    class Unreachable:
        def get_send_quota(self) -> dict[str, float]:
            raise EndpointConnectionError(endpoint_url="https://email.invalid")

    with pytest.raises(QuotaUnavailable) as caught:
        SesSendQuota(Unreachable).read()  # type: ignore[arg-type]

    assert caught.value.code == "EndpointConnectionError"
