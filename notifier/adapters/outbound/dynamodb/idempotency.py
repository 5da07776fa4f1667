"""`IdempotencyStore` on DynamoDB: `IDEMPOTENCY#<key>` items, claimed with one conditional put."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, cast

from notifier.adapters.outbound.dynamodb import state_table
from notifier.domain.errors import DependencyUnavailable
from notifier.domain.state import IdempotencyRecord, RecordStatus

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_dynamodb.type_defs import AttributeValueTypeDef


class DynamoDbIdempotencyStore:
    """`IdempotencyStore` port: `IDEMPOTENCY#<key>` items, claimed with one conditional put."""

    def __init__(self, client: DynamoDBClient, table: str) -> None:
        self._client = client
        self._table = table

    def claim(self, record: IdempotencyRecord, *, now: float) -> IdempotencyRecord | None:
        item_key = state_table.key(state_table.IDEMPOTENCY_PREFIX, record.key)
        item: dict[str, AttributeValueTypeDef] = {
            **item_key,
            "status": {"S": record.status.value},
            "payload_hash": {"S": record.payload_hash},
            "expires_at": {"N": state_table.number(record.expires_at)},
            "ttl": {"N": state_table.epoch_seconds(record.expires_at)},
        }
        if record.ses_message_id is not None:
            item["ses_message_id"] = {"S": record.ses_message_id}
        for _ in range(state_table.ATTEMPTS):
            held: Mapping[str, Any] | None = None
            with state_table.translated(self._table, "PutItem"):
                try:
                    self._client.put_item(
                        TableName=self._table,
                        Item=item,
                        ConditionExpression=(
                            f"attribute_not_exists({state_table.KEY}) OR #expires_at <= :now"
                        ),
                        ExpressionAttributeNames={"#expires_at": "expires_at"},
                        ExpressionAttributeValues={":now": {"N": state_table.number(now)}},
                        ReturnValuesOnConditionCheckFailure="ALL_OLD",
                    )
                    return None
                except self._client.exceptions.ConditionalCheckFailedException as exc:
                    # DynamoDB (and moto) return the blocking item; read it only if absent.
                    held = cast("Mapping[str, Any]", exc.response).get("Item")
                    if held is None:
                        held = state_table.get_item(self._client, self._table, item_key)
            if held is not None:
                return _idempotency_record(record.key, held)
            # The holder released the key between our put and our read: claim again.
        raise DependencyUnavailable("the idempotency record kept changing during the claim")

    def complete(
        self, key: str, *, payload_hash: str, ses_message_id: str, expires_at: float
    ) -> None:
        # Unconditional: SES has accepted the message, so the record must say so whatever
        # happened to it meanwhile (even a takeover by another invocation), payload hash
        # included: a record written anew must still tell a duplicate from a conflict.
        with state_table.translated(self._table, "UpdateItem"):
            self._client.update_item(
                TableName=self._table,
                Key=state_table.key(state_table.IDEMPOTENCY_PREFIX, key),
                UpdateExpression=(
                    "SET #status = :status, #payload_hash = :payload_hash,"
                    " #ses_message_id = :ses_message_id, #expires_at = :expires_at, #ttl = :ttl"
                ),
                ExpressionAttributeNames={
                    "#status": "status",
                    "#payload_hash": "payload_hash",
                    "#ses_message_id": "ses_message_id",
                    "#expires_at": "expires_at",
                    "#ttl": "ttl",
                },
                ExpressionAttributeValues={
                    ":status": {"S": RecordStatus.COMPLETED.value},
                    ":payload_hash": {"S": payload_hash},
                    ":ses_message_id": {"S": ses_message_id},
                    ":expires_at": {"N": state_table.number(expires_at)},
                    ":ttl": {"N": state_table.epoch_seconds(expires_at)},
                },
            )

    def release(self, key: str) -> None:
        with state_table.translated(self._table, "DeleteItem"):
            self._client.delete_item(
                TableName=self._table, Key=state_table.key(state_table.IDEMPOTENCY_PREFIX, key)
            )


def _idempotency_record(key: str, item: Mapping[str, Any]) -> IdempotencyRecord:
    try:
        return IdempotencyRecord(
            key=key,
            status=RecordStatus(item["status"]["S"]),
            payload_hash=item.get("payload_hash", {}).get("S", ""),
            expires_at=float(item["expires_at"]["N"]),
            ses_message_id=item["ses_message_id"]["S"] if "ses_message_id" in item else None,
        )
    except (KeyError, ValueError) as exc:
        raise state_table.malformed("idempotency record", exc) from exc
