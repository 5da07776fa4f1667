"""Per-producer limits across execution environments: two ProducerLimiters, each with its own
DynamoDB client and several threads, racing for one producer's bucket on moto's server.

The clock is fixed (no refill while they race) and sleeps are recorded, not slept, so the
only thing that can go wrong is the race itself: a grant that two environments both counted
on would show as more grants than the bucket held.
"""

from __future__ import annotations

import math
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING

import attrs
import boto3
import pytest

from notifier.adapters.outbound.dynamodb import DynamoDbLimitStore, state_table
from notifier.adapters.outbound.dynamodb.limits import BUCKET_TTL_SECONDS
from notifier.domain.errors import OverLimit
from notifier.domain.limiter import JITTER_SECONDS, ProducerLimiter
from notifier.domain.limits import parse_limits
from notifier.domain.state import BucketState
from tests.support.moto import MotoServer

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

pytestmark = pytest.mark.timeout(60)

NOW = 1_764_320_000.25  # 2025-11-28T09:53:20.25Z
ENVIRONMENTS = 2
THREADS = 8  # per environment: the function's send concurrency


def client(moto: MotoServer) -> DynamoDBClient:
    """A client of its own, as each execution environment builds one."""
    with pytest.MonkeyPatch.context() as env:
        env.delenv("AWS_PROFILE", raising=False)  # a developer's profile must not leak in
        session = boto3.session.Session(
            aws_access_key_id="test", aws_secret_access_key="test", region_name="us-east-1"
        )
        return session.client("dynamodb", endpoint_url=moto.endpoint_url)


@pytest.fixture
def table(moto: MotoServer) -> str:
    """A fresh state table with the production key schema."""
    name = f"limits-{uuid.uuid4().hex[:12]}"
    client(moto).create_table(
        TableName=name,
        BillingMode="PAY_PER_REQUEST",
        KeySchema=list(state_table.KEY_SCHEMA),
        AttributeDefinitions=list(state_table.ATTRIBUTE_DEFINITIONS),
    )
    return name


class CountingStore(DynamoDbLimitStore):
    """The adapter, counting the writes it lost to the other environment."""

    def __init__(self, dynamodb: DynamoDBClient, table: str) -> None:
        super().__init__(dynamodb, table)
        self.lost = 0

    def write(self, producer: str, state: BucketState) -> bool:
        kept = super().write(producer, state)
        self.lost += not kept  # one thread at a time: the limiter's per-producer lock
        return kept


@attrs.define
class Sleeps:
    """Records each sleep instead of sleeping; shared by the threads of one environment."""

    slept: list[float] = attrs.field(factory=list)
    _lock: threading.Lock = attrs.field(factory=threading.Lock)

    def __call__(self, seconds: float) -> None:
        with self._lock:
            self.slept.append(seconds)


@attrs.frozen
class Environment:
    limiter: ProducerLimiter
    store: CountingStore
    sleeps: Sleeps


@attrs.frozen
class Race:
    """What every request of every environment got: its wait, or the refusal."""

    waits: list[float]
    refusals: list[OverLimit]
    lost_writes: int
    slept: list[float]  # reservation waits and the jitter between lost races, sorted


def race(moto: MotoServer, table: str, limits: str, *, max_wait: float = 0.0) -> Race:
    """ENVIRONMENTS limiters, THREADS threads each, all asking at once for one recipient from
    billing's bucket."""
    environments = []
    for _ in range(ENVIRONMENTS):
        store, sleeps = CountingStore(client(moto), table), Sleeps()
        limiter = ProducerLimiter(store, parse_limits(limits), clock=lambda: NOW, sleep=sleeps)
        environments.append(Environment(limiter, store, sleeps))
    start = threading.Barrier(ENVIRONMENTS * THREADS)

    def request(environment: Environment) -> float | OverLimit:
        start.wait()
        try:
            return environment.limiter.acquire("billing", 1, max_wait=max_wait)
        except OverLimit as refusal:
            return refusal

    with ThreadPoolExecutor(max_workers=ENVIRONMENTS * THREADS) as pool:
        outcomes = list(pool.map(request, [e for e in environments for _ in range(THREADS)]))
    return Race(
        waits=sorted(o for o in outcomes if not isinstance(o, OverLimit)),
        refusals=[o for o in outcomes if isinstance(o, OverLimit)],
        lost_writes=sum(e.store.lost for e in environments),
        slept=sorted(s for e in environments for s in e.sleeps.slept),
    )


