"""The DynamoDB state adapters, `provision`'s state table and the suppression CLI, against
moto's server over HTTP (AWS_ENDPOINT_URL_DYNAMODB, set by the session's fixtures)."""

from __future__ import annotations

import itertools
import math
import os
import socket
import subprocess
import sys
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import attrs
import boto3
import pytest
import structlog
from botocore.config import Config

from devtools.provision import ProvisionConfig, ProvisionError, provision
from notifier.adapters.outbound.aws import aws_session
from notifier.adapters.outbound.dynamodb import (
    DynamoDbIdempotencyStore,
    DynamoDbSuppressionList,
)
from notifier.domain.errors import DependencyUnavailable
from notifier.domain.state import (
    IdempotencyRecord,
    RecordStatus,
    Suppression,
    SuppressionReason,
)
from notifier.entrypoints.cli import main
from tests.support.localstack import LocalStack
from tests.support.moto import MotoServer

pytestmark = pytest.mark.timeout(60)

ROOT = Path(__file__).parent.parent.parent
NOW = 1_764_320_000.25  # a fractional epoch time: expiry must survive the round trip exactly
DAY = 86_400.0
WEEK = 7 * DAY


@pytest.fixture
def dynamodb(localstack: LocalStack) -> Any:
    """A DynamoDB client from the session's environment (so: moto), as the service builds it."""
    return boto3.client("dynamodb")


@pytest.fixture
def table(dynamodb: Any) -> str:
    """A fresh state table with the production key schema, for this test alone."""
    name = f"state-{uuid.uuid4().hex[:12]}"
    dynamodb.create_table(
        TableName=name,
        BillingMode="PAY_PER_REQUEST",
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
    )
    return name


@pytest.fixture
def store(dynamodb: Any, table: str) -> DynamoDbIdempotencyStore:
    return DynamoDbIdempotencyStore(dynamodb, table)


@pytest.fixture
def suppressions(dynamodb: Any, table: str) -> DynamoDbSuppressionList:
    return DynamoDbSuppressionList(dynamodb, table)


def in_progress(
    key: str = "sender#abc", *, payload_hash: str = "h1", expires_at: float = NOW + 30
) -> IdempotencyRecord:
    return IdempotencyRecord(
        key=key, status=RecordStatus.IN_PROGRESS, payload_hash=payload_hash, expires_at=expires_at
    )


def raw_item(dynamodb: Any, table: str, pk: str) -> dict[str, Any] | None:
    item: dict[str, Any] | None = dynamodb.get_item(
        TableName=table, Key={"pk": {"S": pk}}, ConsistentRead=True
    ).get("Item")
    return item


# Idempotency records


def test_a_fresh_claim_writes_an_in_progress_item(
    store: DynamoDbIdempotencyStore, dynamodb: Any, table: str
) -> None:
    """GIVEN no record WHEN a key is claimed THEN the claim succeeds (None) and the item is
    `IDEMPOTENCY#<key>` with status, payload hash, exact expiry and a whole-second ttl."""
    assert store.claim(in_progress(), now=NOW) is None

    assert raw_item(dynamodb, table, "IDEMPOTENCY#sender#abc") == {
        "pk": {"S": "IDEMPOTENCY#sender#abc"},
        "status": {"S": "IN_PROGRESS"},
        "payload_hash": {"S": "h1"},
        "expires_at": {"N": "1764320030.25"},
        "ttl": {"N": "1764320031"},
    }


def test_a_live_in_progress_claim_is_returned_untouched(
    store: DynamoDbIdempotencyStore, dynamodb: Any, table: str
) -> None:
    """GIVEN an IN_PROGRESS record that has not expired WHEN the key is claimed again THEN the
    claim fails with the holder's record, and the item is unchanged."""
    first = in_progress(expires_at=NOW + 30)
    store.claim(first, now=NOW)
    before = raw_item(dynamodb, table, "IDEMPOTENCY#sender#abc")

    held = store.claim(in_progress(payload_hash="h2", expires_at=NOW + 60), now=NOW + 29.9)

    assert held == first
    assert raw_item(dynamodb, table, "IDEMPOTENCY#sender#abc") == before


