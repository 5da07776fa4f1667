"""Collecting field errors, so that a producer sees every problem of a message at once."""

from __future__ import annotations

import re

from notifier.domain.errors import FieldError

# Anything that could end or fold a header line, or that mail software treats as one:
# C0 controls (CR, LF, TAB, NUL...), DEL, NEL and the Unicode line/paragraph separators.
# Header injection is rejected, never escaped.
_HEADER_UNSAFE = re.compile("[\x00-\x1f\x7f\x85\u2028\u2029]")


class Problems:
    """Collects field errors so that a producer sees all of them in one response."""

    def __init__(self) -> None:
        self.errors: list[FieldError] = []

    def add(self, field: str, message: str) -> None:
        self.errors.append(FieldError(field, message))

    def text_ok(self, field: str, value: str, *, header: bool) -> bool:
        """Check that `value` is encodable and, for header values, has no line breaks."""
        if not _is_unicode(value):
            self.add(field, "is not valid Unicode text (lone surrogate code point)")
            return False
        if header and (match := _HEADER_UNSAFE.search(value)):
            self.add(
                field,
                f"must not contain line breaks or control characters (found U+{ord(match[0]):04X})",
            )
            return False
        return True


def _is_unicode(value: str) -> bool:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True
