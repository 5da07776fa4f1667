"""Settings: defaults, parsing, and one clear message for every bad value."""

from __future__ import annotations

import re
from pathlib import Path

import attrs
import pytest

from notifier.entrypoints.settings import MetricsMode, Settings, SettingsError


def test_defaults_with_an_empty_environment() -> None:
    """No variable set: SES limits, EMF metrics, no bucket, any sender."""
    settings = Settings.from_env({})
    assert settings == Settings()
    assert (settings.max_recipients, settings.max_message_bytes) == (50, 10 * 1024 * 1024)
    assert settings.attachment_buckets == ()
    assert settings.metrics_mode is MetricsMode.EMF


def test_values_are_parsed() -> None:
    """Comma lists are trimmed, numbers and choices parsed; an empty value counts as unset."""
    settings = Settings.from_env(
        {
            "NOTIFIER_ALLOWED_SENDERS": " noreply@acubeapi.com, @billing.example ,",
            "NOTIFIER_ATTACHMENT_BUCKETS": "acube-invoices",
            "NOTIFIER_MAX_RECIPIENTS": "10",
            "NOTIFIER_METRICS_MODE": "API",
            "NOTIFIER_LOG_LEVEL": "",
        }
    )
    assert settings.allowed_senders == ("noreply@acubeapi.com", "@billing.example")
    assert settings.attachment_buckets == ("acube-invoices",)
    assert settings.max_recipients == 10
    assert settings.metrics_mode is MetricsMode.API
    assert settings.log_level == "INFO"


def test_every_bad_value_is_named_in_one_error() -> None:
    """The cold start fails once, naming each bad variable and why."""
    with pytest.raises(SettingsError) as caught:
        Settings.from_env(
            {
                "NOTIFIER_MAX_RECIPIENTS": "51",
                "NOTIFIER_SEND_CONCURRENCY": "many",
                "NOTIFIER_METRICS_MODE": "statsd",
            }
        )
    text = str(caught.value)
    assert "NOTIFIER_MAX_RECIPIENTS: expected a number from 1 to 50, got 51" in text
    assert "NOTIFIER_SEND_CONCURRENCY: expected a whole number, got 'many'" in text
    assert "NOTIFIER_METRICS_MODE: expected one of emf, api, off, got 'statsd'" in text


def test_the_variable_list_is_complete() -> None:
    """`Settings.variables()` names one variable per field (the SAM template test relies on it)."""
    assert (
        len(Settings.variables()) == len(set(Settings.variables())) == len(attrs.fields(Settings))
    )
    assert all(name.startswith("NOTIFIER_") for name in Settings.variables())


@pytest.mark.parametrize(("raw", "seconds"), [("", 60), ("0", 0), (" 60 ", 60), ("3600", 3600)])
def test_the_quota_check_interval_is_off_or_at_least_a_minute(raw: str, seconds: int) -> None:
    """NOTIFIER_QUOTA_CHECK_SECONDS: 60 by default, 0 turns the quota checks off."""
    settings = Settings.from_env({"NOTIFIER_QUOTA_CHECK_SECONDS": raw})
    assert settings.quota_check_seconds == seconds


@pytest.mark.parametrize("raw", ["1", "59", "3601", "-1", "often"])
def test_a_quota_check_more_often_than_a_minute_is_refused(raw: str) -> None:
    """GetSendQuota is rate-limited by AWS: an interval under 60 s (or not a number) fails the
    cold start, naming what is accepted."""
    with pytest.raises(SettingsError, match=r"expected 0 \(off\) or a number from 60 to 3600"):
        Settings.from_env({"NOTIFIER_QUOTA_CHECK_SECONDS": raw})


def test_the_readme_documents_exactly_the_settings_there_are() -> None:
    """README.md's "Settings" table has one row per variable `Settings` reads, no more (where
    a user looks for a setting, both ways)."""
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    section = readme.split("\n## Settings\n", 1)[1].split("\n## ", 1)[0]
    rows = re.findall(r"^\| `(NOTIFIER_[A-Z_]+)` \|", section, flags=re.MULTILINE)

    assert sorted(rows) == sorted(Settings.variables())
