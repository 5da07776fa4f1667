"""What became of every email: a status per recipient, merged from every source in any order.

A status record is keyed by the SES message id. The send (notifier's own record of SES
accepting the message) and each SES event (Send, Delivery, Bounce...) are *observations*
merged into it. The merge is a join: per recipient the higher-ranked status wins (ties broken
by the later timestamp, then the text), engagement keeps the first time seen, metadata keeps
the first value given. So the merge is commutative, associative and idempotent: the same event
twice changes nothing, and a Delivery that arrives before notifier wrote its own send record
leaves the same final record as the other order.

Messages refused before SES (`failed`, `suppressed`) have no SES message id: their record is
found by the idempotency key alone.

Recipients are kept as the SHA-256 of the lower-case address plus a masked form: the record,
the command line and the callbacks never hold a full address.
"""

from __future__ import annotations

import enum
import hashlib
from collections.abc import Iterable, Mapping

import attrs

from notifier.domain.privacy import mask_address


class Status(enum.Enum):
    """A recipient's (and the message's) delivery status."""

    SENT = "sent"  # SES accepted the message
    DELAYED = "delayed"  # SES is retrying the recipient's server (DeliveryDelay)
    DELIVERED = "delivered"  # the recipient's server accepted it
    BOUNCED = "bounced"  # with bounce type and sub-type
    COMPLAINED = "complained"  # the recipient marked it as spam
    REJECTED = "rejected"  # SES refused it after accepting it (virus)
    RENDERING_FAILED = "rendering_failed"  # an SES template failed to render
    SUPPRESSED = "suppressed"  # nothing sent: every recipient suppressed
    FAILED = "failed"  # refused before SES: validation, permanent rejection


# Later in a message's life ranks higher; a higher rank is never undone by a lower one.
_RANK = {
    Status.SENT: 1,
    Status.DELAYED: 2,
    Status.DELIVERED: 3,
    Status.BOUNCED: 4,
    Status.COMPLAINED: 5,
    Status.REJECTED: 6,
    Status.RENDERING_FAILED: 6,
    Status.SUPPRESSED: 6,
    Status.FAILED: 6,
}
# Statuses of the whole message, not of a recipient.
MESSAGE_LEVEL = frozenset({Status.REJECTED, Status.RENDERING_FAILED})


class Engagement(enum.Enum):
    """What a recipient did with a delivered email; recorded, never a delivery status."""

    OPENED = "opened"
    CLICKED = "clicked"
    UNSUBSCRIBED = "unsubscribed"


def recipient_id(address: str) -> str:
    """The recipient's key in a record and a callback: SHA-256 of the lower-case address.
    A producer can compute it from its own data; nobody can read the address from it."""
    return hashlib.sha256(address.strip().lower().encode("utf-8", "surrogatepass")).hexdigest()


@attrs.frozen(kw_only=True)
class RecipientStatus:
    """One recipient's status, and the event that set it."""

    masked: str  # u***@example.com
    status: Status
    at: str = ""  # ISO 8601, from SES (or notifier's clock for `sent`)
    detail: str = ""  # bounce "Permanent.General", complaint type, delay type

    def _order(self) -> tuple[int, str, str]:
        return (_RANK[self.status], self.at, self.detail)

    def join(self, other: RecipientStatus) -> RecipientStatus:
        """The later of the two (commutative)."""
        return other if other._order() > self._order() else self


@attrs.frozen(kw_only=True)
class Observation:
    """One thing learnt about a message: notifier's send, or one SES event."""

    ses_message_id: str
    recipients: Mapping[str, RecipientStatus] = attrs.field(factory=dict)  # by recipient_id
    message_status: Status | None = None  # REJECTED or RENDERING_FAILED
    message_detail: str = ""
    engagement: Mapping[Engagement, str] = attrs.field(factory=dict)  # first time seen
    idempotency_key: str = ""
    sender: str = ""  # bare address
    tenant: str = ""
    template_version: str = ""  # TEMPLATE/LOCALE@digest of a templated message's files
    at: str = ""

    @classmethod
    def of(
        cls,
        ses_message_id: str,
        addresses: Iterable[str],
        status: Status,
        *,
        at: str,
        detail: str = "",
        **fields: str,
    ) -> Observation:
        """The same status for each address (lower-cased and masked here)."""
        return cls(
            ses_message_id=ses_message_id,
            recipients={
                recipient_id(a): RecipientStatus(
                    masked=mask_address(a), status=status, at=at, detail=detail
                )
                for a in addresses
            },
            at=at,
            **fields,  # type: ignore[arg-type]
        )


