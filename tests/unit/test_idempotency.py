"""Idempotent sending: each state transition of the record, through the app with fakes."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import timedelta

import attrs
import pytest

from devtools.invoice import invoice_message
from notifier.adapters.inbound.message import parse_message
from notifier.domain.errors import DependencyUnavailable
from notifier.domain.idempotency import payload_hash
from notifier.domain.state import IdempotencyRecord, RecordStatus
from notifier.entrypoints.app import App
from tests.fakes import FakeContext, FakeIdempotencyStore, FakeMailer, FakeMetrics
from tests.unit.conftest import FIXED_NOW, seed_message
from tests.unit.test_handler import sqs_event

NOW = FIXED_NOW.timestamp()


@pytest.fixture
def app(make_app: Callable[..., App], idempotency: FakeIdempotencyStore) -> App:
    return make_app(idempotency=idempotency)


def only_record(store: FakeIdempotencyStore) -> IdempotencyRecord:
    (record,) = store.records.values()
    return record


def claim_in_progress(app: App, store: FakeIdempotencyStore, *, expires_at: float) -> None:
    """The seed message's key, held IN_PROGRESS until `expires_at` (as by another invocation)."""
    app.handle(seed_message(), FakeContext())
    record = only_record(store)
    store.records[record.key] = attrs.evolve(
        record, status=RecordStatus.IN_PROGRESS, ses_message_id=None, expires_at=expires_at
    )


def test_a_first_send_completes_the_record(
    app: App, idempotency: FakeIdempotencyStore, mailer: FakeMailer
) -> None:
    """GIVEN no record WHEN sent THEN the record is COMPLETED with the SES id and the TTL."""
    assert app.handle(seed_message(), FakeContext())["statusCode"] == 200
    record = only_record(idempotency)
    assert record.status is RecordStatus.COMPLETED
    assert record.ses_message_id == "fake-ses-1"
    assert record.expires_at == NOW + 24 * 3600
    assert record.key.startswith("noreply@acubeapi.com#sha256:")


def test_the_same_content_on_two_sqs_messages_is_sent_once(
    app: App, mailer: FakeMailer, metrics: FakeMetrics
) -> None:
    """Two SQS message ids, one logical email: one send, both records succeed."""
    body = json.dumps(seed_message())
    assert app.handle(sqs_event(body), FakeContext()) == {"batchItemFailures": []}
    assert app.handle(sqs_event(body), FakeContext()) == {"batchItemFailures": []}
    assert len(mailer.sent) == 1
    assert metrics.total("EmailsDuplicate") == 1


def test_a_completed_duplicate_reports_the_original_id(
    app: App, mailer: FakeMailer, metrics: FakeMetrics
) -> None:
    """Direct: 200 with the first SES message id and "duplicate": true; counted as a
    duplicate, not as a second email sent (nor its recipients)."""
    app.handle(seed_message(idempotency_key="invoice-12345"), FakeContext())
    again = app.handle(seed_message(idempotency_key="invoice-12345"), FakeContext())
    assert again == {"statusCode": 200, "messageId": "fake-ses-1", "duplicate": True}
    assert len(mailer.sent) == 1
    assert (metrics.total("EmailsSent"), metrics.total("EmailsDuplicate")) == (1, 1)
    assert metrics.total("Recipients") == 1


def test_a_duplicate_while_in_progress_is_transient(
    app: App, idempotency: FakeIdempotencyStore, mailer: FakeMailer
) -> None:
    """GIVEN a live IN_PROGRESS claim (another invocation is sending) THEN 503, nothing sent."""
    claim_in_progress(app, idempotency, expires_at=NOW + 60)
    response = app.handle(seed_message(), FakeContext())
    assert response["statusCode"] == 503
    assert len(mailer.sent) == 1


def test_an_expired_in_progress_claim_is_taken_over(
    app: App, idempotency: FakeIdempotencyStore, mailer: FakeMailer
) -> None:
    """GIVEN an IN_PROGRESS claim whose holder died (expiry passed) THEN this one sends."""
    claim_in_progress(app, idempotency, expires_at=NOW - 1)
    assert app.handle(seed_message(), FakeContext())["statusCode"] == 200
    assert len(mailer.sent) == 2
    assert only_record(idempotency).status is RecordStatus.COMPLETED


def test_a_failure_before_ses_accepted_releases_the_key(
    app: App, idempotency: FakeIdempotencyStore, mailer: FakeMailer
) -> None:
    """A transient SES failure deletes the record, so the retry sends."""
    mailer.errors.append(DependencyUnavailable("SES down"))
    assert app.handle(seed_message(), FakeContext())["statusCode"] == 503
    assert idempotency.records == {}
    assert app.handle(seed_message(), FakeContext())["statusCode"] == 200
    assert len(mailer.sent) == 1


def test_the_same_key_with_another_payload_is_a_conflict(app: App, mailer: FakeMailer) -> None:
    """An idempotency_key reused for a different message is a permanent 409."""
    app.handle(seed_message(idempotency_key="k1"), FakeContext())
    response = app.handle(seed_message(idempotency_key="k1", subject="Autre"), FakeContext())
    assert response["statusCode"] == 409
    assert len(mailer.sent) == 1


def test_keys_are_scoped_by_sender(app: App, mailer: FakeMailer) -> None:
    """The same producer key from two senders is two emails."""
    app.handle(seed_message(idempotency_key="k1"), FakeContext())
    app.handle(seed_message(idempotency_key="k1", sender="billing@acubeapi.com"), FakeContext())
    assert len(mailer.sent) == 2


def test_a_completed_record_past_its_ttl_allows_a_new_send(
    make_app: Callable[..., App], idempotency: FakeIdempotencyStore, mailer: FakeMailer
) -> None:
    """Expiry is checked in code: after the TTL the same message is sent again."""
    make_app(idempotency=idempotency).handle(seed_message(), FakeContext())
    later = make_app(idempotency=idempotency, clock=lambda: FIXED_NOW + timedelta(days=2))
    assert later.handle(seed_message(), FakeContext())["statusCode"] == 200
    assert len(mailer.sent) == 2


class BrokenCompletion(FakeIdempotencyStore):
    def complete(
        self, key: str, *, payload_hash: str, ses_message_id: str, expires_at: float
    ) -> None:
        raise DependencyUnavailable("DynamoDB down")


def test_a_failed_completion_still_reports_success(
    make_app: Callable[..., App], mailer: FakeMailer, metrics: FakeMetrics
) -> None:
    """SES accepted: the message must not be retried (it would be sent twice)."""
    app = make_app(idempotency=BrokenCompletion())
    assert app.handle(seed_message(), FakeContext())["statusCode"] == 200
    assert metrics.total("IdempotencyUnrecorded") == 1


def test_the_priority_is_not_content_and_old_hashes_still_match() -> None:
    """The lane is not the message: the same message sent as bulk is the same message, and
    the sample's hash is the one computed before `priority` existed (a message sent before
    a deploy and redelivered after it must still be recognised)."""
    request = parse_message(invoice_message())

    assert payload_hash(attrs.evolve(request, priority="bulk")) == payload_hash(request)
    assert payload_hash(request) == (
        "64f10b5d85f76b5a0ddeec6652c59c9539ffe380de3692f27d054ab7f1fd4986"  # at 221948e
    )
