"""What must never reach a log: full addresses, bodies, attachment content, credentials.

The end-to-end privacy test, the fault tests and the soak all collect what their runners wrote
(structlog JSON lines, the runner's own lines, anything on stderr) and hand it to
`PrivateData.leaks()`. A masked address (`u***@example.com`) is fine; the full one anywhere in
a line, in any case, is a leak. Bodies and attachments are looked for as written and in
base64 (the encoding they have inside a MIME message), so a logged raw email is caught too.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

import attrs

ADDRESS = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}")
ADDRESS_FIELDS = ("sender", "recipients", "cc", "bcc", "reply_to")
BODY_FIELDS = ("text_content", "html_content")
MIN_NEEDLE = 12  # shorter strings occur by chance ("test", the fake AWS secret, is 4 long)
MIN_ADDRESS = 6  # a@b.co


@attrs.frozen
class Leak:
    kind: str
    secret: str
    line_number: int
    line: str

    def __str__(self) -> str:
        excerpt = self.line if len(self.line) <= 300 else self.line[:300] + "..."
        return f"{self.kind} {self.secret!r} in log line {self.line_number}: {excerpt}"


@attrs.define
class PrivateData:
    """The secrets of one run, by kind."""

    addresses: set[str] = attrs.field(factory=set)
    contents: set[str] = attrs.field(factory=set)
    credentials: set[str] = attrs.field(factory=set)

    def add_message(self, message: Mapping[str, Any]) -> None:
        """Every address in the address fields, and the bodies, of one producer message."""
        for field in ADDRESS_FIELDS:
            value = message.get(field) or []
            for text in [value] if isinstance(value, str) else value:
                self.addresses.update(ADDRESS.findall(str(text)))
        for field in BODY_FIELDS:
            if isinstance(message.get(field), str):
                self.add_content(message[field])

    def add_content(self, content: str | bytes) -> None:
        """A body or an attachment: its text, and its base64 as a MIME part would carry it."""
        data = content.encode("utf-8") if isinstance(content, str) else content
        if isinstance(content, str):
            self.contents.add(content)
        else:
            self.contents.add(content.decode("latin-1"))
        encoded = base64.b64encode(data).decode("ascii")
        self.contents.add(encoded[: max(MIN_NEEDLE, min(len(encoded), 76))])

    def add_credential(self, value: str) -> None:
        if len(value) < MIN_NEEDLE:
            raise ValueError(f"a credential to look for must be at least {MIN_NEEDLE} characters")
        self.credentials.add(value)

    def leaks(self, lines: Iterable[str]) -> list[Leak]:
        """Every secret found, with the first line it is in.

        A soak has thousands of secrets and lines: each needle is indexed by its first
        characters, and each line is read once, window by window, instead of once per needle.
        """
        addresses = _Index(
            ("address", a, a.lower()) for a in self.addresses if len(a) >= MIN_ADDRESS
        )
        others = _Index(
            [
                *(("content", c, c) for c in self.contents if len(c) >= MIN_NEEDLE),
                *(("credential", c, c) for c in self.credentials),
            ]
        )
        found: dict[tuple[str, str], Leak] = {}
        for number, line in enumerate(lines, start=1):
            haystack = _readable(line)
            for index, text in ((addresses, haystack.lower()), (others, haystack)):
                for kind, secret in index.search(text):
                    found.setdefault((kind, secret), Leak(kind, secret, number, line))
        return list(found.values())


class _Index:
    """Needles by their first `width` characters (the shortest needle's length)."""

    def __init__(self, needles: Iterable[tuple[str, str, str]]) -> None:
        listed = list(needles)
        self.width = min((len(needle) for _, _, needle in listed), default=0)
        self.table: dict[str, list[tuple[str, str, str]]] = {}
        for kind, secret, needle in listed:
            self.table.setdefault(needle[: self.width], []).append((kind, secret, needle))

    def search(self, text: str) -> Iterator[tuple[str, str]]:
        if not self.table:
            return
        width, table = self.width, self.table
        for start in range(len(text) - width + 1):
            candidates = table.get(text[start : start + width])
            if candidates:
                for kind, secret, needle in candidates:
                    if text.startswith(needle, start):
                        yield kind, secret


def _readable(line: str) -> str:
    """The line, plus its JSON strings decoded (JSON escapes non-ASCII and slashes)."""
    if not line.lstrip().startswith("{"):
        return line
    try:
        decoded = json.loads(line)
    except ValueError:
        return line
    return line + "\n" + json.dumps(decoded, ensure_ascii=False)


def assert_no_leaks(private: PrivateData, lines: Iterable[str], *, what: str) -> int:
    """Fail listing every leak; return how many lines were read (a test should see some)."""
    read = list(lines)
    leaks = private.leaks(read)
    assert not leaks, f"private data in {what}:\n" + "\n".join(str(leak) for leak in leaks)
    return len(read)


def privacy_line(log_lines: int, leaks: Sequence[Leak], kept_out: str) -> str:
    """A soak report's line: how many log lines were scanned, and what leaked (the first 20)."""
    if not leaks:
        return f"privacy: {log_lines} log lines, no full {kept_out}"
    shown = "\n".join(map(str, leaks[:20]))
    return f"privacy: {log_lines} log lines, {len(leaks)} LEAK(S):\n{shown}"
