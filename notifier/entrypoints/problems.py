"""The HTTP API's responses: JSON, and every error as `application/problem+json` (RFC 9457)
with the field errors as its `errors` extension member (docs/openapi.yaml, `Problem`)."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import Any, TypedDict

from notifier.domain.errors import (
    AllRecipientsSuppressed,
    EnqueueNotConfigured,
    FieldError,
    IdempotencyConflict,
    InvalidMessage,
    MessageTooLarge,
    NotifierError,
    OverLimit,
    PermanentError,
    SendingPaused,
)

PROBLEM_TYPE = "tag:acubeapi.com,2026:notifier/problems/"
RETRY_AFTER_SECONDS = 5
# Problem types: (status, title). `type` is PROBLEM_TYPE + the key.
PROBLEMS = {
    "invalid-request": (400, "The HTTP request is malformed"),
    "invalid-message": (400, "The message is invalid"),
    "not-found": (404, "Not found"),
    "method-not-allowed": (405, "Method not allowed"),
    "idempotency-conflict": (409, "The idempotency key was used for another message"),
    "too-large": (413, "Too large"),
    "unsupported-media-type": (415, "Unsupported media type"),
    "over-limit": (429, "The producer is over its sending limit"),
    "rejected": (422, "SES refused the message"),
    "suppressed": (422, "Every recipient is suppressed"),
    "paused": (422, "Sending is paused"),
    "internal": (500, "Internal error"),
    "not-configured": (501, "Not configured"),
    "unavailable": (503, "Temporarily unavailable"),
}


class HttpResponse(TypedDict):
    """API Gateway's payload format 2.0 response."""

    statusCode: int
    headers: dict[str, str]
    body: str
    isBase64Encoded: bool


def error_problem(error: BaseException) -> HttpResponse:
    """The problem response for a failure of the send pipeline, validation or a dependency."""
    errors: tuple[FieldError, ...] = ()
    if isinstance(error, InvalidMessage):
        errors = error.errors
        kind = "too-large" if isinstance(error, MessageTooLarge) else "invalid-message"
        return problem(
            kind, "; ".join(f"{e.field}: {e.message}" for e in errors[:3]), errors=errors
        )
    if isinstance(error, IdempotencyConflict):
        kind = "idempotency-conflict"
    elif isinstance(error, EnqueueNotConfigured):
        kind = "not-configured"
    elif isinstance(error, AllRecipientsSuppressed):
        kind = "suppressed"
    elif isinstance(error, SendingPaused):
        kind = "paused"
    elif isinstance(error, PermanentError):
        kind = "rejected"
    elif isinstance(error, OverLimit):
        return problem(
            "over-limit",
            str(error),
            headers={"retry-after": str(retry_after_seconds(error))},
        )
    elif isinstance(error, NotifierError):
        return problem(
            "unavailable",
            f"{error} (retry later)",
            headers={"retry-after": str(RETRY_AFTER_SECONDS)},
        )
    else:
        return problem("internal", "internal error; see the logs for this request")
    return problem(kind, str(error))


def retry_after_seconds(error: OverLimit) -> int:
    """Whole seconds, rounded up: a producer retrying then is within its limit again."""
    return max(1, math.ceil(error.retry_after))


def problem(
    kind: str,
    detail: str,
    *,
    errors: tuple[FieldError, ...] = (),
    headers: Mapping[str, str] | None = None,
) -> HttpResponse:
    """An `application/problem+json` response of one of `PROBLEMS`."""
    status, title = PROBLEMS[kind]
    body: dict[str, Any] = {
        "type": PROBLEM_TYPE + kind,
        "title": title,
        "status": status,
        "detail": detail,
    }
    if errors:
        body["errors"] = [{"field": e.field, "message": e.message} for e in errors]
    return json_response(status, body, content_type="application/problem+json", headers=headers)


def json_response(
    status: int,
    body: Mapping[str, Any],
    *,
    content_type: str = "application/json",
    headers: Mapping[str, str] | None = None,
) -> HttpResponse:
    """A JSON response nobody caches."""
    return HttpResponse(
        statusCode=status,
        headers={"content-type": content_type, "cache-control": "no-store", **(headers or {})},
        body=json.dumps(body, ensure_ascii=False, separators=(",", ":")),
        isBase64Encoded=False,
    )
