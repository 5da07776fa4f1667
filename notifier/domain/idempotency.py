"""Send a message at most once per key, with Powertools-style idempotency semantics.

- A conditional write claims the key IN_PROGRESS until the invocation's deadline (plus a
  margin): a duplicate arriving meanwhile is a transient failure, retried later.
- When SES accepts, the key becomes COMPLETED with the SES message id for the TTL: a duplicate
  is not sent again and reports success with the original id.
- A failure before SES accepted releases the key, so a retry can send.
- A claim whose expiry passed (the function died) is taken over; expiry is checked in code.
- The same key with a different payload is a permanent error.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
from collections.abc import Callable

import attrs

from notifier.domain.errors import DuplicateInProgress, IdempotencyConflict
from notifier.domain.model import AlreadySent, EmailSent, MessageRequest
from notifier.domain.ports import IdempotencyStore
from notifier.domain.state import IdempotencyRecord, RecordStatus

# A claim outlives the invocation by this much, so that a slow SES answer arriving just before
# the deadline is never mistaken for a dead holder.
CLAIM_MARGIN_SECONDS = 10.0


# Not content: the key names the message, the priority only picks its lane. Leaving the
# priority out also keeps every hash what it was before the field existed, so a message sent
# before a deploy and redelivered after it is still recognised as sent.
_NOT_CONTENT = frozenset({"idempotency_key", "priority"})


def payload_hash(request: MessageRequest) -> str:
    """SHA-256 of the canonical message content (every field but the idempotency key and the
    priority)."""
    content = attrs.asdict(request, filter=lambda a, _v: a.name not in _NOT_CONTENT)
    canonical = json.dumps(content, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8", "surrogatepass")).hexdigest()


def idempotency_key(request: MessageRequest, *, sender: str, content_hash: str) -> str:
    """The producer's key, or the content hash; scoped by sender so teams cannot collide."""
    return scoped_key(sender, request.idempotency_key, content_hash=content_hash)


def scoped_key(sender: str, own: str | None, *, content_hash: str = "") -> str:
    """`<sender>#key:<own>`, or `<sender>#sha256:<content_hash>` without a key of its own."""
    return f"{sender.lower()}#{'key:' + own if own is not None else 'sha256:' + content_hash}"


def producer_key(scoped: str) -> str | None:
    """The producer's own key inside a scoped key; None when the key is a content hash.
    (The first `#key:` is the separator: a sender address has no `:`.)"""
    _sender, separator, own = scoped.partition("#key:")
    return own if separator else None


def send_once(
    *,
    store: IdempotencyStore,
    key: str,
    content_hash: str,
    now: float,
    remaining_seconds: float,
    ttl_seconds: float,
    send: Callable[[], EmailSent],
) -> EmailSent | AlreadySent:
    """Call `send` unless the key was already sent (or is being sent) for this content."""
    claim = IdempotencyRecord(
        key=key,
        status=RecordStatus.IN_PROGRESS,
        payload_hash=content_hash,
        expires_at=now + max(remaining_seconds, 0.0) + CLAIM_MARGIN_SECONDS,
    )
    existing = store.claim(claim, now=now)
    if existing is not None:
        if existing.payload_hash != content_hash:
            raise IdempotencyConflict(
                "this idempotency_key was already used for a different message"
            )
        if existing.status is RecordStatus.COMPLETED and existing.ses_message_id:
            return AlreadySent(ses_message_id=existing.ses_message_id)
        raise DuplicateInProgress("the same message is being sent by another invocation")
    try:
        sent = send()
    except BaseException:
        with contextlib.suppress(Exception):  # if this fails too, the claim still expires
            store.release(key)
        raise
    try:
        store.complete(
            key,
            payload_hash=content_hash,
            ses_message_id=sent.ses_message_id,
            expires_at=now + ttl_seconds,
        )
    except Exception:  # noqa: BLE001 - the email is out: report success, not a retry that would resend it
        return attrs.evolve(sent, unrecorded=True)
    return sent
