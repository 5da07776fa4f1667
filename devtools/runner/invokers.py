"""How the runner reaches the handler: in this process, or over HTTP (the Lambda Runtime
Interface Emulator's Invoke API). Either way a raise, a timeout or an error payload is a failed
invocation, as in Lambda."""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping
from typing import Any, Protocol

from notifier.entrypoints.app import App
from notifier.entrypoints.context import LocalContext


class Function(Protocol):
    """The handler, however it is reached."""

    def invoke(self, event: Mapping[str, Any], *, budget_seconds: float) -> Any:
        """The handler's response; raise `InvokeFailed` when the invocation itself fails."""
        ...


class InvokeFailed(Exception):
    """The function raised, timed out or could not be reached: the whole batch is retried."""


class InProcessFunction:
    """The handler in this process, with Lambda's rules: a raise or an unserialisable
    response is a failed invocation."""

    def __init__(self, app: App) -> None:
        self._app = app

    def invoke(self, event: Mapping[str, Any], *, budget_seconds: float) -> Any:
        try:
            response = self._app.handle(event, LocalContext(budget_seconds))
            return json.loads(json.dumps(response))
        except Exception as exc:  # a Lambda function error, whatever its type
            raise InvokeFailed(f"the handler raised {type(exc).__name__}: {exc}") from exc


class HttpFunction:
    """The handler behind the Lambda Runtime Interface Emulator (or any Invoke-shaped URL),
    e.g. http://localhost:9000/2015-03-31/functions/function/invocations."""

    def __init__(self, url: str) -> None:
        if urllib.parse.urlsplit(url).scheme not in {"http", "https"}:
            raise ValueError(f"the invoke URL must be http(s), got {url!r}")
        self.url = url

    def invoke(self, event: Mapping[str, Any], *, budget_seconds: float) -> Any:
        # The scheme is checked in __init__: no file:// or custom schemes reach urlopen.
        request = urllib.request.Request(  # noqa: S310
            self.url,
            data=json.dumps(event).encode("utf-8"),
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        try:
            with urllib.request.urlopen(request, timeout=max(1.0, budget_seconds)) as reply:  # noqa: S310
                function_error = reply.headers.get("X-Amz-Function-Error")
                body = reply.read()
        except urllib.error.HTTPError as exc:
            with exc:
                raise InvokeFailed(f"{self.url} answered HTTP {exc.code}") from exc
        except OSError as exc:  # refused, reset, timed out
            raise InvokeFailed(f"cannot invoke {self.url}: {exc}") from exc
        try:
            response = json.loads(body) if body.strip() else None
        except ValueError as exc:
            raise InvokeFailed(f"{self.url} answered with something other than JSON") from exc
        if function_error or _is_function_error(response):
            kind = response.get("errorType") if isinstance(response, Mapping) else function_error
            raise InvokeFailed(f"the function failed: {kind}")
        return response


def _is_function_error(response: Any) -> bool:
    """The runtime's error payload: {"errorMessage": ..., "errorType": ..., ...}."""
    return isinstance(response, Mapping) and {"errorType", "errorMessage"} <= response.keys()
