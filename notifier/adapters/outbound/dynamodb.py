"""State on DynamoDB: idempotency records, the suppression list and transient-bounce counts.

One table (NOTIFIER_STATE_TABLE), partition key `pk` (S) and no sort key; items are told apart
by the prefix of `pk`:

| pk                      | other attributes                                                |
| ----------------------- | --------------------------------------------------------------- |
| `IDEMPOTENCY#<key>`     | status, payload_hash, expires_at (N), ses_message_id, ttl (N)   |
| `SUPPRESSION#<address>` | reason, feedback_type, feedback_sub_type, feedback_id, timestamp |
| `BOUNCES#<address>`     | at (L of N: transient bounce times), version (N), ttl (N)       |

Addresses in keys are lower-case. `ttl` (whole epoch seconds) only lets DynamoDB's TTL sweep
delete dead items, which can take up to 48 hours; every decision about expiry is made here, in
code, from `expires_at` or `at`. Empty suppression attributes are not written.

Every botocore failure becomes `DependencyUnavailable` (transient): the message is retried, never
dropped. Throttling, 5xx and connection errors have already been through botocore's standard
retries (bootstrap builds the client with them). Anything else (a missing table, access denied,
a validation error) will not heal by itself, so it is also logged at error level with its code:
the messages wait in the queue, then in the dead-letter queue, until an operator fixes it.
"""

from __future__ import annotations

import contextlib
import math
import random
import time
from collections.abc import Callable, Collection, Iterator, Mapping
from decimal import Decimal
from typing import TYPE_CHECKING, Any, cast

import structlog
from botocore.exceptions import BotoCoreError, ClientError

from notifier.domain.errors import DependencyUnavailable
from notifier.domain.privacy import redact
from notifier.domain.state import (
    IdempotencyRecord,
    RecordStatus,
    Suppression,
    SuppressionReason,
)

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_dynamodb.type_defs import AttributeValueTypeDef

    Item = Mapping[str, AttributeValueTypeDef]

log = structlog.get_logger(__name__)

IDEMPOTENCY_PREFIX = "IDEMPOTENCY#"
SUPPRESSION_PREFIX = "SUPPRESSION#"
BOUNCES_PREFIX = "BOUNCES#"

_BATCH_GET_LIMIT = 100  # keys per BatchGetItem, DynamoDB's maximum
_ATTEMPTS = 5  # for unprocessed batch keys and for version conflicts on bounce counts
_BACKOFF_SECONDS = 0.05
_MAX_BOUNCE_TIMES = 1000  # far above any limit (settings allow 100); keeps the item small
_TRANSIENT_CODES = frozenset(
    {
        "ProvisionedThroughputExceededException",
        "ThrottlingException",
        "RequestLimitExceeded",
        "InternalServerError",
        "ServiceUnavailable",
        "TransactionConflictException",
    }
)
_CONDITION_FAILED = "ConditionalCheckFailedException"


