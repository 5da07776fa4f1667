"""Output shared by threads: whole lines, never interleaved mid-line."""

from __future__ import annotations

import sys
import threading
from pathlib import Path

_lock = threading.Lock()


def say(text: str, *, error: bool = False) -> None:
    """Print `text` (one or more lines) to stdout, or stderr, at once."""
    with _lock:
        print(text, file=sys.stderr if error else sys.stdout, flush=True)


def shown(path: Path) -> str:
    """`path` relative to the working directory when it is under it, for shorter lines."""
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)
