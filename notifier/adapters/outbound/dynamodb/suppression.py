"""`SuppressionList` on DynamoDB: `SUPPRESSION#<address>` and `BOUNCES#<address>` items."""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Collection, Mapping
from typing import TYPE_CHECKING, Any

from notifier.adapters.outbound.dynamodb import state_table
from notifier.domain.errors import DependencyUnavailable
from notifier.domain.state import Suppression, SuppressionReason

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_dynamodb.type_defs import AttributeValueTypeDef


_BATCH_GET_LIMIT = 100  # keys per BatchGetItem, DynamoDB's maximum
_MAX_BOUNCE_TIMES = 1000  # far above any limit (settings allow 100); keeps the item small


class DynamoDbSuppressionList:
    """`SuppressionList` port: `SUPPRESSION#<address>` and `BOUNCES#<address>` items."""

    def __init__(
        self,
        client: DynamoDBClient,
        table: str,
        *,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._client = client
        self._table = table
        self._sleep = sleep

    def suppressed(self, addresses: Collection[str]) -> set[str]:
        given: dict[str, set[str]] = {}
        for address in addresses:
            given.setdefault(address.lower(), set()).add(address)
        keys = sorted(given)
        found: set[str] = set()
        for start in range(0, len(keys), _BATCH_GET_LIMIT):
            found |= self._existing(keys[start : start + _BATCH_GET_LIMIT])
        return {address for lower in found for address in given[lower]}

    def add(self, entry: Suppression) -> bool:
        item: dict[str, AttributeValueTypeDef] = {
            **state_table.key(state_table.SUPPRESSION_PREFIX, entry.address.lower()),
            "reason": {"S": entry.reason.value},
        }
        for name in ("feedback_type", "feedback_sub_type", "feedback_id", "timestamp"):
            value = getattr(entry, name)
            if value:
                item[name] = {"S": value}
        with state_table.translated(self._table, "PutItem"):
            self._client.put_item(TableName=self._table, Item=item)
        return True

    def remove(self, address: str) -> bool:
        lower = address.lower()
        with state_table.translated(self._table, "DeleteItem"):
            old = self._client.delete_item(
                TableName=self._table,
                Key=state_table.key(state_table.SUPPRESSION_PREFIX, lower),
                ReturnValues="ALL_OLD",
            ).get("Attributes")
            self._client.delete_item(
                TableName=self._table, Key=state_table.key(state_table.BOUNCES_PREFIX, lower)
            )
        return bool(old)

    def entries(self) -> list[Suppression]:
        pages = self._client.get_paginator("scan").paginate(
            TableName=self._table,
            FilterExpression=f"begins_with({state_table.KEY}, :prefix)",
            ExpressionAttributeValues={":prefix": {"S": state_table.SUPPRESSION_PREFIX}},
            ConsistentRead=True,
        )
        with state_table.translated(self._table, "Scan"):
            found = [_suppression(item) for page in pages for item in page.get("Items", [])]
        return sorted(found, key=lambda entry: entry.address)

    def count_transient_bounce(
        self, address: str, *, bounce_id: str, at: float, window_seconds: float
    ) -> int:
        # Read-modify-write guarded by a version number, so concurrent bounces for one address
        # (several notifications in one batch, or two invocations) are all counted exactly;
        # `ids` (beside `at`, in the same order) makes a redelivered bounce count once.
        item_key = state_table.key(state_table.BOUNCES_PREFIX, address.lower())
        for attempt in range(state_table.ATTEMPTS):
            with state_table.translated(self._table, "GetItem"):
                current = state_table.get_item(self._client, self._table, item_key)
            times = [float(value["N"]) for value in (current or {}).get("at", {}).get("L", [])]
            ids = [value["S"] for value in (current or {}).get("ids", {}).get("L", [])]
            ids = [""] * (len(times) - len(ids)) + ids  # items written before ids were kept
            if bounce_id in ids:
                return sum(1 for t in times if t >= at - window_seconds)
            kept = sorted(
                (t, i)
                for t, i in [*zip(times, ids, strict=True), (at, bounce_id)]
                if t >= at - window_seconds
            )[-_MAX_BOUNCE_TIMES:]
            version = int((current or {}).get("version", {}).get("N", "0"))
            item: dict[str, AttributeValueTypeDef] = {
                **item_key,
                "at": {"L": [{"N": state_table.number(t)} for t, _ in kept]},
                "ids": {"L": [{"S": i} for _, i in kept]},
                "version": {"N": str(version + 1)},
                # Gone once the newest bounce has left the window; nothing counts it after that.
                "ttl": {"N": state_table.epoch_seconds(kept[-1][0] + window_seconds)},
            }
            with state_table.translated(self._table, "PutItem"):
                try:
                    if current is None:
                        self._client.put_item(
                            TableName=self._table,
                            Item=item,
                            ConditionExpression=f"attribute_not_exists({state_table.KEY})",
                        )
                    else:
                        self._client.put_item(
                            TableName=self._table,
                            Item=item,
                            ConditionExpression="#version = :version",
                            ExpressionAttributeNames={"#version": "version"},
                            ExpressionAttributeValues={":version": {"N": str(version)}},
                        )
                    return len(kept)
                except self._client.exceptions.ConditionalCheckFailedException:
                    pass  # another writer got there first: read again
            self._sleep(random.uniform(0, state_table.BACKOFF_SECONDS * 2**attempt))  # noqa: S311 - jitter
        raise DependencyUnavailable("too many concurrent updates of one transient-bounce count")

    def _existing(self, addresses: list[str]) -> set[str]:
        """Which of these (at most 100, lower-case) addresses have a suppression item."""
        request: Any = {
            self._table: {
                "Keys": [
                    state_table.key(state_table.SUPPRESSION_PREFIX, address)
                    for address in addresses
                ],
                "ProjectionExpression": state_table.KEY,
                "ConsistentRead": True,  # an address suppressed a moment ago is not mailed again
            }
        }
        found: set[str] = set()
        for attempt in range(state_table.ATTEMPTS):
            with state_table.translated(self._table, "BatchGetItem"):
                response = self._client.batch_get_item(RequestItems=request)
            for item in response.get("Responses", {}).get(self._table, []):
                found.add(item[state_table.KEY]["S"].removeprefix(state_table.SUPPRESSION_PREFIX))
            request = response.get("UnprocessedKeys") or {}
            if not request.get(self._table, {}).get("Keys"):
                return found
            # DynamoDB returns unprocessed keys, not an error, when it throttles part of a batch.
            self._sleep(random.uniform(0, state_table.BACKOFF_SECONDS * 2**attempt))  # noqa: S311 - jitter
        raise DependencyUnavailable("DynamoDB kept part of a suppression lookup unprocessed")


def _suppression(item: Mapping[str, Any]) -> Suppression:
    try:
        return Suppression(
            address=item[state_table.KEY]["S"].removeprefix(state_table.SUPPRESSION_PREFIX),
            reason=SuppressionReason(item["reason"]["S"]),
            **{
                name: item[name]["S"]
                for name in ("feedback_type", "feedback_sub_type", "feedback_id", "timestamp")
                if name in item
            },
        )
    except (KeyError, ValueError) as exc:
        raise state_table.malformed("suppression entry", exc) from exc