def stored(moto: MotoServer, table: str) -> BucketState:
    bucket = DynamoDbLimitStore(client(moto), table).read("billing")
    assert bucket is not None
    return bucket


def test_two_environments_racing_for_the_last_tokens_get_exactly_the_burst(
    moto: MotoServer, table: str
) -> None:
    """GIVEN billing at 10/s (a burst of 10) and a clock that does not move WHEN two
    environments ask for 1 recipient 8 times each, all at once THEN exactly 10 are granted
    and 6 refused for the rate; the bucket counts 10 in 10 writes."""
    result = race(moto, table, "billing=10/s")

    assert (len(result.waits), len(result.refusals)) == (10, 6)
    assert result.waits == [0.0] * 10
    assert {r.which for r in result.refusals} == {"rate"}
    bucket = stored(moto, table)
    assert (bucket.day_count, bucket.version) == (10, 10)
    assert bucket.tokens == pytest.approx(0.0)


def test_two_environments_racing_for_the_day_s_last_recipients_get_exactly_the_limit(
    moto: MotoServer, table: str
) -> None:
    """GIVEN billing at 5/d WHEN two environments ask for 1 recipient 8 times each, all at
    once THEN exactly 5 are granted and 11 refused until midnight (UTC)."""
    result = race(moto, table, "billing=5/d")

    assert (len(result.waits), len(result.refusals)) == (5, 11)
    assert {r.which for r in result.refusals} == {"daily"}
    midnight = 1_764_374_400.0  # 2025-11-29T00:00:00Z
    assert {r.retry_after for r in result.refusals} == {midnight - NOW}
    assert stored(moto, table).day_count == 5


def test_reservations_from_two_environments_never_share_a_slot(
    moto: MotoServer, table: str
) -> None:
    """GIVEN billing at 10/s and sends that may wait half a second WHEN two environments ask
    for 1 recipient 8 times each, all at once THEN the burst goes at once and 5 more are
    granted with waits of 0.1, 0.2 ... 0.5 s, one each (each environment reserved after the
    other's reservation, never over it); the 16th is refused."""
    result = race(moto, table, "billing=10/s", max_wait=0.5)

    assert len(result.refusals) == 1
    assert result.waits == pytest.approx([0.0] * 10 + [0.1, 0.2, 0.3, 0.4, 0.5])
    reservations = [s for s in result.slept if s > JITTER_SECONDS]
    assert reservations == pytest.approx([0.1, 0.2, 0.3, 0.4, 0.5])  # slept by the limiter


def test_the_bucket_item_expires_two_days_after_its_last_write(
    moto: MotoServer, table: str
) -> None:
    """GIVEN a grant WHEN the raw item is read THEN it is `LIMIT#billing`, with a `ttl` (whole
    seconds) two days after the write, the bucket's time exact."""
    dynamodb = client(moto)
    ProducerLimiter(
        DynamoDbLimitStore(dynamodb, table), parse_limits("billing=3/s"), clock=lambda: NOW
    ).acquire("Billing", 1, max_wait=0)

    item = dynamodb.get_item(TableName=table, Key={"pk": {"S": "LIMIT#billing"}})["Item"]

    assert int(item["ttl"]["N"]) == math.ceil(NOW + BUCKET_TTL_SECONDS)
    assert float(item["at"]["N"]) == NOW
    assert (item["day"]["S"], item["day_count"]["N"], item["tokens"]["N"]) == (
        "2025-11-28",
        "1",
        "2.0",
    )


def test_the_race_is_real(moto: MotoServer, table: str) -> None:
    """The environments did collide (some writes were lost and retried), so the tests above
    exercise the conditional write rather than two environments taking turns."""
    result = race(moto, table, "billing=10/s")
    assert result.lost_writes > 0
