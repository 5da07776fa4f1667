"""End-to-end tier: producer -> SQS or SNS -> the runner -> the real handler -> LocalStack's SES.

One LocalStack per session. Every test provisions its own queue, dead-letter queue and topic
(unique names, a short visibility timeout) with the same `provision()` the CLI uses, so tests
never see each other's messages. The handler is configured, as in Lambda, only through the
environment.
"""

from __future__ import annotations

import os
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import attrs
import boto3
import pytest

from devtools.invoice import invoice_message
from devtools.provision import ProvisionConfig, Provisioned, provision
from devtools.runner.invokers import Function, InProcessFunction
from devtools.runner.poller import Runner, StopFlag
from devtools.runner.queue import SqsQueue
from notifier.adapters.outbound.aws import aws_session
from notifier.entrypoints.bootstrap import bootstrap
from tests.support.localstack import LocalStack, start_localstack
from tests.support.moto import MotoServer, start_moto
from tests.support.serve import Runners
from tests.support.ses_outbox import SesOutbox

SERVICES = "sqs,sns,ses,s3"
REGION = "us-east-1"
SENDER = "noreply@acubeapi.com"
BUCKET = "acube-invoices"
# Long enough for one send (the handler keeps 1 s of its budget back, the SES adapter wants 1 s
# for an attempt), short enough that a failed message is received again within seconds.
VISIBILITY_TIMEOUT = 3
WAIT_SECONDS = 1  # the runner's long poll: also how long stopping it can take
HERE = Path(__file__).parent


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark every test under tests/e2e as `e2e`."""
    for item in items:
        if item.path.is_relative_to(HERE):
            item.add_marker(pytest.mark.e2e)


@pytest.fixture(scope="session")
def localstack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    """A LocalStack for the whole e2e session (the environment is set per test, below)."""
    running = start_localstack(services=SERVICES, workdir=tmp_path_factory.mktemp("localstack"))
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture(scope="session")
def moto(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MotoServer]:
    """moto's server for the whole e2e session: the tests' DynamoDB (see DEVELOPERS.md).

    TODO: with a Docker engine, LocalStack's own DynamoDB could replace it (as in
    tests/integration/conftest.py).
    """
    server = start_moto(workdir=tmp_path_factory.mktemp("moto"))
    try:
        yield server
    finally:
        server.stop()


def e2e_environment(localstack: LocalStack, moto: MotoServer) -> dict[str, str]:
    """AWS clients pointed at LocalStack (DynamoDB at moto), and the handler's settings."""
    return {
        "AWS_ENDPOINT_URL": localstack.endpoint_url,
        "AWS_ENDPOINT_URL_DYNAMODB": moto.endpoint_url,
        "AWS_ACCESS_KEY_ID": "test",
        "AWS_SECRET_ACCESS_KEY": "test",
        "AWS_DEFAULT_REGION": REGION,
        "AWS_REGION": REGION,
        "NOTIFIER_ALLOWED_SENDERS": "@acubeapi.com",
        "NOTIFIER_ATTACHMENT_BUCKETS": BUCKET,
        "NOTIFIER_METRICS_MODE": "off",
    }


@pytest.fixture(autouse=True)
def environment(localstack: LocalStack, moto: MotoServer, monkeypatch: pytest.MonkeyPatch) -> None:
    """`e2e_environment()` for this process and for every `python -m notifier` or
    `python -m devtools` the test starts."""
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    for name, value in e2e_environment(localstack, moto).items():
        monkeypatch.setenv(name, value)


@pytest.fixture
def ses_outbox(localstack: LocalStack) -> SesOutbox:
    """LocalStack's SES outbox, emptied before the test."""
    outbox = SesOutbox(endpoint_url=localstack.endpoint_url)
    outbox.clear()
    return outbox


def provision_stack(
    *,
    state_table: bool = False,
    events: bool = False,
    visibility_timeout: int = VISIBILITY_TIMEOUT,
    max_receive_count: int = 3,
    templates: str = "",
) -> Provisioned:
    """A test's own queue, dead-letter queue, bulk lane (queue and dead letters), topics and,
    if asked, state table and SES configuration set publishing events (with a status topic)
    and the sample templates (at the `templates` S3 URL), plus the shared SES domain, bucket
    and sample invoice."""
    name = f"e2e-{uuid.uuid4().hex[:12]}"
    return provision(
        aws_session(),
        config=ProvisionConfig.named(
            name,
            feedback_topic_name=f"{name}-feedback",
            visibility_timeout=visibility_timeout,
            max_receive_count=max_receive_count,
            bucket=BUCKET,
            sample_attachment=True,
            state_table=f"{name}-state" if state_table else "",
            configuration_set=f"{name}-events" if events else "",
            status_topic_name=f"{name}-status" if events else "",
            sample_templates=templates,
        ),
    )


@pytest.fixture
def stack() -> Provisioned:
    """This test's own resources, without a state table (no idempotency, no suppression)."""
    return provision_stack()


@pytest.fixture
def runners(tmp_path: Path) -> Iterator[Runners]:
    """`python -m devtools serve` processes, each stopped (and its log kept) at the end."""
    group = Runners(workdir=tmp_path, base_env=os.environ)
    try:
        yield group
    finally:
        group.close()


@attrs.define
class BackgroundRunner:
    """The SQS runner with the in-process handler, on a thread of the test process."""

    runner: Runner
    stop: StopFlag = attrs.field(factory=StopFlag)
    lines: list[str] = attrs.field(factory=list)
    errors: list[BaseException] = attrs.field(factory=list)
    thread: threading.Thread | None = None

    def start(self) -> None:
        self.thread = threading.Thread(target=self._run, name="sqs-runner", daemon=True)
        self.thread.start()

    def _run(self) -> None:
        try:
            self.runner.run(self.stop)
        except BaseException as exc:  # noqa: BLE001 - close() fails the test with it
            self.errors.append(exc)

    def close(self) -> None:
        """Stop after the batch in flight; fail the test if the runner crashed or hung."""
        self.stop.set()
        assert self.thread is not None
        self.thread.join(timeout=WAIT_SECONDS + 10)
        assert not self.thread.is_alive(), "the runner did not stop"
        assert self.errors == []


def message(subject: str, **changes: Any) -> dict[str, Any]:
    """A valid notifier message from the verified sender; `subject` identifies it."""
    return invoice_message(
        **{"sender": SENDER, "subject": subject, "html_content": None, "bucket_name": None}
        | changes
    )


def start_runner(stack: Provisioned, function: Function | None = None) -> BackgroundRunner:
    """`serve` on the stack's queue, on a thread, with the in-process handler unless given."""
    lines: list[str] = []
    background = BackgroundRunner(
        runner=Runner(
            queue=SqsQueue.connect(boto3.client("sqs"), url=stack.queue_url),
            function=function or InProcessFunction(bootstrap(configure_logs=False)),
            wait_seconds=WAIT_SECONDS,
            report=lines.append,
        ),
        lines=lines,
    )
    background.start()
    return background


@pytest.fixture
def runner(stack: Provisioned) -> Iterator[BackgroundRunner]:
    """`serve` on this test's queue, running until the test ends."""
    background = start_runner(stack)
    try:
        yield background
    finally:
        background.close()


def wait_until(condition: Callable[[], bool], *, timeout_s: float, what: str) -> None:
    """Poll `condition` until it holds; fail naming `what` after `timeout_s`."""
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout_s} s: {what}")
        time.sleep(0.1)
