"""The state table's schema, defined once (the adapters, `provision` and the template tests
read it here), and the helpers every state adapter shares."""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterator, Mapping
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import structlog
from botocore.exceptions import BotoCoreError, ClientError

from notifier.adapters.outbound.aws import error_code
from notifier.domain.errors import DependencyUnavailable
from notifier.domain.privacy import redact

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_dynamodb.type_defs import (
        AttributeDefinitionTypeDef,
        AttributeValueTypeDef,
        KeySchemaElementTypeDef,
    )

    Item = Mapping[str, AttributeValueTypeDef]

log = structlog.get_logger(__name__)

KEY = "pk"  # the partition key (S); there is no sort key
TTL_ATTRIBUTE = "ttl"  # whole epoch seconds; DynamoDB's TTL sweep deletes dead items
KEY_SCHEMA: tuple[KeySchemaElementTypeDef, ...] = ({"AttributeName": KEY, "KeyType": "HASH"},)
ATTRIBUTE_DEFINITIONS: tuple[AttributeDefinitionTypeDef, ...] = (
    {"AttributeName": KEY, "AttributeType": "S"},
)

IDEMPOTENCY_PREFIX = "IDEMPOTENCY#"
SUPPRESSION_PREFIX = "SUPPRESSION#"
BOUNCES_PREFIX = "BOUNCES#"
STATUS_PREFIX = "STATUS#"  # by SES message id
STATUS_KEY_PREFIX = "STATUSKEY#"  # by sender-scoped idempotency key
LIMIT_PREFIX = "LIMIT#"  # a producer's token bucket, by producer (tenant or domain)

ATTEMPTS = 5  # for unprocessed batch keys, claims that keep changing and version conflicts
BACKOFF_SECONDS = 0.05
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


def key(prefix: str, name: str) -> Item:
    """The primary key of the item `prefix + name`."""
    return {KEY: {"S": prefix + name}}


def get_item(
    client: DynamoDBClient, table: str, item_key: Item
) -> dict[str, AttributeValueTypeDef] | None:
    """The item, read consistently, or None."""
    return client.get_item(TableName=table, Key=item_key, ConsistentRead=True).get("Item")


def malformed(what: str, exc: Exception) -> DependencyUnavailable:
    """Log an item the adapters cannot read, and fail the message as transient."""
    log.error("dynamodb.malformed_item", item=what, error=f"{type(exc).__name__}: {exc}")
    return DependencyUnavailable(f"a {what} in the state table is malformed")


@contextlib.contextmanager
def translated(table: str, operation: str) -> Iterator[None]:
    """Turn botocore failures into `DependencyUnavailable`, logging those retries cannot fix."""
    try:
        yield
    except ClientError as exc:
        code = error_code(exc)
        message = redact(str(exc.response.get("Error", {}).get("Message", "")))
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
        if code not in _TRANSIENT_CODES and status < 500:
            log.error("dynamodb.error", table=table, operation=operation, code=code, error=message)
        raise DependencyUnavailable(f"DynamoDB {operation} failed ({code}): {message}") from exc
    except BotoCoreError as exc:
        raise DependencyUnavailable(f"DynamoDB {operation} failed: {type(exc).__name__}") from exc


def put_versioned(
    client: DynamoDBClient,
    table: str,
    item: Mapping[str, AttributeValueTypeDef],
    *,
    version: int,
    first: Mapping[str, Any] | None = None,
) -> bool:
    """Write `item` (whose `version` attribute is `version`) only over version - 1, or, for
    version 1, only where `first` allows (by default: over nothing). False when another
    writer got there first."""
    condition: Mapping[str, Any]
    if version == 1:
        condition = first or {"ConditionExpression": f"attribute_not_exists({KEY})"}
    else:
        condition = {
            "ConditionExpression": "#version = :previous",
            "ExpressionAttributeNames": {"#version": "version"},
            "ExpressionAttributeValues": {":previous": {"N": str(version - 1)}},
        }
    with translated(table, "PutItem"):
        try:
            client.put_item(TableName=table, Item=item, **condition)
        except client.exceptions.ConditionalCheckFailedException:
            return False
    return True


def number(value: float) -> str:
    """A DynamoDB number for an epoch time, in plain notation (no exponent)."""
    return f"{Decimal(repr(float(value))):f}"


def epoch_seconds(value: float) -> str:
    """Whole epoch seconds, as DynamoDB TTL wants them; rounded up so nothing goes early."""
    return str(math.ceil(value))