def test_a_completed_record_answers_with_the_ses_message_id(
    store: DynamoDbIdempotencyStore, dynamodb: Any, table: str
) -> None:
    """GIVEN a completed key WHEN it is claimed before its TTL THEN the claim fails with the
    COMPLETED record carrying the original SES message id; the ttl follows the new expiry."""
    store.claim(in_progress(), now=NOW)
    store.complete("sender#abc", payload_hash="h1", ses_message_id="ses-0001", expires_at=NOW + DAY)

    held = store.claim(in_progress(expires_at=NOW + 100), now=NOW + 50)

    assert held == IdempotencyRecord(
        key="sender#abc",
        status=RecordStatus.COMPLETED,
        payload_hash="h1",
        expires_at=NOW + DAY,
        ses_message_id="ses-0001",
    )
    item = raw_item(dynamodb, table, "IDEMPOTENCY#sender#abc")
    assert item is not None
    assert item["ttl"] == {"N": str(math.ceil(NOW + DAY))}


@attrs.define
class ItemlessClient:
    """The real client, except that a failed conditional put comes back without the blocking
    item (as from an emulator that ignores ReturnValuesOnConditionCheckFailure), after
    `meanwhile` has run once."""

    client: Any
    meanwhile: Callable[[], object] | None = None

    def __getattr__(self, name: str) -> Any:
        return getattr(self.client, name)

    def put_item(self, **request: Any) -> Any:
        try:
            return self.client.put_item(**request)
        except self.client.exceptions.ConditionalCheckFailedException as exc:
            exc.response.pop("Item", None)
            if self.meanwhile is not None:
                meanwhile, self.meanwhile = self.meanwhile, None
                meanwhile()
            raise


def test_without_the_item_in_the_error_the_holder_is_read(
    store: DynamoDbIdempotencyStore, dynamodb: Any, table: str
) -> None:
    """GIVEN a live claim and a failed put that does not return the item WHEN the key is
    claimed THEN the holder's record is read (consistently) and returned."""
    first = in_progress()
    store.claim(first, now=NOW)

    client: Any = ItemlessClient(dynamodb)

    assert (
        DynamoDbIdempotencyStore(client, table).claim(in_progress(payload_hash="h2"), now=NOW + 1)
        == first
    )


def test_a_claim_released_while_being_read_is_claimed_again(
    store: DynamoDbIdempotencyStore, dynamodb: Any, table: str
) -> None:
    """GIVEN a live claim that its holder releases between our failed put and our read WHEN
    the key is claimed THEN the put is tried again and succeeds."""
    store.claim(in_progress(), now=NOW)
    client: Any = ItemlessClient(dynamodb, meanwhile=lambda: store.release("sender#abc"))

    assert DynamoDbIdempotencyStore(client, table).claim(in_progress("sender#abc"), now=NOW) is None
    item = raw_item(dynamodb, table, "IDEMPOTENCY#sender#abc")
    assert item is not None
    assert item["status"] == {"S": "IN_PROGRESS"}


# Suppression list


def bounce(address: str, **changes: Any) -> Suppression:
    entry = Suppression(
        address=address,
        reason=SuppressionReason.BOUNCE,
        feedback_type="Permanent",
        feedback_sub_type="General",
        feedback_id="0100018f-feedback",
        timestamp="2026-11-28T09:30:00.000Z",
    )
    return attrs.evolve(entry, **changes)


