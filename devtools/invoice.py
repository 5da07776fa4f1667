"""The producers' sample invoice message (README "The message"), written once: in
`tests/events/direct.json`, the direct-invocation event. Tests, `make run` and the bench all
start from it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

SAMPLE_EVENT = Path(__file__).resolve().parents[1] / "tests" / "events" / "direct.json"


def invoice_message(**changes: Any) -> dict[str, Any]:
    """The sample with `changes` applied; a change to None removes that field."""
    message: dict[str, Any] = json.loads(SAMPLE_EVENT.read_text(encoding="utf-8"))
    message.update(changes)
    return {name: value for name, value in message.items() if value is not None}
