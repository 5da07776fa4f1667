"""The operator's limits and allowlists, as the domain sees them."""

from __future__ import annotations

from collections.abc import Iterable

import attrs

from notifier.domain.model import Mailbox

# Amazon SES v1 SendRawEmail limits (To + Cc + Bcc, and the raw message after encoding).
SES_MAX_RECIPIENTS = 50
SES_MAX_MESSAGE_BYTES = 10 * 1024 * 1024


def _lowercase(entries: Iterable[str]) -> tuple[str, ...]:
    return tuple(entry.strip().lower() for entry in entries)


@attrs.frozen(kw_only=True)
class Policy:
    """What the service accepts. Empty `allowed_senders` means any sender."""

    max_recipients: int = SES_MAX_RECIPIENTS
    max_message_bytes: int = SES_MAX_MESSAGE_BYTES
    allowed_senders: tuple[str, ...] = attrs.field(default=(), converter=_lowercase)
    attachment_buckets: frozenset[str] = frozenset()

    def sender_allowed(self, sender: Mailbox) -> bool:
        """True if the address or its `@domain` is allowlisted (or no allowlist is set)."""
        if not self.allowed_senders:
            return True
        address = sender.addr_spec.lower()
        domain = "@" + sender.ascii_domain.lower()
        return address in self.allowed_senders or domain in self.allowed_senders

    def bucket_allowed(self, bucket: str) -> bool:
        """True only for buckets the operator listed; none by default."""
        return bucket in self.attachment_buckets