def test_suppressed_addresses_are_found_whatever_their_case(
    suppressions: DynamoDbSuppressionList, dynamodb: Any, table: str
) -> None:
    """GIVEN two suppressed addresses WHEN recipients are checked THEN exactly those are
    returned, compared lower-case but in the caller's spelling; the item is
    `SUPPRESSION#<lower-case address>`."""
    suppressions.add(bounce("gone@example.com"))
    suppressions.add(bounce("Angry@Example.com", reason=SuppressionReason.COMPLAINT))

    found = suppressions.suppressed(["GONE@example.com", "angry@example.com", "ok@example.com"])

    assert found == {"GONE@example.com", "angry@example.com"}
    assert suppressions.suppressed([]) == set()
    assert raw_item(dynamodb, table, "SUPPRESSION#angry@example.com") == {
        "pk": {"S": "SUPPRESSION#angry@example.com"},
        "reason": {"S": "complaint"},
        "feedback_type": {"S": "Permanent"},
        "feedback_sub_type": {"S": "General"},
        "feedback_id": {"S": "0100018f-feedback"},
        "timestamp": {"S": "2026-11-28T09:30:00.000Z"},
    }


def test_remove_forgets_the_address_and_its_bounces(
    suppressions: DynamoDbSuppressionList, dynamodb: Any, table: str
) -> None:
    """GIVEN a suppressed address with transient bounces WHEN removed THEN it is no longer
    suppressed, its bounce count starts again, and removing it again says it was absent."""
    suppressions.count_transient_bounce(
        "gone@example.com", bounce_id=f"b{NOW}", at=NOW, window_seconds=WEEK
    )
    suppressions.add(bounce("gone@example.com"))

    assert suppressions.remove("Gone@Example.com") is True

    assert suppressions.suppressed(["gone@example.com"]) == set()
    assert raw_item(dynamodb, table, "BOUNCES#gone@example.com") is None
    assert suppressions.remove("gone@example.com") is False


def test_transient_bounces_are_counted_within_the_window(
    suppressions: DynamoDbSuppressionList, dynamodb: Any, table: str
) -> None:
    """GIVEN transient bounces over eight days WHEN each is recorded THEN the count is of those
    no older than the window before it; older times are dropped from `BOUNCES#<address>`,
    whose ttl is the newest time plus the window, and `ids` keeps each bounce's id beside it."""
    ids = itertools.count(1)

    def count(address: str, **times: float) -> int:
        return suppressions.count_transient_bounce(address, bounce_id=f"b{next(ids)}", **times)

    assert count("Soft@example.com", at=NOW, window_seconds=WEEK) == 1
    assert count("soft@example.com", at=NOW + DAY, window_seconds=WEEK) == 2
    assert count("soft@example.com", at=NOW + 2 * DAY, window_seconds=WEEK) == 3
    assert count("other@example.com", at=NOW + 2 * DAY, window_seconds=WEEK) == 1
    assert count("soft@example.com", at=NOW + 8 * DAY, window_seconds=WEEK) == 3  # NOW dropped

    item = raw_item(dynamodb, table, "BOUNCES#soft@example.com")
    assert item is not None
    assert [float(v["N"]) for v in item["at"]["L"]] == [NOW + DAY, NOW + 2 * DAY, NOW + 8 * DAY]
    assert [v["S"] for v in item["ids"]["L"]] == ["b2", "b3", "b5"]
    assert item["ttl"] == {"N": str(math.ceil(NOW + 8 * DAY + WEEK))}


@attrs.define
class RacingClient:
    """The real client, except that just before its first PutItem another writer runs
    `race` (what a concurrent invocation would do between our read and our write)."""

    client: Any
    race: Callable[[], object] | None

    def __getattr__(self, name: str) -> Any:
        return getattr(self.client, name)

    def put_item(self, **request: Any) -> Any:
        if self.race is not None:
            race, self.race = self.race, None
            race()
        return self.client.put_item(**request)


def test_concurrent_transient_bounces_are_all_counted(
    suppressions: DynamoDbSuppressionList, dynamodb: Any, table: str
) -> None:
    """GIVEN another writer records a bounce between our read and our write WHEN ours is
    recorded THEN the version check fails, we read again, and both bounces are counted."""
    client: Any = RacingClient(
        dynamodb,
        race=lambda: suppressions.count_transient_bounce(
            "soft@example.com", bounce_id=f"b{NOW}", at=NOW, window_seconds=WEEK
        ),
    )
    racing = DynamoDbSuppressionList(client, table, sleep=lambda _: None)

    assert (
        racing.count_transient_bounce(
            "soft@example.com", bounce_id=f"b{NOW + 1}", at=NOW + 1, window_seconds=WEEK
        )
        == 2
    )

    item = raw_item(dynamodb, table, "BOUNCES#soft@example.com")
    assert item is not None
    assert [float(v["N"]) for v in item["at"]["L"]] == [NOW, NOW + 1]
    assert item["version"] == {"N": "2"}


