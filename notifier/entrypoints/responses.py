"""What a direct invocation and an SQS batch answer (README "Invoking it and what comes back")."""

from __future__ import annotations

from typing import NotRequired, TypedDict

from notifier.domain.errors import (
    IdempotencyConflict,
    InvalidMessage,
    NotifierError,
    OverLimit,
    PermanentError,
)
from notifier.domain.model import AlreadySent
from notifier.entrypoints.problems import retry_after_seconds
from notifier.entrypoints.reporting import Outcome


class ItemFailure(TypedDict):
    itemIdentifier: str


class BatchResponse(TypedDict):
    batchItemFailures: list[ItemFailure]


class ErrorItem(TypedDict):
    field: str | None
    message: str


class DirectResponse(TypedDict):
    statusCode: int
    messageId: NotRequired[str]
    duplicate: NotRequired[bool]
    errors: NotRequired[list[ErrorItem]]
    retryAfter: NotRequired[int]  # seconds, with 429


def status_code(error: BaseException) -> int:
    """HTTP-like status for a direct invocation's failure."""
    if isinstance(error, InvalidMessage):
        return 400
    if isinstance(error, IdempotencyConflict):
        return 409
    if isinstance(error, OverLimit):
        return 429
    if isinstance(error, PermanentError):
        return 422
    if isinstance(error, NotifierError):
        return 503
    return 500


def direct_response(outcome: Outcome) -> DirectResponse:
    """A direct invocation's answer: the SES message id, or the errors and their status."""
    if outcome.sent is not None:
        response = DirectResponse(statusCode=200, messageId=outcome.sent.ses_message_id)
        if isinstance(outcome.sent, AlreadySent):
            response["duplicate"] = True
        return response
    error = outcome.error
    assert error is not None
    if isinstance(error, InvalidMessage):
        items = [ErrorItem(field=e.field, message=e.message) for e in error.errors]
    elif isinstance(error, NotifierError):
        items = [ErrorItem(field=None, message=str(error))]
    else:
        items = [ErrorItem(field=None, message="internal error; see the logs for this request")]
    response = DirectResponse(statusCode=status_code(error), errors=items)
    if isinstance(error, OverLimit):
        response["retryAfter"] = retry_after_seconds(error)
    return response


def unrecognised_event() -> DirectResponse:
    """The answer to an event of no known shape."""
    return DirectResponse(
        statusCode=400,
        errors=[
            ErrorItem(
                field=None,
                message="unrecognised event: expected a notifier message (JSON object),"
                " an SQS batch, an SNS notification or an API Gateway HTTP API request",
            )
        ],
    )
