"""Lambda's context object: what the handler reads of it, and a stand-in for local calls."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from typing import Protocol

# The function's timeout (template.yaml), the budget of a call with no Lambda context.
DEFAULT_TIMEOUT_SECONDS = 30.0


class LambdaContext(Protocol):
    """The part of Lambda's context object we use."""

    aws_request_id: str

    def get_remaining_time_in_millis(self) -> int: ...


class LocalContext:
    """A context for calls outside Lambda (`invoke`, the local SQS runner): a fresh request id
    and `budget_seconds` from now to the deadline."""

    def __init__(
        self,
        budget_seconds: float = DEFAULT_TIMEOUT_SECONDS,
        *,
        clock: Callable[[], float] = time.monotonic,
        request_id: str | None = None,
    ) -> None:
        self.aws_request_id = request_id or f"local-{uuid.uuid4()}"
        self._deadline = clock() + budget_seconds
        self._clock = clock

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - self._clock()) * 1000))
