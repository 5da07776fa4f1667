"""`LimitStore` on DynamoDB: `LIMIT#<producer>` items, each a producer's token bucket, written
with one conditional put on its version."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from notifier.adapters.outbound.dynamodb import state_table
from notifier.domain.state import BucketState

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_dynamodb.type_defs import AttributeValueTypeDef

# A bucket untouched this long is full again and counts a past day: deleting it (the TTL
# sweep) changes nothing. Two days, so that the day's count always outlives the day.
BUCKET_TTL_SECONDS = 2 * 86_400


class DynamoDbLimitStore:
    """`LimitStore` port: `LIMIT#<producer>` items (tokens, at, day, day_count, version)."""

    def __init__(self, client: DynamoDBClient, table: str) -> None:
        self._client = client
        self._table = table

    def read(self, producer: str) -> BucketState | None:
        with state_table.translated(self._table, "GetItem"):
            item = state_table.get_item(
                self._client, self._table, state_table.key(state_table.LIMIT_PREFIX, producer)
            )
        return None if item is None else _bucket(item)

    def write(self, producer: str, state: BucketState) -> bool:
        item: dict[str, AttributeValueTypeDef] = {
            **state_table.key(state_table.LIMIT_PREFIX, producer),
            "tokens": {"N": state_table.number(state.tokens)},
            "at": {"N": state_table.number(state.at)},
            "day": {"S": state.day},
            "day_count": {"N": str(state.day_count)},
            "version": {"N": str(state.version)},
            "ttl": {"N": state_table.epoch_seconds(state.at + BUCKET_TTL_SECONDS)},
        }
        return state_table.put_versioned(self._client, self._table, item, version=state.version)


def _bucket(item: Mapping[str, Any]) -> BucketState:
    try:
        return BucketState(
            tokens=float(item["tokens"]["N"]),
            at=float(item["at"]["N"]),
            day=item["day"]["S"],
            day_count=int(item["day_count"]["N"]),
            version=int(item["version"]["N"]),
        )
    except (KeyError, ValueError) as exc:
        raise state_table.malformed("limit bucket", exc) from exc
