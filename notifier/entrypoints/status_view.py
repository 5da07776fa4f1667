"""A status record as producers read it (`python -m notifier status`, and the HTTP API):
JSON, recipients by the SHA-256 of their address and a masked form, never in full."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from notifier.domain.idempotency import producer_key
from notifier.domain.status import EmailStatus


def status_document(record: EmailStatus) -> dict[str, Any]:
    """The record as a JSON object (README "Statuses")."""
    return {
        "ses_message_id": record.ses_message_id or None,
        "status": record.status.value,
        "detail": record.message_detail or None,
        "idempotency_key": producer_key(record.idempotency_key) if record.idempotency_key else None,
        "sender": record.sender or None,
        "tenant": record.tenant or None,
        "template_version": record.template_version or None,
        "recipients": [
            {
                "id": rid,
                "masked": recipient.masked,
                "status": recipient.status.value,
                "detail": recipient.detail or None,
                "at": recipient.at or None,
            }
            for rid, recipient in sorted(record.recipients.items(), key=lambda r: r[1].masked)
        ],
        "engagement": {
            kind.value: at
            for kind, at in sorted(record.engagement.items(), key=lambda item: item[0].value)
        },
        "created_at": record.created_at or None,
        "updated_at": record.updated_at or None,
        "expires_at": datetime.fromtimestamp(record.expires_at, UTC).isoformat(timespec="seconds"),
    }
