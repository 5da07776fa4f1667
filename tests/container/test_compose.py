"""`docker compose up` end to end: LocalStack provisioned by the one-shot `provision` service,
the function behind the emulator, the runner feeding it from the queue; every message must
land in LocalStack's SES outbox.

The stack runs under a project name of its own, on free ports of 127.0.0.1, so it neither
meets a developer's `docker compose up` nor leaves anything behind.
"""

from __future__ import annotations

import contextlib
import json
import os
import uuid
from collections.abc import Iterator
from typing import Any

import attrs
import boto3
import pytest

from tests.container.harness import (
    BUILD_TIMEOUT_S,
    REPO_ROOT,
    CommandFailed,
    free_port,
    invoke,
    load_event,
    run,
    succeeds,
    wait_for_port,
)
from tests.support.ses_outbox import SentEmail, SesOutbox

COMPOSE_FILE = REPO_ROOT / "docker-compose.yml"
QUEUE_NAME = "notifier-email"
TOPIC_NAME = "notifier-email"
REGION = "us-east-1"
UP_TIMEOUT_S = BUILD_TIMEOUT_S + 300.0  # build, pull LocalStack, provision, health checks
COMMAND_TIMEOUT_S = 120.0
DELIVERY_TIMEOUT_S = 60.0  # queue -> runner -> function -> SES


@attrs.frozen
class Stack:
    """A running `docker compose up -d` of the repository's compose file."""

    compose: tuple[str, ...]  # the compose command with its file and project name
    env: dict[str, str]
    localstack_url: str
    notifier_url: str

    def logs(self) -> str:
        """The last lines of every service's output, for failure messages."""
        result = run(
            [*self.compose, "logs", "--no-color", "--tail", "100"],
            env=self.env,
            timeout_s=COMMAND_TIMEOUT_S,
            check=False,
        )
        return f"--- compose logs:\n{result.stdout}{result.stderr}"

    def client(self, service: str) -> Any:
        """A boto3 client of the stack's LocalStack, from the host."""
        return boto3.client(
            service,
            endpoint_url=self.localstack_url,
            region_name=REGION,
            aws_access_key_id="test",
            aws_secret_access_key="test",
        )


def _compose_command() -> tuple[str, ...]:
    """The Compose v2 plugin when it is installed, else the standalone docker-compose."""
    for command in (("docker", "compose"), ("docker-compose",)):
        if succeeds([*command, "version"], timeout_s=COMMAND_TIMEOUT_S):
            return command
    pytest.skip("no Docker Compose (neither `docker compose` nor `docker-compose` runs)")


@pytest.fixture(scope="module")
def stack(docker_engine: None) -> Iterator[Stack]:
    """The compose stack, up and provisioned; taken down with its volumes afterwards."""
    project = f"notifier-test-{uuid.uuid4().hex[:8]}"
    localstack_port, notifier_port = free_port(), free_port()
    running = Stack(
        compose=(*_compose_command(), "--file", str(COMPOSE_FILE), "--project-name", project),
        env={
            **os.environ,
            "LOCALSTACK_HOST_PORT": str(localstack_port),
            "NOTIFIER_HOST_PORT": str(notifier_port),
        },
        localstack_url=f"http://127.0.0.1:{localstack_port}",
        notifier_url=f"http://127.0.0.1:{notifier_port}",
    )
    try:
        # `up` returns once provision has exited 0 and notifier is healthy: runner waits on both.
        try:
            run(
                [*running.compose, "up", "--detach", "--build"],
                env=running.env,
                timeout_s=UP_TIMEOUT_S,
            )
        except CommandFailed as failure:
            pytest.fail(f"{failure}\n{running.logs()}")
        wait_for_port("127.0.0.1", notifier_port, timeout_s=COMMAND_TIMEOUT_S)
        yield running
    finally:
        run(
            [*running.compose, "down", "--volumes", "--remove-orphans", "--timeout", "10"],
            env=running.env,
            timeout_s=COMMAND_TIMEOUT_S,
            check=False,
        )


@pytest.fixture
def outbox(stack: Stack) -> SesOutbox:
    """The stack's SES outbox. Not emptied: every test matches its own unique subject."""
    return SesOutbox(endpoint_url=stack.localstack_url)


def _message(subject: str) -> dict[str, Any]:
    return load_event("direct.json", subject=subject)


def _subject(test: str) -> str:
    return f"{test} {uuid.uuid4().hex}"


def _with_subject(subject: str) -> Any:
    def matches(email: SentEmail) -> bool:
        return email.subject == subject

    return matches


def test_direct_invocation_is_sent_through_ses(stack: Stack, outbox: SesOutbox) -> None:
    """GIVEN the stack is up
    WHEN the seed message is invoked directly on the published emulator port
    THEN the response is 200 with the SES message id, and that message is in the outbox."""
    subject = _subject("direct")

    response = invoke(stack.notifier_url, _message(subject))

    assert response.get("statusCode") == 200, f"{response}\n{stack.logs()}"
    (sent,) = outbox.wait_for(1, matching=_with_subject(subject))
    assert sent.message_id == response["messageId"]
    assert sent.recipients == ("user@example.com",)


def test_queued_message_is_sent_by_the_runner(stack: Stack, outbox: SesOutbox) -> None:
    """GIVEN the provisioned queue
    WHEN a producer sends the seed message to it
    THEN the runner hands it to the function in an SQS batch and it reaches SES."""
    subject = _subject("queued")
    with contextlib.closing(stack.client("sqs")) as sqs:
        queue_url = sqs.get_queue_url(QueueName=QUEUE_NAME)["QueueUrl"]

        sqs.send_message(QueueUrl=queue_url, MessageBody=json.dumps(_message(subject)))

    try:
        outbox.wait_for(1, matching=_with_subject(subject), timeout_s=DELIVERY_TIMEOUT_S)
    except AssertionError as missing:
        raise AssertionError(f"{missing}\n{stack.logs()}") from None


def test_message_published_with_channel_email_is_sent(stack: Stack, outbox: SesOutbox) -> None:
    """GIVEN the provisioned topic, subscribed by the queue with the filter channel = email
    WHEN a producer publishes the seed message with that attribute
    THEN it travels topic -> queue -> runner -> function and reaches SES."""
    subject = _subject("published")
    with contextlib.closing(stack.client("sns")) as sns:
        topics = sns.list_topics()["Topics"]
        (topic_arn,) = [t["TopicArn"] for t in topics if t["TopicArn"].endswith(f":{TOPIC_NAME}")]

        sns.publish(
            TopicArn=topic_arn,
            Message=json.dumps(_message(subject)),
            MessageAttributes={"channel": {"DataType": "String", "StringValue": "email"}},
        )

    try:
        outbox.wait_for(1, matching=_with_subject(subject), timeout_s=DELIVERY_TIMEOUT_S)
    except AssertionError as missing:
        raise AssertionError(f"{missing}\n{stack.logs()}") from None
