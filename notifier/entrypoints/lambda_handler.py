"""The Lambda entry point: `notifier.entrypoints.lambda_handler.handler`.

The application is built once per cold start (here, at import); a bad setting fails the
cold start with one clear message instead of failing every message.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from notifier.entrypoints.app import LambdaContext
from notifier.entrypoints.bootstrap import bootstrap

app = bootstrap()


def handler(event: Any, context: LambdaContext) -> Mapping[str, Any]:
    """Handle a direct invocation, an SQS batch or an SNS notification."""
    return app.handle(event, context)
