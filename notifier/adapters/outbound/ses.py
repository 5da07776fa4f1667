"""SES v1 `SendRawEmail`, with tenacity retries that never outlive the Lambda invocation."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import structlog
from botocore.exceptions import BotoCoreError, ClientError, ConnectionError, HTTPClientError
from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception_type,
    stop_after_attempt,
    wait_random_exponential,
)
from tenacity.stop import stop_base

from notifier.adapters.outbound.aws import error_code
from notifier.domain.errors import (
    DependencyUnavailable,
    MessageRejected,
    NotifierError,
    SendingPaused,
    SendThrottled,
    TransientError,
)
from notifier.domain.privacy import redact

if TYPE_CHECKING:
    from mypy_boto3_ses import SESClient
    from mypy_boto3_ses.type_defs import SendRawEmailRequestTypeDef

log = structlog.get_logger(__name__)

_THROTTLING = frozenset(
    {"Throttling", "ThrottlingException", "TooManyRequestsException", "RequestThrottled"}
)
_TRANSIENT = frozenset(
    {
        "ServiceUnavailable",
        "InternalFailure",
        "InternalError",
        "RequestTimeout",
        "RequestTimeoutException",
    }
)
_PAUSED = frozenset({"AccountSendingPausedException", "ConfigurationSetSendingPausedException"})
# No point calling again before the deadline if less than this is left.
MIN_ATTEMPT_SECONDS = 1.0


class SesMailer:
    """`Mailer` port on SES v1. Throttling and outages are retried with full-jitter backoff;
    rejections (unverified sender, bad content, sending paused) are not."""

    def __init__(
        self,
        client: SESClient,
        *,
        max_attempts: int,
        configuration_set: str = "",
        backoff_seconds: float = 0.2,
        max_backoff_seconds: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._client = client
        self._max_attempts = max_attempts
        self._configuration_set = configuration_set
        self._wait = wait_random_exponential(multiplier=backoff_seconds, max=max_backoff_seconds)
        self._clock = clock

    def send_raw(
        self,
        *,
        raw: bytes,
        source: str,
        destinations: tuple[str, ...],
        deadline: float,
        configuration_set: str | None = None,
        tags: tuple[tuple[str, str], ...] = (),
    ) -> str:
        retrying = Retrying(
            retry=retry_if_exception_type(TransientError),
            stop=stop_after_attempt(self._max_attempts) | _StopBefore(deadline, self._clock),
            wait=self._wait,
            before_sleep=_log_retry,
            reraise=True,
        )
        request: SendRawEmailRequestTypeDef = {
            "Source": source,
            "Destinations": list(destinations),
            "RawMessage": {"Data": raw},
        }
        if configuration_set or self._configuration_set:
            request["ConfigurationSetName"] = configuration_set or self._configuration_set
        if tags:
            request["Tags"] = [{"Name": name, "Value": value} for name, value in tags]
        response = retrying(self._send_once, request, deadline)
        return str(response["MessageId"])

    def _send_once(self, request: SendRawEmailRequestTypeDef, deadline: float) -> Any:
        if deadline - self._clock() < MIN_ATTEMPT_SECONDS:
            raise DependencyUnavailable("no time left in this invocation to call SES")
        try:
            return self._client.send_raw_email(**request)
        except ClientError as exc:
            raise translate_client_error(exc) from exc
        except (ConnectionError, HTTPClientError) as exc:
            raise DependencyUnavailable(f"SES unreachable: {type(exc).__name__}") from exc
        except BotoCoreError as exc:
            raise DependencyUnavailable(f"SES call failed: {type(exc).__name__}") from exc


class _StopBefore(stop_base):
    """Stop retrying when the next sleep plus one attempt would pass the deadline."""

    def __init__(self, deadline: float, clock: Callable[[], float]) -> None:
        self._deadline = deadline
        self._clock = clock

    def __call__(self, retry_state: RetryCallState) -> bool:
        sleep = retry_state.upcoming_sleep or 0.0
        return self._clock() + sleep + MIN_ATTEMPT_SECONDS > self._deadline


def translate_client_error(exc: ClientError) -> NotifierError:
    """Map an SES error response onto the permanent/transient split."""
    code = error_code(exc)
    message = exc.response.get("Error", {}).get("Message", "") or code
    status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
    if code in _PAUSED:
        return SendingPaused(f"SES sending is paused ({code}): {message}", code=code)
    if code in _THROTTLING:
        return SendThrottled(f"SES throttled the request: {message}")
    if code in _TRANSIENT or status >= 500:
        return DependencyUnavailable(f"SES failed ({code}): {message}")
    # MessageRejected, MailFromDomainNotVerified, ConfigurationSetDoesNotExist, sending paused,
    # and any other client error: the same call would fail again.
    return MessageRejected(f"SES rejected the message ({code}): {message}", code=code)


def _log_retry(state: RetryCallState) -> None:
    error = state.outcome.exception() if state.outcome else None
    log.warning(
        "ses.retry",
        attempt=state.attempt_number,
        sleep_s=round(state.upcoming_sleep, 3),
        error=redact(str(error)),
    )
