"""The Lambda entry point: `notifier.entrypoints.lambda_handler.handler`.

The application is built once per cold start (here, at import); a bad setting fails the
cold start with one clear message instead of failing every message.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from notifier.entrypoints.bootstrap import bootstrap
from notifier.entrypoints.context import LambdaContext

app = bootstrap()


def handler(event: Any, context: LambdaContext) -> Mapping[str, Any]:
    """Handle a direct invocation, an SQS batch or an SNS notification."""
    return app.handle(event, context)
