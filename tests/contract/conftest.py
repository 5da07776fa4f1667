"""The state ports' contract: one suite, run against the fakes and the DynamoDB adapters.

Every test takes `store` (an `IdempotencyStore`), `suppressions` (a `SuppressionList`) or
`statuses` (a `StatusStore`, reading the time on `clock`), or several, and runs twice:
`[fake]` with the fakes of tests/fakes.py, in memory, and `[dynamodb]` with the real adapters
on a fresh table of moto's server (marked `integration`). moto starts on the first
`[dynamodb]` test, once per session, so `-m "not integration"` runs the fake half without it.
The two halves must agree: the unit tests trust the fakes to behave as DynamoDB.
test_email_queue.py holds the `EmailQueue` port (the HTTP API's enqueue route) to the same
rule, on moto's SQS.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import TYPE_CHECKING

import attrs
import boto3
import pytest

from notifier.adapters.outbound.dynamodb import DynamoDbIdempotencyStore, DynamoDbSuppressionList
from notifier.adapters.outbound.dynamodb.status import DynamoDbStatusStore
from notifier.domain.ports import IdempotencyStore, StatusStore, SuppressionList
from tests.fakes import FakeIdempotencyStore, FakeStatusStore, FakeSuppressionList, ManualClock
from tests.support.moto import MotoServer, start_moto

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

REGION = "us-east-1"
START = 1_764_320_000.25  # epoch seconds with a fraction: rounding to whole seconds shows


@attrs.frozen
class State:
    """The state ports over one store, as bootstrap wires them (one table), and their clock."""

    idempotency: IdempotencyStore
    suppression: SuppressionList
    statuses: StatusStore
    clock: ManualClock


@pytest.fixture(scope="session")
def moto(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MotoServer]:
    """moto's server, once per session, for the `[dynamodb]` half (see DEVELOPERS.md)."""
    server = start_moto(workdir=tmp_path_factory.mktemp("moto"))
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def dynamodb(moto: MotoServer) -> DynamoDBClient:
    """A DynamoDB client on moto with test credentials, whatever the environment holds."""
    with pytest.MonkeyPatch.context() as env:
        env.delenv("AWS_PROFILE", raising=False)  # a developer's profile must not leak in
        session = boto3.session.Session(
            aws_access_key_id="test", aws_secret_access_key="test", region_name=REGION
        )
        return session.client("dynamodb", endpoint_url=moto.endpoint_url)


def _fresh_table(client: DynamoDBClient) -> str:
    """A state table with the production key schema, for one test alone."""
    name = f"contract-{uuid.uuid4().hex[:12]}"
    client.create_table(
        TableName=name,
        BillingMode="PAY_PER_REQUEST",
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
    )
    return name


@pytest.fixture(params=["fake", pytest.param("dynamodb", marks=pytest.mark.integration)])
def state(request: pytest.FixtureRequest) -> State:
    """The ports of one implementation, empty."""
    clock = ManualClock(START)
    if request.param == "fake":
        return State(
            idempotency=FakeIdempotencyStore(),
            suppression=FakeSuppressionList(),
            statuses=FakeStatusStore(clock=clock),
            clock=clock,
        )
    client: DynamoDBClient = request.getfixturevalue("dynamodb")
    table = _fresh_table(client)
    return State(
        idempotency=DynamoDbIdempotencyStore(client, table),
        suppression=DynamoDbSuppressionList(client, table),
        statuses=DynamoDbStatusStore(client, table, clock=clock),
        clock=clock,
    )


@pytest.fixture
def store(state: State) -> IdempotencyStore:
    return state.idempotency


@pytest.fixture
def suppressions(state: State) -> SuppressionList:
    return state.suppression


@pytest.fixture
def statuses(state: State) -> StatusStore:
    return state.statuses


@pytest.fixture
def clock(state: State) -> ManualClock:
    return state.clock
