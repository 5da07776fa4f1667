"""SES v1 `GetSendQuota`: the account's daily quota, maximum send rate and recipients sent."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from botocore.exceptions import BotoCoreError, ClientError

from notifier.adapters.outbound.aws import LazyClient, error_code
from notifier.domain.errors import QuotaUnavailable
from notifier.domain.quota import Quota

if TYPE_CHECKING:
    from mypy_boto3_ses import SESClient


class SesSendQuota:
    """`SendQuota` port on SES v1. The client is made on first use, once, from
    `client_factory`: give it short timeouts, a slow answer holds up the invocation that
    asked."""

    def __init__(self, client_factory: Callable[[], SESClient]) -> None:
        self._lazy = LazyClient(client_factory)

    def read(self) -> Quota:
        try:
            answer = self._lazy.get().get_send_quota()
        except ClientError as exc:
            code = error_code(exc)
            raise QuotaUnavailable(f"SES GetSendQuota failed ({code})", code=code) from exc
        except BotoCoreError as exc:
            code = type(exc).__name__
            raise QuotaUnavailable(f"SES GetSendQuota failed ({code})", code=code) from exc
        return Quota(
            max_24_hour_send=answer.get("Max24HourSend", 0.0),
            max_send_rate=answer.get("MaxSendRate", 0.0),
            sent_last_24_hours=answer.get("SentLast24Hours", 0.0),
        )
