"""SES v1 `SendRawEmail`, with tenacity retries that never outlive the Lambda invocation.

tenacity takes over after a first attempt fails transiently, and is imported then: a message
SES accepts at once never needs it, and importing it would cost every cold start about 3 ms.
Each attempt, the first and every retry, holds a slot of the mailer's `Pacing` (pacing.py),
which every send thread of the execution environment shares.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import structlog
from botocore.exceptions import BotoCoreError, ClientError, ConnectionError, HTTPClientError

from notifier.adapters.outbound.aws import error_code
from notifier.adapters.outbound.pacing import UNPACED, NoSlot, Pacing
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
    from tenacity import RetryCallState

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
    rejections (unverified sender, bad content, sending paused) are not. `pacing` hands out
    the slots attempts wait for, on the same monotonic clock as `clock`."""

    def __init__(
        self,
        client: SESClient,
        *,
        max_attempts: int,
        configuration_set: str = "",
        backoff_seconds: float = 0.2,
        max_backoff_seconds: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
        pacing: Pacing = UNPACED,
    ) -> None:
        self._client = client
        self._pacing = pacing
        self._max_attempts = max_attempts
        self._configuration_set = configuration_set
        self._backoff_seconds = backoff_seconds
        self._max_backoff_seconds = max_backoff_seconds
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
        request: SendRawEmailRequestTypeDef = {
            "Source": source,
            "Destinations": list(destinations),
            "RawMessage": {"Data": raw},
        }
        if configuration_set or self._configuration_set:
            request["ConfigurationSetName"] = configuration_set or self._configuration_set
        if tags:
            request["Tags"] = [{"Name": name, "Value": value} for name, value in tags]
        try:
            response = self._send_once(request, deadline)
        except TransientError as failure:
            response = self._retry(failure, request, deadline)
        return str(response["MessageId"])

    def _retry(
        self, failure: TransientError, request: SendRawEmailRequestTypeDef, deadline: float
    ) -> Any:
        """Attempts 2 to `max_attempts`, with full-jitter exponential backoff. The first
        attempt's failure is replayed as tenacity's attempt 1, so the waits, the stop rules and
        the `ses.retry` lines are those of tenacity running every attempt."""
        from tenacity import (  # only now: see the module docstring
            Retrying,
            retry_if_exception_type,
            stop_after_attempt,
            wait_random_exponential,
        )

        made = [failure]  # the attempt already made, replayed once

        def attempt() -> Any:
            if made:
                raise made.pop()
            return self._send_once(request, deadline)

        attempts = stop_after_attempt(self._max_attempts)
        before_deadline = _StopBefore(deadline, self._clock)
        retrying = Retrying(
            retry=retry_if_exception_type(TransientError),
            stop=lambda state: attempts(state) or before_deadline(state),
            wait=wait_random_exponential(
                multiplier=self._backoff_seconds, max=self._max_backoff_seconds
            ),
            before_sleep=_log_retry,
            reraise=True,
        )
        return retrying(attempt)

    def _send_once(self, request: SendRawEmailRequestTypeDef, deadline: float) -> Any:
        if deadline - self._clock() < MIN_ATTEMPT_SECONDS:
            raise DependencyUnavailable("no time left in this invocation to call SES")
        try:
            with self._pacing.slot(deadline=deadline - MIN_ATTEMPT_SECONDS):
                return self._call(request)
        except NoSlot:
            raise SendThrottled("SES is throttling: no send slot came free in time") from None

    def _call(self, request: SendRawEmailRequestTypeDef) -> Any:
        try:
            response = self._client.send_raw_email(**request)
        except ClientError as exc:
            error = translate_client_error(exc)
            if isinstance(error, SendThrottled):
                lowered = self._pacing.throttled()
                if lowered is not None:
                    log.info("ses.concurrency_reduced", limit=lowered)
            raise error from exc
        except (ConnectionError, HTTPClientError) as exc:
            raise DependencyUnavailable(f"SES unreachable: {type(exc).__name__}") from exc
        except BotoCoreError as exc:
            raise DependencyUnavailable(f"SES call failed: {type(exc).__name__}") from exc
        self._pacing.succeeded()
        return response


class _StopBefore:
    """Stop retrying when the next sleep plus one attempt would pass the deadline (a tenacity
    stop condition)."""

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
