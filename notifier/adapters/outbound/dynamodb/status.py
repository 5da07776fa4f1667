"""`StatusStore` on DynamoDB: `STATUS#<ses message id>` items holding the record as JSON,
written with a version check, and `STATUSKEY#<idempotency key>` items pointing at them (or,
for a message refused before SES, holding the record itself). Both expire with the record
(`ttl`); expiry is also checked in code, so a record past it reads as unknown."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

import attrs

from notifier.adapters.outbound.dynamodb import state_table
from notifier.domain.status import EmailStatus, Engagement, RecipientStatus, Status

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_dynamodb.type_defs import AttributeValueTypeDef


class DynamoDbStatusStore:
    """`StatusStore` port on the state table."""

    def __init__(
        self, client: DynamoDBClient, table: str, *, clock: Callable[[], float] = time.time
    ) -> None:
        self._client = client
        self._table = table
        self._clock = clock

    def read(self, ses_message_id: str) -> EmailStatus | None:
        with state_table.translated(self._table, "GetItem"):
            item = state_table.get_item(
                self._client,
                self._table,
                state_table.key(state_table.STATUS_PREFIX, ses_message_id),
            )
        return self._live(item)

    def write(self, record: EmailStatus) -> bool:
        item: dict[str, AttributeValueTypeDef] = {
            **state_table.key(state_table.STATUS_PREFIX, record.ses_message_id),
            "record": {"S": to_json(record)},
            "version": {"N": str(record.version)},
            "ttl": {"N": state_table.epoch_seconds(record.expires_at)},
        }
        # Version 1 goes over nothing, or over a record past its expiry that the TTL sweep
        # (days late) has not deleted yet: `read` says it is gone, so a late event starts anew.
        return state_table.put_versioned(
            self._client,
            self._table,
            item,
            version=record.version,
            first={
                "ConditionExpression": f"attribute_not_exists({state_table.KEY}) OR #ttl <= :now",
                "ExpressionAttributeNames": {"#ttl": state_table.TTL_ATTRIBUTE},
                "ExpressionAttributeValues": {":now": {"N": state_table.number(self._clock())}},
            },
        )

    def link(self, idempotency_key: str, ses_message_id: str, *, expires_at: float) -> None:
        self._put_key(idempotency_key, {"ses_message_id": {"S": ses_message_id}}, expires_at)

    def keep_refused(self, record: EmailStatus) -> None:
        self._put_key(record.idempotency_key, {"record": {"S": to_json(record)}}, record.expires_at)

    def find(self, idempotency_key: str) -> EmailStatus | None:
        with state_table.translated(self._table, "GetItem"):
            item = state_table.get_item(
                self._client,
                self._table,
                state_table.key(state_table.STATUS_KEY_PREFIX, idempotency_key),
            )
        if item is None or self._expired(item):
            return None
        if "ses_message_id" in item:
            return self.read(item["ses_message_id"]["S"])
        return self._live(item)

    def _put_key(
        self, idempotency_key: str, value: dict[str, AttributeValueTypeDef], expires_at: float
    ) -> None:
        with state_table.translated(self._table, "PutItem"):
            self._client.put_item(
                TableName=self._table,
                Item={
                    **state_table.key(state_table.STATUS_KEY_PREFIX, idempotency_key),
                    **value,
                    "ttl": {"N": state_table.epoch_seconds(expires_at)},
                },
            )

    def _expired(self, item: Mapping[str, Any]) -> bool:
        return float(item.get("ttl", {}).get("N", "inf")) <= self._clock()

    def _live(self, item: Mapping[str, Any] | None) -> EmailStatus | None:
        if item is None or self._expired(item):
            return None
        try:
            record = from_json(item["record"]["S"])
            return attrs.evolve(record, version=int(item.get("version", {}).get("N", "1")))
        except (KeyError, ValueError, TypeError) as exc:
            raise state_table.malformed("status record", exc) from exc


def to_json(record: EmailStatus) -> str:
    """The record as stored: JSON, keys sorted (the version is an attribute of its own)."""
    return json.dumps(
        {
            "ses_message_id": record.ses_message_id,
            "recipients": {
                rid: {"masked": r.masked, "status": r.status.value, "at": r.at, "detail": r.detail}
                for rid, r in record.recipients.items()
            },
            "message_status": record.message_status.value if record.message_status else None,
            "message_detail": record.message_detail,
            "engagement": {kind.value: at for kind, at in record.engagement.items()},
            "idempotency_key": record.idempotency_key,
            "sender": record.sender,
            "tenant": record.tenant,
            "template_version": record.template_version,
            "created_at": record.created_at,
            "updated_at": record.updated_at,
            "expires_at": record.expires_at,
        },
        sort_keys=True,
        separators=(",", ":"),
    )


def from_json(text: str) -> EmailStatus:
    """The record `to_json` wrote (version 0: the caller sets it)."""
    data = json.loads(text)
    return EmailStatus(
        ses_message_id=data["ses_message_id"],
        recipients={
            rid: RecipientStatus(
                masked=r["masked"], status=Status(r["status"]), at=r["at"], detail=r["detail"]
            )
            for rid, r in data["recipients"].items()
        },
        message_status=Status(data["message_status"]) if data["message_status"] else None,
        message_detail=data["message_detail"],
        engagement={Engagement(kind): at for kind, at in data["engagement"].items()},
        idempotency_key=data["idempotency_key"],
        sender=data["sender"],
        tenant=data["tenant"],
        template_version=data.get("template_version", ""),  # absent from older records
        created_at=data["created_at"],
        updated_at=data["updated_at"],
        expires_at=float(data["expires_at"]),
    )
