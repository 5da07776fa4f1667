"""Unit-test wiring: the real composition root with fakes for every port that does I/O."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from devtools.invoice import invoice_message
from notifier.entrypoints.app import App
from notifier.entrypoints.bootstrap import bootstrap
from notifier.entrypoints.settings import Settings
from tests.fakes import (
    FakeAttachmentStore,
    FakeEmailQueue,
    FakeIdempotencyStore,
    FakeLimitStore,
    FakeMailer,
    FakeMetrics,
    FakeRequeue,
    FakeStatusCallbacks,
    FakeStatusStore,
    FakeSuppressionList,
    FakeTemplateStore,
)
from tests.unit.api_support import Api

FIXED_NOW = datetime(2026, 11, 28, 9, 30, tzinfo=UTC)


def seed_message(**changes: Any) -> dict[str, Any]:
    """The producers' sample invoice message, with `changes` applied (None removes a field)."""
    return invoice_message(**changes)


@pytest.fixture
def ses() -> Iterator[tuple[Any, Stubber]]:
    """A real botocore SES client whose answers the test queues (botocore's Stubber)."""
    client = boto3.client(
        "ses", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x"
    )
    with Stubber(client) as stubber:
        yield client, stubber
        stubber.assert_no_pending_responses()


@pytest.fixture
def mailer() -> FakeMailer:
    return FakeMailer()


@pytest.fixture
def store() -> FakeAttachmentStore:
    return FakeAttachmentStore({("acube-invoices", "invoices/12345.pdf"): b"%PDF-1.4 facture"})


@pytest.fixture
def metrics() -> FakeMetrics:
    return FakeMetrics()


@pytest.fixture
def idempotency() -> FakeIdempotencyStore:
    return FakeIdempotencyStore()


@pytest.fixture
def suppression() -> FakeSuppressionList:
    return FakeSuppressionList()


@pytest.fixture
def statuses() -> FakeStatusStore:
    """Status records, expiring on the app's fixed clock."""
    return FakeStatusStore(clock=FIXED_NOW.timestamp)


@pytest.fixture
def callbacks() -> FakeStatusCallbacks:
    return FakeStatusCallbacks()


@pytest.fixture
def requeue() -> FakeRequeue:
    """No queue ARN is a lane's: a bulk message is forwarded, a deferred one copied."""
    return FakeRequeue()


@pytest.fixture
def make_app(
    mailer: FakeMailer, store: FakeAttachmentStore, metrics: FakeMetrics, requeue: FakeRequeue
) -> Callable[..., App]:
    """The app with fakes; pass `idempotency=`/`suppression=`/`statuses=` fakes to turn state
    on, `callbacks=` to keep what status changes publish, `queue=` for the HTTP API's email
    queue, `templates=` for a template store, `limits=` for the producers' counts (with
    `producer_limits=`), and `own_mailer=` for a second app whose SES message ids start again
    at `fake-ses-1`."""

    def make(
        idempotency: FakeIdempotencyStore | None = None,
        suppression: FakeSuppressionList | None = None,
        statuses: FakeStatusStore | None = None,
        callbacks: FakeStatusCallbacks | None = None,
        queue: FakeEmailQueue | None = None,
        clock: Callable[[], datetime] = lambda: FIXED_NOW,
        own_mailer: FakeMailer | None = None,
        templates: FakeTemplateStore | None = None,
        limits: FakeLimitStore | None = None,
        **settings: Any,
    ) -> App:
        settings.setdefault("attachment_buckets", ("acube-invoices",))
        return bootstrap(
            Settings(**settings),
            mailer=own_mailer or mailer,
            attachments=store,
            metrics=metrics,
            idempotency=idempotency,
            suppression=suppression,
            statuses=statuses,
            callbacks=callbacks,
            queue=queue,
            templates=templates,
            requeue=requeue,
            limits=limits,
            clock=clock,
            configure_logs=False,
        )

    return make


@pytest.fixture
def app(make_app: Callable[..., App]) -> App:
    return make_app()


@pytest.fixture
def make_api(
    make_app: Callable[..., App], mailer: FakeMailer, metrics: FakeMetrics
) -> Callable[..., Api]:
    """The app with state (idempotency, suppression, statuses) and a queue, all fakes;
    `queue=` and `statuses=` replace theirs, other keywords are settings."""

    def make(
        *,
        queue: FakeEmailQueue | None = None,
        statuses: FakeStatusStore | None = None,
        suppression: FakeSuppressionList | None = None,
        **settings: Any,
    ) -> Api:
        queue = queue if queue is not None else FakeEmailQueue()
        statuses = statuses if statuses is not None else FakeStatusStore()
        app = make_app(
            idempotency=FakeIdempotencyStore(),
            suppression=suppression or FakeSuppressionList(),
            statuses=statuses,
            queue=queue,
            limits=FakeLimitStore(),
            **settings,
        )
        return Api(app=app, mailer=mailer, queue=queue, statuses=statuses, metrics=metrics)

    return make


@pytest.fixture
def api(make_api: Callable[..., Api]) -> Api:
    return make_api()