# Failures


def test_a_missing_table_is_a_transient_failure_logged_for_the_operator(dynamodb: Any) -> None:
    """GIVEN a table name that does not exist WHEN the adapters are used THEN they raise
    `DependencyUnavailable` (the message is retried, not dropped) and log the error code."""
    store = DynamoDbIdempotencyStore(dynamodb, "no-such-table")
    suppressions = DynamoDbSuppressionList(dynamodb, "no-such-table")

    with structlog.testing.capture_logs() as logs:
        with pytest.raises(DependencyUnavailable, match="ResourceNotFoundException"):
            store.claim(in_progress(), now=NOW)
        with pytest.raises(DependencyUnavailable, match="ResourceNotFoundException"):
            suppressions.suppressed(["user@example.com"])
        with pytest.raises(DependencyUnavailable, match="ResourceNotFoundException"):
            suppressions.entries()

    assert [(log["event"], log["operation"], log["code"]) for log in logs] == [
        ("dynamodb.error", "PutItem", "ResourceNotFoundException"),
        ("dynamodb.error", "BatchGetItem", "ResourceNotFoundException"),
        ("dynamodb.error", "Scan", "ResourceNotFoundException"),
    ]
    assert all(log["log_level"] == "error" for log in logs)


def test_an_unreachable_dynamodb_is_a_transient_failure() -> None:
    """GIVEN nothing listening at the DynamoDB endpoint WHEN a key is claimed THEN the
    connection error becomes `DependencyUnavailable`."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # closed again before the client connects
    client = boto3.client(
        "dynamodb",
        endpoint_url=f"http://127.0.0.1:{port}",
        region_name="us-east-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",
        config=Config(connect_timeout=1, retries={"mode": "standard", "total_max_attempts": 1}),
    )

    with pytest.raises(DependencyUnavailable, match="EndpointConnectionError"):
        DynamoDbIdempotencyStore(client, "state").claim(in_progress(), now=NOW)


# Provisioning


def test_provision_creates_the_state_table_with_ttl_and_is_idempotent(
    moto: MotoServer, table: str
) -> None:
    """GIVEN DynamoDB at its own endpoint (moto) and the rest at LocalStack WHEN provisioned
    twice THEN the first run creates an on-demand table keyed by `pk` (S) alone with TTL on
    `ttl`, and the second changes nothing."""
    name = f"e2e-{uuid.uuid4().hex[:12]}"
    state_table = f"{name}-state"
    config = ProvisionConfig.named(name, state_table=state_table)

    first = provision(aws_session(), config=config)
    again = provision(aws_session(), config=config)

    assert f"created table {state_table}" in first.changes
    assert f"enabled TTL on attribute ttl of {state_table}" in first.changes
    assert again == attrs.evolve(first, changes=())
    assert f"state table   {state_table} (key pk, TTL on ttl)" in first.lines()
    at_moto = boto3.client("dynamodb", endpoint_url=moto.endpoint_url)
    description = at_moto.describe_table(TableName=state_table)["Table"]
    assert description["KeySchema"] == [{"AttributeName": "pk", "KeyType": "HASH"}]
    assert description["AttributeDefinitions"] == [{"AttributeName": "pk", "AttributeType": "S"}]
    assert description["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"
    ttl = at_moto.describe_time_to_live(TableName=state_table)["TimeToLiveDescription"]
    assert ttl == {"TimeToLiveStatus": "ENABLED", "AttributeName": "ttl"}


def test_provision_enables_ttl_on_an_existing_table(table: str, dynamodb: Any) -> None:
    """GIVEN the state table exists without TTL WHEN provisioned THEN TTL is turned on and
    nothing else about the table changes."""
    name = f"e2e-{uuid.uuid4().hex[:12]}"
    config = ProvisionConfig.named(name, state_table=table)

    done = provision(aws_session(), config=config)

    assert f"enabled TTL on attribute ttl of {table}" in done.changes
    assert f"created table {table}" not in done.changes
    ttl = dynamodb.describe_time_to_live(TableName=table)["TimeToLiveDescription"]
    assert ttl == {"TimeToLiveStatus": "ENABLED", "AttributeName": "ttl"}


def test_provision_refuses_a_table_with_another_key(dynamodb: Any) -> None:
    """GIVEN a table of that name keyed differently WHEN provisioned THEN it fails with a
    `ProvisionError` naming the table, since a key schema cannot be changed in place."""
    name = f"e2e-{uuid.uuid4().hex[:12]}"
    dynamodb.create_table(
        TableName=f"{name}-state",
        BillingMode="PAY_PER_REQUEST",
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
    )
    config = ProvisionConfig.named(name, state_table=f"{name}-state")

    with pytest.raises(ProvisionError, match=f"table {name}-state exists with the key schema"):
        provision(aws_session(), config=config)


# The suppression CLI


def notifier(*args: str, table: str) -> subprocess.CompletedProcess[str]:
    """`python -m notifier ARGS` with the session's environment and NOTIFIER_STATE_TABLE."""
    return subprocess.run(
        [sys.executable, "-m", "notifier", *args],
        capture_output=True,
        text=True,
        check=False,
        cwd=ROOT,
        timeout=60,
        env={**os.environ, "NOTIFIER_STATE_TABLE": table},
    )


