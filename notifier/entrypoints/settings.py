"""Settings read once from the environment at cold start.

Every field names its environment variable in its metadata, so the README's
settings table and the SAM template can be checked against this one class.
A bad value raises `SettingsError` with one message naming the variable.
"""

from __future__ import annotations

import enum
import os
from collections.abc import Callable, Mapping
from typing import Any

import attrs

from notifier.domain.budget import DEFAULT_BYTES_IN_FLIGHT
from notifier.domain.limits import LimitTable, parse_limits
from notifier.domain.policy import SES_MAX_MESSAGE_BYTES, SES_MAX_RECIPIENTS

ENV = "env"


class MetricsMode(enum.Enum):
    EMF = "emf"
    API = "api"
    OFF = "off"


class SettingsError(Exception):
    """A setting in the environment has a value the service cannot run with."""


def _csv(raw: str) -> tuple[str, ...]:
    return tuple(item.strip() for item in raw.split(",") if item.strip())


def _bounded_int(low: int, high: int) -> Callable[[str], int]:
    def parse(raw: str) -> int:
        try:
            value = int(raw)
        except ValueError:
            raise ValueError(f"expected a whole number, got {raw!r}") from None
        if not low <= value <= high:
            raise ValueError(f"expected a number from {low} to {high}, got {value}")
        return value

    return parse


def _off_or_bounded_int(low: int, high: int) -> Callable[[str], int]:
    bounded = _bounded_int(low, high)

    def parse(raw: str) -> int:
        if raw.strip() == "0":
            return 0
        try:
            return bounded(raw)
        except ValueError:
            raise ValueError(
                f"expected 0 (off) or a number from {low} to {high}, got {raw!r}"
            ) from None

    return parse


def _metrics_mode(raw: str) -> MetricsMode:
    try:
        return MetricsMode(raw.strip().lower())
    except ValueError:
        choices = ", ".join(m.value for m in MetricsMode)
        raise ValueError(f"expected one of {choices}, got {raw!r}") from None


def _log_level(raw: str) -> str:
    level = raw.strip().upper()
    if level not in {"DEBUG", "INFO", "WARNING", "ERROR"}:
        raise ValueError(f"expected DEBUG, INFO, WARNING or ERROR, got {raw!r}")
    return level


def _s3_url(raw: str) -> str:
    url = raw.strip()
    bucket, _, _prefix = url.removeprefix("s3://").partition("/")
    if not url.startswith("s3://") or not bucket:
        raise ValueError(f"expected s3://bucket/prefix, got {raw!r}")
    return url


def _setting(env: str, default: Any, parse: Callable[[str], Any]) -> Any:
    return attrs.field(default=default, metadata={ENV: (env, parse)})


@attrs.frozen(kw_only=True)
class Settings:
    """What the operator can tune; README.md "Settings" documents each variable."""

    allowed_senders: tuple[str, ...] = _setting("NOTIFIER_ALLOWED_SENDERS", (), _csv)
    attachment_buckets: tuple[str, ...] = _setting("NOTIFIER_ATTACHMENT_BUCKETS", (), _csv)
    max_recipients: int = _setting(
        "NOTIFIER_MAX_RECIPIENTS", SES_MAX_RECIPIENTS, _bounded_int(1, SES_MAX_RECIPIENTS)
    )
    max_message_bytes: int = _setting(
        "NOTIFIER_MAX_MESSAGE_BYTES",
        SES_MAX_MESSAGE_BYTES,
        _bounded_int(1024, SES_MAX_MESSAGE_BYTES),
    )
    send_concurrency: int = _setting("NOTIFIER_SEND_CONCURRENCY", 10, _bounded_int(1, 64))
    max_bytes_in_flight: int = _setting(
        "NOTIFIER_MAX_BYTES_IN_FLIGHT",
        DEFAULT_BYTES_IN_FLIGHT,
        _bounded_int(1024 * 1024, 1024 * 1024 * 1024),
    )
    ses_max_attempts: int = _setting("NOTIFIER_SES_MAX_ATTEMPTS", 4, _bounded_int(1, 10))
    ses_configuration_set: str = _setting("NOTIFIER_SES_CONFIGURATION_SET", "", str.strip)
    # GetSendQuota is rate-limited by AWS: once a minute per execution environment at most.
    quota_check_seconds: int = _setting(
        "NOTIFIER_QUOTA_CHECK_SECONDS", 60, _off_or_bounded_int(60, 3600)
    )
    state_table: str = _setting("NOTIFIER_STATE_TABLE", "", str.strip)
    idempotency_ttl_seconds: int = _setting(
        "NOTIFIER_IDEMPOTENCY_TTL_SECONDS", 24 * 3600, _bounded_int(60, 30 * 24 * 3600)
    )
    feedback_topic_arns: tuple[str, ...] = _setting("NOTIFIER_FEEDBACK_TOPIC_ARNS", (), _csv)
    status_topic_arn: str = _setting("NOTIFIER_STATUS_TOPIC_ARN", "", str.strip)
    status_retention_days: int = _setting(
        "NOTIFIER_STATUS_RETENTION_DAYS", 30, _bounded_int(1, 365)
    )
    queue_url: str = _setting("NOTIFIER_QUEUE_URL", "", str.strip)
    bulk_queue_url: str = _setting("NOTIFIER_BULK_QUEUE_URL", "", str.strip)
    max_receive_count: int = _setting("NOTIFIER_MAX_RECEIVE_COUNT", 3, _bounded_int(1, 1000))
    templates: str = _setting("NOTIFIER_TEMPLATES", "", _s3_url)
    producer_limits: LimitTable = _setting("NOTIFIER_PRODUCER_LIMITS", LimitTable(), parse_limits)
    limit_max_wait_seconds: int = _setting(
        "NOTIFIER_LIMIT_MAX_WAIT_SECONDS", 2, _bounded_int(0, 10)
    )
    transient_bounce_limit: int = _setting(
        "NOTIFIER_TRANSIENT_BOUNCE_LIMIT", 3, _bounded_int(1, 100)
    )
    metrics_mode: MetricsMode = _setting("NOTIFIER_METRICS_MODE", MetricsMode.EMF, _metrics_mode)
    metrics_namespace: str = _setting("NOTIFIER_METRICS_NAMESPACE", "Notifier", str.strip)
    log_level: str = _setting("NOTIFIER_LOG_LEVEL", "INFO", _log_level)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Read every setting; an empty variable counts as unset."""
        env = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        problems: list[str] = []
        for field in attrs.fields(cls):
            name, parse = field.metadata[ENV]
            raw = env.get(name, "")
            if not raw.strip():
                continue
            try:
                values[field.name] = parse(raw)
            except ValueError as exc:
                problems.append(f"{name}: {exc}")
        if problems:
            raise SettingsError("invalid settings: " + "; ".join(problems))
        return cls(**values)

    @classmethod
    def variables(cls) -> tuple[str, ...]:
        """The environment variables this class reads, in declaration order."""
        return tuple(field.metadata[ENV][0] for field in attrs.fields(cls))
