"""Integration tier: one LocalStack for the whole session, AWS clients pointed at it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.localstack import LocalStack, start_localstack
from tests.support.moto import MotoServer, start_moto
from tests.support.ses_outbox import SesOutbox

SERVICES = "sqs,sns,ses,s3,cloudwatch"
REGION = "us-east-1"
HERE = Path(__file__).parent


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark every test under tests/integration as `integration`."""
    # The hook sees the whole session's items, not only this directory's.
    for item in items:
        if item.path.is_relative_to(HERE):
            item.add_marker(pytest.mark.integration)


@pytest.fixture(scope="session")
def moto(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MotoServer]:
    """moto's server, once per session: the tests' DynamoDB (see DEVELOPERS.md).

    TODO: with a Docker engine, LocalStack's own DynamoDB works; adding `dynamodb` to SERVICES
    in that mode would let it replace moto. Not done yet: `start_localstack` picks the mode only
    after SERVICES is fixed, and moto serves both modes alike.
    """
    server = start_moto(workdir=tmp_path_factory.mktemp("moto"))
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def localstack(tmp_path_factory: pytest.TempPathFactory, moto: MotoServer) -> Iterator[LocalStack]:
    """A LocalStack started once per session, with the AWS_* environment pointed at it.

    boto3 reads AWS_ENDPOINT_URL, so every client the code under test builds talks to it;
    DynamoDB clients read AWS_ENDPOINT_URL_DYNAMODB first, which points at moto.
    """
    running = start_localstack(services=SERVICES, workdir=tmp_path_factory.mktemp("localstack"))
    try:
        with pytest.MonkeyPatch.context() as env:
            env.delenv("AWS_PROFILE", raising=False)  # a developer's profile must not leak in
            env.setenv("AWS_ENDPOINT_URL", running.endpoint_url)
            env.setenv("AWS_ENDPOINT_URL_DYNAMODB", moto.endpoint_url)
            env.setenv("AWS_ACCESS_KEY_ID", "test")
            env.setenv("AWS_SECRET_ACCESS_KEY", "test")
            env.setenv("AWS_DEFAULT_REGION", REGION)
            env.setenv("AWS_REGION", REGION)
            yield running
    finally:
        running.stop()


@pytest.fixture
def ses_outbox(localstack: LocalStack) -> SesOutbox:
    """The SES outbox of the session's LocalStack, emptied before the test."""
    outbox = SesOutbox(endpoint_url=localstack.endpoint_url)
    outbox.clear()
    return outbox