@attrs.frozen(kw_only=True)
class EmailStatus:
    """The status record of one message. `version` counts writes (optimistic concurrency);
    `expires_at` is when it is forgotten (NOTIFIER_STATUS_RETENTION_DAYS after creation)."""

    ses_message_id: str  # "" for a message refused before SES
    recipients: Mapping[str, RecipientStatus] = attrs.field(factory=dict)
    message_status: Status | None = None
    message_detail: str = ""
    engagement: Mapping[Engagement, str] = attrs.field(factory=dict)
    idempotency_key: str = ""
    sender: str = ""
    tenant: str = ""
    template_version: str = ""
    created_at: str = ""
    updated_at: str = ""
    expires_at: float = 0.0
    version: int = 0

    @property
    def status(self) -> Status:
        """The message's status: a message-level one if any, else the highest-ranked status
        of the recipients it was sent to (one bounce among deliveries shows as `bounced`; see
        `recipients`). Recipients left out as suppressed count only when nobody else is left."""
        if self.message_status is not None:
            return self.message_status
        sent_to = [r.status for r in self.recipients.values() if r.status is not Status.SUPPRESSED]
        if not sent_to:
            return Status.SUPPRESSED if self.recipients else Status.SENT
        return max(sent_to, key=_RANK.__getitem__)

    def merge(self, seen: Observation) -> EmailStatus:
        """This record with `seen` joined in (same version: the store sets the next one)."""
        recipients = dict(self.recipients)
        for rid, new in seen.recipients.items():
            old = recipients.get(rid)
            recipients[rid] = new if old is None else old.join(new)
        message_status, message_detail = self.message_status, self.message_detail
        if seen.message_status is not None and (
            message_status is None
            or (seen.message_status.value, seen.message_detail)
            > (message_status.value, message_detail)
        ):
            message_status, message_detail = seen.message_status, seen.message_detail
        engagement = dict(self.engagement)
        for kind, at in seen.engagement.items():
            engagement[kind] = min(at, engagement.get(kind, at))
        return attrs.evolve(
            self,
            recipients=recipients,
            message_status=message_status,
            message_detail=message_detail,
            engagement=engagement,
            idempotency_key=self.idempotency_key or seen.idempotency_key,
            sender=self.sender or seen.sender,
            tenant=self.tenant or seen.tenant,
            template_version=self.template_version or seen.template_version,
            created_at=min(filter(None, (self.created_at, seen.at)), default=""),
            updated_at=max(self.updated_at, seen.at),
        )

    def changes_since(self, before: EmailStatus | None) -> list[StatusChange]:
        """What `before` -> self changed, one entry per recipient, message-level status or
        first engagement: what the callbacks publish."""
        old = before if before is not None else EmailStatus(ses_message_id=self.ses_message_id)
        found = [
            StatusChange(
                status=new.status.value,
                recipient=rid,
                masked=new.masked,
                detail=new.detail,
                at=new.at,
            )
            for rid, new in sorted(self.recipients.items())
            if (prior := old.recipients.get(rid)) is None
            or (prior.status, prior.detail) != (new.status, new.detail)
        ]
        if self.message_status is not None and (self.message_status, self.message_detail) != (
            old.message_status,
            old.message_detail,
        ):
            found.append(
                StatusChange(
                    status=self.message_status.value, detail=self.message_detail, at=self.updated_at
                )
            )
        found += [
            StatusChange(status=kind.value, at=at)
            for kind, at in sorted(self.engagement.items(), key=lambda item: item[0].value)
            if kind not in old.engagement
        ]
        return found


@attrs.frozen(kw_only=True)
class StatusChange:
    """One change of a record: a recipient's new status, the message's, or an engagement."""

    status: str  # a Status or an Engagement value
    recipient: str = ""  # recipient_id; "" for the message as a whole
    masked: str = ""
    detail: str = ""
    at: str = ""

    def change_id(self, ses_message_id: str, idempotency_key: str) -> str:
        """The same for a change published twice (callbacks are at least once): consumers
        deduplicate on it."""
        text = "\x1f".join(
            (ses_message_id or idempotency_key, self.recipient, self.status, self.detail)
        )
        return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:32]
