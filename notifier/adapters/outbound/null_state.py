"""The state ports when there is no state table (NOTIFIER_STATE_TABLE unset): null objects
chosen in `bootstrap()`, so that no caller branches on a missing store."""

from __future__ import annotations

from collections.abc import Collection

from notifier.domain.state import IdempotencyRecord, Suppression


class NullIdempotencyStore:
    """`IdempotencyStore` that keeps nothing: every claim succeeds, so every message is sent."""

    def claim(self, record: IdempotencyRecord, *, now: float) -> IdempotencyRecord | None:
        """Nothing holds any key."""
        return None

    def complete(
        self, key: str, *, payload_hash: str, ses_message_id: str, expires_at: float
    ) -> None:
        """Nothing to record."""

    def release(self, key: str) -> None:
        """Nothing to release."""


class NullSuppressionList:
    """`SuppressionList` that suppresses nobody and keeps no feedback."""

    def suppressed(self, addresses: Collection[str]) -> set[str]:
        """Nobody is suppressed."""
        return set()

    def add(self, entry: Suppression) -> bool:
        """Not kept: there is nowhere to keep it."""
        return False

    def remove(self, address: str) -> bool:
        """Never suppressed, so never removed."""
        return False

    def entries(self) -> list[Suppression]:
        """None."""
        return []

    def count_transient_bounce(
        self, address: str, *, bounce_id: str, at: float, window_seconds: float
    ) -> int:
        """Not counted: no address ever reaches the limit."""
        return 0
