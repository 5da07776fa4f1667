"""Leave suppressed recipients out of a message before it is sent."""

from __future__ import annotations

import attrs

from notifier.domain.errors import AllRecipientsSuppressed
from notifier.domain.model import SendEmail
from notifier.domain.ports import SuppressionList


def without_suppressed(
    command: SendEmail, suppression: SuppressionList
) -> tuple[SendEmail, tuple[str, ...]]:
    """The command without suppressed To/Cc/Bcc recipients, and the addresses removed.

    Raises `AllRecipientsSuppressed` when nobody is left."""
    blocked = suppression.suppressed({a.lower() for a in command.destinations})
    if not blocked:
        return command, ()
    to, cc, bcc = (
        tuple(m for m in group if m.addr_spec.lower() not in blocked)
        for group in (command.to, command.cc, command.bcc)
    )
    removed = tuple(a for a in command.destinations if a.lower() in blocked)
    if not (to or cc or bcc):
        raise AllRecipientsSuppressed(removed)
    return attrs.evolve(command, to=to, cc=cc, bcc=bcc), removed
