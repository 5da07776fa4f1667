"""Fakes for the ports, for the figures measured without I/O; and a Lambda context.

Written here rather than imported from tests/: the benchmark must not depend on the test
suite's helpers. They keep counts, not messages, so thousands of sends use no memory.
"""

from __future__ import annotations

import itertools

import attrs

from notifier.domain.errors import AttachmentUnavailable
from notifier.domain.ports import Unit


class CountingMailer:
    """Accepts every message; counts them and their bytes; remembers the last raw message."""

    def __init__(self) -> None:
        self.sent = 0
        self.bytes = 0
        self.last_raw = b""
        self._ids = itertools.count(1)

    def send_raw(
        self,
        *,
        raw: bytes,
        source: str,
        destinations: tuple[str, ...],
        deadline: float,
        **options: object,  # the port's optional keywords (configuration set, tags...)
    ) -> str:
        self.sent += 1
        self.bytes += len(raw)
        self.last_raw = raw
        return f"bench-{next(self._ids)}"


class MemoryAttachments:
    """Objects in memory, keyed by (bucket, key)."""

    def __init__(self, objects: dict[tuple[str, str], bytes]) -> None:
        self._objects = objects

    def size(self, bucket: str, key: str) -> int:
        return len(self.read(bucket, key))

    def read(self, bucket: str, key: str) -> bytes:
        try:
            return self._objects[(bucket, key)]
        except KeyError:
            raise AttachmentUnavailable(key, f"does not exist in bucket {bucket!r}") from None


class CountingMetrics:
    """Counts the values recorded and the flushes; publishes nothing."""

    def __init__(self) -> None:
        self.values = 0
        self.flushes = 0

    def add(self, name: str, value: float, unit: Unit, *, reason: str | None = None) -> None:
        self.values += 1

    def flush(self) -> None:
        self.flushes += 1


@attrs.define
class Context:
    """Lambda's context object, with what notifier and Powertools read from it."""

    aws_request_id: str = "bench-request"
    function_name: str = "notifier"
    function_version: str = "$LATEST"
    invoked_function_arn: str = "arn:aws:lambda:us-east-1:000000000000:function:notifier"
    memory_limit_in_mb: int = 256
    log_group_name: str = "/aws/lambda/notifier"
    log_stream_name: str = "bench"
    remaining_ms: int = 900_000

    def get_remaining_time_in_millis(self) -> int:
        return self.remaining_ms
