"""The `LimitStore` contract: read a producer's bucket, write it only over the version read.

Each test runs on `FakeLimitStore` and on `DynamoDbLimitStore` over a fresh table of moto's
server (marked `integration`), as the other state ports do (see conftest.py); the limiter's
unit tests trust the fake to behave as DynamoDB.
"""

from __future__ import annotations

import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING

import attrs
import pytest

from notifier.adapters.outbound.dynamodb import DynamoDbLimitStore, state_table
from notifier.domain.ports import LimitStore
from notifier.domain.state import BucketState
from tests.contract.conftest import START
from tests.fakes import FakeLimitStore

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient


@pytest.fixture(params=["fake", pytest.param("dynamodb", marks=pytest.mark.integration)])
def limits(request: pytest.FixtureRequest) -> LimitStore:
    """An empty `LimitStore` of each implementation."""
    if request.param == "fake":
        return FakeLimitStore()
    client: DynamoDBClient = request.getfixturevalue("dynamodb")
    table = f"contract-{uuid.uuid4().hex[:12]}"
    client.create_table(
        TableName=table,
        BillingMode="PAY_PER_REQUEST",
        KeySchema=list(state_table.KEY_SCHEMA),
        AttributeDefinitions=list(state_table.ATTRIBUTE_DEFINITIONS),
    )
    return DynamoDbLimitStore(client, table)


def bucket(version: int, **changes: object) -> BucketState:
    """A bucket in debt, at a fractional time: every float must survive the round trip."""
    state = BucketState(
        tokens=-3.7000000000000006, at=START, day="2025-11-28", day_count=1234, version=version
    )
    return attrs.evolve(state, **changes)


def test_a_producer_never_written_has_no_bucket(limits: LimitStore) -> None:
    """GIVEN an empty store WHEN a producer's bucket is read THEN there is none."""
    assert limits.read("billing") is None


def test_the_first_write_creates_the_bucket_exactly(limits: LimitStore) -> None:
    """GIVEN no bucket WHEN version 1 is written THEN it reads back field for field, floats
    included."""
    assert limits.write("billing", bucket(1)) is True

    assert limits.read("billing") == bucket(1)


def test_a_first_write_over_an_existing_bucket_loses(limits: LimitStore) -> None:
    """GIVEN a bucket at version 1 WHEN another writer also writes version 1 (it read nothing
    too) THEN it loses and the first bucket stays."""
    limits.write("billing", bucket(1))

    assert limits.write("billing", bucket(1, tokens=9.0)) is False
    assert limits.read("billing") == bucket(1)


def test_each_write_goes_over_the_version_just_before(limits: LimitStore) -> None:
    """GIVEN a bucket at version 1 WHEN versions 2 then 3 are written THEN both are kept;
    a write of 3 again, or of 5 (it skipped one), loses."""
    limits.write("billing", bucket(1))

    assert limits.write("billing", bucket(2, tokens=0.5, day_count=1240)) is True
    assert limits.write("billing", bucket(3, tokens=-0.25, at=START + 0.125)) is True
    assert limits.write("billing", bucket(3, tokens=10.0)) is False
    assert limits.write("billing", bucket(5)) is False
    assert limits.read("billing") == bucket(3, tokens=-0.25, at=START + 0.125)


def test_a_later_version_over_no_bucket_loses(limits: LimitStore) -> None:
    """GIVEN no bucket (never written, or swept away) WHEN version 4 is written THEN it loses:
    the writer read something that is gone, so it must read again."""
    assert limits.write("billing", bucket(4)) is False
    assert limits.read("billing") is None


def test_producers_do_not_share_buckets(limits: LimitStore) -> None:
    """GIVEN two producers WHEN each writes THEN each reads its own bucket."""
    limits.write("billing", bucket(1))
    limits.write("news.example.com", bucket(1, day="2025-11-29", day_count=7))

    assert limits.read("billing") == bucket(1)
    assert limits.read("news.example.com") == bucket(1, day="2025-11-29", day_count=7)


def test_of_concurrent_writers_of_one_version_exactly_one_wins(limits: LimitStore) -> None:
    """GIVEN a bucket at version 1 WHEN 8 writers write version 2 at the same moment THEN
    exactly one write is kept (the others must read again)."""
    limits.write("billing", bucket(1))
    start = threading.Barrier(8)

    def write(count: int) -> bool:
        start.wait()
        return limits.write("billing", bucket(2, day_count=count))

    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(write, range(8)))

    assert results.count(True) == 1
    stored = limits.read("billing")
    assert stored is not None
    assert stored.version == 2
    assert results[stored.day_count] is True
