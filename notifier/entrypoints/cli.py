"""The command line, the second composition root: `python -m notifier COMMAND`.

- `invoke --event FILE`: call the Lambda handler in-process with that event, print the response.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import uuid
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from notifier.entrypoints.app import DEFAULT_TIMEOUT_SECONDS
from notifier.entrypoints.bootstrap import bootstrap
from notifier.entrypoints.settings import SettingsError


class LocalContext:
    """A stand-in for Lambda's context object: a request id and a 30-second budget."""

    def __init__(self, timeout_seconds: float = DEFAULT_TIMEOUT_SECONDS) -> None:
        self.aws_request_id = f"local-{uuid.uuid4()}"
        self._deadline = time.monotonic() + timeout_seconds

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; the exit status is 0 on success, 1 on a failed send, 2 on bad usage."""
    parser = argparse.ArgumentParser(prog="python -m notifier", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    invoke = commands.add_parser("invoke", help="call the handler with an event file")
    invoke.add_argument("--event", type=Path, required=True, help="a JSON event (tests/events/)")
    args = parser.parse_args(argv)
    try:
        event = json.loads(args.event.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        parser.error(f"cannot read event {args.event}: {exc}")
    try:
        app = bootstrap()
    except SettingsError as exc:
        print(exc, file=sys.stderr)
        return 2
    response = app.handle(event, LocalContext())
    print(json.dumps(response, indent=2, ensure_ascii=False))
    return 0 if _succeeded(response) else 1


def _succeeded(response: Mapping[str, Any]) -> bool:
    return response.get("statusCode", 200) == 200 and not response.get("batchItemFailures")
