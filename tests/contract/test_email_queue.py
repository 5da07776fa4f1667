"""The `EmailQueue` contract: what the enqueue route puts on the queue, and what it refuses.

Each test runs on `FakeEmailQueue` (`[fake]`, what the unit tests use) and on `SqsEmailQueue`
with a fresh queue of moto's server (`[sqs]`, marked `integration`); `received` reads back the
bodies each one queued. Both must agree: a body that parses back to the same request, and
nothing over the 256 KiB every SQS queue holds.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING

import attrs
import boto3
import pytest

from notifier.adapters.inbound.message import dump_message, parse_message
from notifier.adapters.outbound.sqs import SQS_MAX_MESSAGE_BYTES, SqsEmailQueue
from notifier.domain.errors import DependencyUnavailable, MessageTooLarge
from notifier.domain.model import AttachmentRequest, MessageRequest
from notifier.domain.ports import EmailQueue
from tests.contract.conftest import REGION
from tests.fakes import FakeEmailQueue
from tests.support.moto import MotoServer

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient

REQUEST = MessageRequest(
    sender="Factures <noreply@acubeapi.com>",
    recipients=("user@example.com",),
    cc=("cc@example.com",),
    subject="Votre facture est prête",
    text_content="La facture #12345 est disponible.",
    bucket_name="acube-invoices",
    attachments=(AttachmentRequest(key="invoices/12345.pdf", filename="facture.pdf"),),
    idempotency_key="invoice-12345",
    tags={"tenant": "billing"},
)


@attrs.frozen
class Queue:
    """One implementation, and how to read back what it queued."""

    port: EmailQueue
    received: Callable[[], list[str]]


@pytest.fixture(scope="module")
def sqs(moto: MotoServer) -> SQSClient:
    with pytest.MonkeyPatch.context() as env:
        env.delenv("AWS_PROFILE", raising=False)
        session = boto3.session.Session(
            aws_access_key_id="test", aws_secret_access_key="test", region_name=REGION
        )
        return session.client("sqs", endpoint_url=moto.endpoint_url)


@pytest.fixture(params=["fake", pytest.param("sqs", marks=pytest.mark.integration)])
def queue(request: pytest.FixtureRequest) -> Queue:
    if request.param == "fake":
        fake = FakeEmailQueue()
        return Queue(fake, lambda: list(fake.bodies))
    client: SQSClient = request.getfixturevalue("sqs")
    url = client.create_queue(QueueName=f"contract-{uuid.uuid4().hex[:12]}")["QueueUrl"]

    def received() -> list[str]:
        messages = client.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
        return [m["Body"] for m in messages]

    return Queue(SqsEmailQueue(lambda: client, url), received)


def test_a_queued_message_parses_back_to_the_same_request(queue: Queue) -> None:
    """GIVEN a request with every kind of field WHEN it is queued THEN the queue holds one JSON
    body that parses back to an equal request (the same content hash, so the same key), and
    the answer is the queue's id for it."""
    message_id = queue.port.enqueue(REQUEST)

    (body,) = queue.received()
    assert message_id
    assert parse_message(json.loads(body)) == REQUEST


def test_a_message_that_fills_a_queue_message_exactly_is_queued(queue: Queue) -> None:
    """The limit is the queue's own: 262,144 bytes of body go, whatever the implementation."""
    request = _sized(SQS_MAX_MESSAGE_BYTES)

    queue.port.enqueue(request)

    assert [len(body.encode()) for body in queue.received()] == [SQS_MAX_MESSAGE_BYTES]


def test_one_byte_more_is_too_large_and_nothing_is_queued(queue: Queue) -> None:
    with pytest.raises(MessageTooLarge):
        queue.port.enqueue(_sized(SQS_MAX_MESSAGE_BYTES + 1))

    assert queue.received() == []


@pytest.mark.integration
def test_a_queue_that_cannot_be_reached_is_a_transient_failure(sqs: SQSClient) -> None:
    """[sqs] only (marked integration: moto): SQS's refusal, here of a queue URL that names no
    queue, is `DependencyUnavailable`, a transient failure (503 with Retry-After)."""
    port = SqsEmailQueue(lambda: sqs, "http://localhost/000000000000/no-such-queue")

    with pytest.raises(DependencyUnavailable):
        port.enqueue(REQUEST)


def _sized(size: int) -> MessageRequest:
    """A request whose queued body is exactly `size` bytes of UTF-8."""
    base = len(dump_message(attrs.evolve(REQUEST, text_content="")).encode())
    return attrs.evolve(REQUEST, text_content="x" * (size - base))