def test_the_suppression_cli_adds_lists_and_removes(
    table: str, suppressions: DynamoDbSuppressionList
) -> None:
    """GIVEN an empty state table WHEN an operator adds an address, lists, removes it and
    removes it again THEN each command says what it did, the list shows the address with its
    reason and origin, and the second removal exits 1 because the address was not there."""
    suppressions.add(bounce("gone@example.com"))

    added = notifier("suppression", "add", "Angry@Example.COM", table=table)
    listed = notifier("suppression", "list", table=table)
    removed = notifier("suppression", "remove", "angry@example.com", table=table)
    again = notifier("suppression", "remove", "angry@example.com", table=table)

    assert (added.returncode, added.stdout) == (0, "suppressed angry@example.com\n"), added.stderr
    assert listed.returncode == 0, listed.stderr
    header, first, second = listed.stdout.splitlines()
    assert header.split() == ["ADDRESS", "REASON", "TYPE", "TIMESTAMP"]
    assert first.split()[:3] == ["angry@example.com", "complaint", "manual"]
    assert first.split()[3].startswith("20")  # an ISO 8601 time of the `add`
    assert second.split() == [
        "gone@example.com",
        "bounce",
        "Permanent/General",
        "2026-11-28T09:30:00.000Z",
    ]
    assert removed.returncode == 0, removed.stderr
    assert removed.stdout == "removed angry@example.com: it will be mailed again\n"
    assert (again.returncode, again.stderr) == (1, "angry@example.com was not suppressed\n")
    assert suppressions.suppressed(["angry@example.com", "gone@example.com"]) == {
        "gone@example.com"
    }


def test_the_suppression_cli_needs_the_table_and_a_valid_address(
    table: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Without NOTIFIER_STATE_TABLE, or with an address that is not one, the command exits 2
    with a message saying so; an empty list says it is empty."""
    monkeypatch.delenv("NOTIFIER_STATE_TABLE", raising=False)
    assert main(["suppression", "list"]) == 2
    assert "NOTIFIER_STATE_TABLE is not set" in capsys.readouterr().err

    monkeypatch.setenv("NOTIFIER_STATE_TABLE", table)
    assert main(["suppression", "add", "not-an-address"]) == 2
    assert "is not a valid address" in capsys.readouterr().err
    assert main(["suppression", "list"]) == 0
    assert capsys.readouterr().out == "(no suppressed addresses)\n"
