"""The canonical line `email.processed` of a failed message: why it failed, and whether
retrying can help.

An SQS batch response lists every failed record alike, so SQS retries an outage and an
invalid message the same way; this line is where an operator tells one that will heal from one
that will end in the dead-letter queue. It names no full address. (The messages here are
invoked directly: from a queue, a throttled one is not a failure but put back for later,
tests/unit/test_deferral.py; the line is the same.)
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from structlog.testing import capture_logs

from notifier.domain.errors import (
    DependencyUnavailable,
    MessageRejected,
    NotifierError,
    SendThrottled,
)
from notifier.entrypoints.app import App
from tests.fakes import FakeContext, FakeMailer, FakeSuppressionList
from tests.unit.conftest import seed_message

ADDRESSES = ("user@example.com", "carl@example.org", "bea@example.net", "noreply@acubeapi.com")
MASKED_RECIPIENTS = ["u***@example.com", "c***@example.org", "b***@example.net"]


def message(**changes: Any) -> dict[str, Any]:
    """The seed message sent To, Cc and Bcc."""
    return seed_message(
        recipients=["user@example.com"],
        cc=["Carl <carl@example.org>"],
        bcc=["bea@example.net"],
        **changes,
    )


def processed_line(app: App, body: dict[str, Any]) -> dict[str, Any]:
    """The one `email.processed` line logged for a message that failed."""
    with capture_logs() as logs:
        response = app.handle(body, FakeContext())
    assert response["statusCode"] >= 400
    (line,) = [line for line in logs if line["event"] == "email.processed"]
    return line


@pytest.mark.parametrize(
    ("error", "reason"),
    [
        (SendThrottled("Maximum sending rate exceeded."), "throttled"),
        (DependencyUnavailable("SES SendRawEmail failed: ConnectTimeoutError"), "error"),
    ],
    ids=["throttled", "unreachable"],
)
def test_a_transient_failure_is_logged_as_retryable(
    make_app: Callable[..., App], mailer: FakeMailer, error: NotifierError, reason: str
) -> None:
    """GIVEN SES fails in a way that may heal (throttled past the retries, or unreachable)
    WHEN a queued message is processed THEN its line says failed, why, and retryable."""
    mailer.errors.append(error)

    line = processed_line(make_app(), message())

    assert (line["outcome"], line["reason"], line["retryable"]) == ("failed", reason, True)


def test_a_message_ses_rejects_is_logged_as_not_retryable(
    make_app: Callable[..., App], mailer: FakeMailer
) -> None:
    """GIVEN SES rejects the message for good (an unverified sender) WHEN it is processed THEN
    its line says failed, rejected, and not retryable."""
    mailer.errors.append(MessageRejected("Email address is not verified.", code="MessageRejected"))

    line = processed_line(make_app(), message())

    assert (line["outcome"], line["reason"], line["retryable"]) == ("failed", "rejected", False)


def test_an_invalid_message_is_logged_as_not_retryable(
    make_app: Callable[..., App], mailer: FakeMailer
) -> None:
    """GIVEN a message whose sender is no address WHEN it is processed THEN nothing is sent and
    its line says failed, invalid (naming the field), and not retryable."""
    line = processed_line(make_app(), message(sender="not an address"))

    assert (line["outcome"], line["reason"], line["retryable"]) == ("failed", "invalid", False)
    assert line["invalid_fields"] == ["sender"]
    assert mailer.sent == []


def test_a_message_to_suppressed_recipients_only_is_logged_as_not_retryable(
    make_app: Callable[..., App], mailer: FakeMailer
) -> None:
    """GIVEN every recipient is suppressed WHEN the message is processed THEN nothing is sent
    and its line says failed, suppressed, and not retryable."""
    suppression = FakeSuppressionList("user@example.com", "carl@example.org", "bea@example.net")

    line = processed_line(make_app(suppression=suppression), message())

    assert (line["outcome"], line["reason"], line["retryable"]) == ("failed", "suppressed", False)
    assert mailer.sent == []


def test_an_unexpected_error_is_logged_as_retryable(
    make_app: Callable[..., App], mailer: FakeMailer
) -> None:
    """GIVEN a bug (an exception that is no NotifierError) while sending WHEN a queued message is
    processed THEN its line says failed, error, and retryable: nothing says a retry cannot
    help, and SQS retries it anyway."""
    mailer.errors.append(RuntimeError("boom"))  # type: ignore[arg-type]

    line = processed_line(make_app(), message())

    assert (line["outcome"], line["reason"], line["retryable"]) == ("failed", "error", True)
    assert line["error"] == "RuntimeError"


@pytest.mark.parametrize(
    "error",
    [
        SendThrottled("Throttled while sending to user@example.com, carl@example.org"),
        MessageRejected(
            "Email address is not verified. The following identities failed the check in"
            " region EU-WEST-1: noreply@acubeapi.com, bea@example.net",
            code="MessageRejected",
        ),
    ],
    ids=["throttled", "rejected"],
)
def test_the_failure_line_names_no_full_address(
    make_app: Callable[..., App], mailer: FakeMailer, error: NotifierError
) -> None:
    """GIVEN a message To, Cc and Bcc, and an SES error whose text names addresses WHEN it
    fails THEN the line lists every recipient masked, and no full address appears anywhere in
    it (fields or error text)."""
    mailer.errors.append(error)

    line = processed_line(make_app(), message())

    assert line["recipients"] == MASKED_RECIPIENTS
    assert line["sender"] == "n***@acubeapi.com"
    assert [address for address in ADDRESSES if address in repr(line)] == []
