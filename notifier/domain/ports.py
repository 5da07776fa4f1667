"""Ports: what the core needs from the outside world. Adapters implement them; fakes too."""

from __future__ import annotations

import enum
from typing import Protocol

from notifier.domain.model import Mailbox


class AddressParser(Protocol):
    """Turns user-supplied address text into a `Mailbox`."""

    def parse(self, text: str, *, allow_display_name: bool) -> Mailbox:
        """Return the mailbox, or raise `ValueError` with a reason a producer can act on."""
        ...


class AttachmentStore(Protocol):
    """Where attachment objects live (S3)."""

    def size(self, bucket: str, key: str) -> int:
        """Size in bytes, from metadata only; raise `AttachmentUnavailable` if missing."""
        ...

    def read(self, bucket: str, key: str) -> bytes:
        """The whole object; raise `AttachmentUnavailable` if missing or denied."""
        ...


class Mailer(Protocol):
    """Sends composed raw messages (SES `SendRawEmail`)."""

    def send_raw(
        self, *, raw: bytes, source: str, destinations: tuple[str, ...], deadline: float
    ) -> str:
        """Send and return the provider's message id; `deadline` is a `time.monotonic()` bound."""
        ...


class Unit(enum.Enum):
    COUNT = "Count"
    MILLISECONDS = "Milliseconds"


class Metrics(Protocol):
    """Collects metrics for one invocation and publishes them on `flush()`."""

    def add(self, name: str, value: float, unit: Unit, *, reason: str | None = None) -> None:
        """Record one value; `reason` adds a Reason dimension (failures by cause)."""
        ...

    def flush(self) -> None:
        """Publish what was recorded since the last flush."""
        ...