class DynamoDbIdempotencyStore:
    """`IdempotencyStore` port: `IDEMPOTENCY#<key>` items, claimed with one conditional put."""

    def __init__(self, client: DynamoDBClient, table: str) -> None:
        self._client = client
        self._table = table

    def claim(self, record: IdempotencyRecord, *, now: float) -> IdempotencyRecord | None:
        key: Item = {"pk": {"S": IDEMPOTENCY_PREFIX + record.key}}
        item: dict[str, AttributeValueTypeDef] = {
            **key,
            "status": {"S": record.status.value},
            "payload_hash": {"S": record.payload_hash},
            "expires_at": {"N": _number(record.expires_at)},
            "ttl": {"N": _epoch_seconds(record.expires_at)},
        }
        if record.ses_message_id is not None:
            item["ses_message_id"] = {"S": record.ses_message_id}
        for _ in range(_ATTEMPTS):
            held: Mapping[str, Any] | None = None
            with _translated(self._table, "PutItem"):
                try:
                    self._client.put_item(
                        TableName=self._table,
                        Item=item,
                        ConditionExpression="attribute_not_exists(pk) OR #expires_at <= :now",
                        ExpressionAttributeNames={"#expires_at": "expires_at"},
                        ExpressionAttributeValues={":now": {"N": _number(now)}},
                        ReturnValuesOnConditionCheckFailure="ALL_OLD",
                    )
                    return None
                except self._client.exceptions.ConditionalCheckFailedException as exc:
                    # DynamoDB (and moto) return the blocking item; read it only if absent.
                    held = cast("Mapping[str, Any]", exc.response).get("Item")
                    if held is None:
                        held = _get(self._client, self._table, key)
            if held is not None:
                return _idempotency_record(record.key, held)
            # The holder released the key between our put and our read: claim again.
        raise DependencyUnavailable("the idempotency record kept changing during the claim")

    def complete(self, key: str, *, ses_message_id: str, expires_at: float) -> None:
        # Unconditional: SES has accepted the message, so the record must say so whatever
        # happened to it meanwhile (even a takeover by another invocation).
        with _translated(self._table, "UpdateItem"):
            self._client.update_item(
                TableName=self._table,
                Key={"pk": {"S": IDEMPOTENCY_PREFIX + key}},
                UpdateExpression=(
                    "SET #status = :status, #ses_message_id = :ses_message_id,"
                    " #expires_at = :expires_at, #ttl = :ttl"
                ),
                ExpressionAttributeNames={
                    "#status": "status",
                    "#ses_message_id": "ses_message_id",
                    "#expires_at": "expires_at",
                    "#ttl": "ttl",
                },
                ExpressionAttributeValues={
                    ":status": {"S": RecordStatus.COMPLETED.value},
                    ":ses_message_id": {"S": ses_message_id},
                    ":expires_at": {"N": _number(expires_at)},
                    ":ttl": {"N": _epoch_seconds(expires_at)},
                },
            )

    def release(self, key: str) -> None:
        with _translated(self._table, "DeleteItem"):
            self._client.delete_item(
                TableName=self._table, Key={"pk": {"S": IDEMPOTENCY_PREFIX + key}}
            )


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

    def add(self, entry: Suppression) -> None:
        item: dict[str, AttributeValueTypeDef] = {
            "pk": {"S": SUPPRESSION_PREFIX + entry.address.lower()},
            "reason": {"S": entry.reason.value},
        }
        for name in ("feedback_type", "feedback_sub_type", "feedback_id", "timestamp"):
            value = getattr(entry, name)
            if value:
                item[name] = {"S": value}
        with _translated(self._table, "PutItem"):
            self._client.put_item(TableName=self._table, Item=item)

    def remove(self, address: str) -> bool:
        lower = address.lower()
        with _translated(self._table, "DeleteItem"):
            old = self._client.delete_item(
                TableName=self._table,
                Key={"pk": {"S": SUPPRESSION_PREFIX + lower}},
                ReturnValues="ALL_OLD",
            ).get("Attributes")
            self._client.delete_item(
                TableName=self._table, Key={"pk": {"S": BOUNCES_PREFIX + lower}}
            )
        return bool(old)

    def entries(self) -> list[Suppression]:
        pages = self._client.get_paginator("scan").paginate(
            TableName=self._table,
            FilterExpression="begins_with(pk, :prefix)",
            ExpressionAttributeValues={":prefix": {"S": SUPPRESSION_PREFIX}},
            ConsistentRead=True,
        )
        with _translated(self._table, "Scan"):
            found = [_suppression(item) for page in pages for item in page.get("Items", [])]
        return sorted(found, key=lambda entry: entry.address)

    def count_transient_bounce(self, address: str, *, at: float, window_seconds: float) -> int:
        # Read-modify-write guarded by a version number, so concurrent bounces for one address
        # (several notifications in one batch, or two invocations) are all counted exactly.
        key: Item = {"pk": {"S": BOUNCES_PREFIX + address.lower()}}
        for attempt in range(_ATTEMPTS):
            with _translated(self._table, "GetItem"):
                current = _get(self._client, self._table, key)
            times = [float(value["N"]) for value in (current or {}).get("at", {}).get("L", [])]
            kept = sorted(t for t in [*times, at] if t >= at - window_seconds)
            kept = kept[-_MAX_BOUNCE_TIMES:]
            version = int((current or {}).get("version", {}).get("N", "0"))
            item: dict[str, AttributeValueTypeDef] = {
                **key,
                "at": {"L": [{"N": _number(t)} for t in kept]},
                "version": {"N": str(version + 1)},
                # Gone once the newest bounce has left the window; nothing counts it after that.
                "ttl": {"N": _epoch_seconds(max(kept) + window_seconds)},
            }
            with _translated(self._table, "PutItem"):
                try:
                    if current is None:
                        self._client.put_item(
                            TableName=self._table,
                            Item=item,
                            ConditionExpression="attribute_not_exists(pk)",
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
            self._sleep(random.uniform(0, _BACKOFF_SECONDS * 2**attempt))  # noqa: S311 - jitter
        raise DependencyUnavailable("too many concurrent updates of one transient-bounce count")

    def _existing(self, addresses: list[str]) -> set[str]:
        """Which of these (at most 100, lower-case) addresses have a suppression item."""
        request: Any = {
            self._table: {
                "Keys": [{"pk": {"S": SUPPRESSION_PREFIX + address}} for address in addresses],
                "ProjectionExpression": "pk",
                "ConsistentRead": True,  # an address suppressed a moment ago is not mailed again
            }
        }
        found: set[str] = set()
        for attempt in range(_ATTEMPTS):
            with _translated(self._table, "BatchGetItem"):
                response = self._client.batch_get_item(RequestItems=request)
            for item in response.get("Responses", {}).get(self._table, []):
                found.add(item["pk"]["S"].removeprefix(SUPPRESSION_PREFIX))
            request = response.get("UnprocessedKeys") or {}
            if not request.get(self._table, {}).get("Keys"):
                return found
            # DynamoDB returns unprocessed keys, not an error, when it throttles part of a batch.
            self._sleep(random.uniform(0, _BACKOFF_SECONDS * 2**attempt))  # noqa: S311 - jitter
        raise DependencyUnavailable("DynamoDB kept part of a suppression lookup unprocessed")


def _get(client: DynamoDBClient, table: str, key: Item) -> dict[str, AttributeValueTypeDef] | None:
    return client.get_item(TableName=table, Key=key, ConsistentRead=True).get("Item")


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
        raise _malformed("idempotency record", exc) from exc


def _suppression(item: Mapping[str, Any]) -> Suppression:
    try:
        return Suppression(
            address=item["pk"]["S"].removeprefix(SUPPRESSION_PREFIX),
            reason=SuppressionReason(item["reason"]["S"]),
            **{
                name: item[name]["S"]
                for name in ("feedback_type", "feedback_sub_type", "feedback_id", "timestamp")
                if name in item
            },
        )
    except (KeyError, ValueError) as exc:
        raise _malformed("suppression entry", exc) from exc


def _malformed(what: str, exc: Exception) -> DependencyUnavailable:
    log.error("dynamodb.malformed_item", item=what, error=f"{type(exc).__name__}: {exc}")
    return DependencyUnavailable(f"a {what} in the state table is malformed")


@contextlib.contextmanager
def _translated(table: str, operation: str) -> Iterator[None]:
    """Turn botocore failures into `DependencyUnavailable`, logging those retries cannot fix."""
    try:
        yield
    except ClientError as exc:
        error = exc.response.get("Error", {})
        code = str(error.get("Code", "Unknown"))
        message = redact(str(error.get("Message", "")))
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
        if code not in _TRANSIENT_CODES and status < 500:
            log.error("dynamodb.error", table=table, operation=operation, code=code, error=message)
        raise DependencyUnavailable(f"DynamoDB {operation} failed ({code}): {message}") from exc
    except BotoCoreError as exc:
        raise DependencyUnavailable(f"DynamoDB {operation} failed: {type(exc).__name__}") from exc


def _number(value: float) -> str:
    """A DynamoDB number for an epoch time, in plain notation (no exponent)."""
    return f"{Decimal(repr(float(value))):f}"


def _epoch_seconds(value: float) -> str:
    """Whole epoch seconds, as DynamoDB TTL wants them; rounded up so nothing goes early."""
    return str(math.ceil(value))
