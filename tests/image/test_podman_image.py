"""The real Dockerfile, built and run with podman on a stand-in of the AWS base image.

This machine and CI have the docker CLI but no engine, and no registry to pull
public.ecr.aws/lambda/python:3.12 from. So rootful podman builds the Dockerfile with
BASE_IMAGE=localhost/lambda-python-standin:3.12 (Debian, this machine's CPython 3.12 and the
runtime interface client; mk/podman/build-standin.sh), and the function's image runs as in
Lambda: its runtime interface client polls a Runtime API that the test serves on 127.0.0.1 and
the handler sends through a LocalStack of this module's own.

Whether podman works is checked once per session; without it every test skips with what is
missing. With PODMAN_TESTS_REQUIRED=1 (CI sets it) they fail instead of skipping.
"""

from __future__ import annotations

import contextlib
import os
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import attrs
import pytest

from devtools.runtime_api import Posted, RuntimeApi
from tests.container.harness import load_event, run
from tests.image import podman
from tests.support.localstack import LocalStack
from tests.support.ses_outbox import SentEmail, SesOutbox

pytestmark = pytest.mark.integration

HANDLER = "notifier.entrypoints.lambda_handler.handler"
SENDER_DOMAIN = "acubeapi.com"
REGION = "us-east-1"
FUNCTION_ARN = f"arn:aws:lambda:{REGION}:000000000000:function:notifier"
FUNCTION_IMAGE = "notifier:podman-test"
TOOLS_IMAGE = "notifier-tools:podman-test"


@pytest.fixture(scope="session")
def podman_works() -> None:
    """Skip (or fail, with PODMAN_TESTS_REQUIRED=1) unless rootful podman works here."""
    reason = podman.unavailable_reason()
    if reason is None:
        return
    if os.environ.get("PODMAN_TESTS_REQUIRED") == "1":
        pytest.fail(f"PODMAN_TESTS_REQUIRED=1, but {reason}")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def standin(podman_works: None) -> str:
    """The stand-in base image, from Debian and the CPython running these tests."""
    return podman.build_standin(python=sys.executable)


@pytest.fixture(scope="session")
def function_image(standin: str) -> str:
    """The Dockerfile's `function` stage: what Lambda runs."""
    return podman.build(target="function", tag=FUNCTION_IMAGE)


@pytest.fixture(scope="session")
def tools_image(standin: str) -> str:
    """The Dockerfile's `tools` stage: the local tooling compose runs beside the function."""
    return podman.build(target="tools", tag=TOOLS_IMAGE)


@attrs.frozen
class Function:
    """The function's image running, polling `api` for invocations."""

    api: RuntimeApi
    container: podman.Container

    def invoke(self, event: Any) -> Posted:
        """Invoke the function once through the Runtime API; its response or error."""
        return podman.invoke(self.api, event, container=self.container)


def _environment(localstack: LocalStack, api: RuntimeApi) -> dict[str, str]:
    """What Lambda and the SAM template would set, with AWS at the module's LocalStack."""
    return {
        "AWS_LAMBDA_RUNTIME_API": api.address,
        "AWS_LAMBDA_FUNCTION_NAME": "notifier",
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "512",
        "AWS_ENDPOINT_URL": localstack.endpoint_url,
        "AWS_REGION": REGION,
        "AWS_DEFAULT_REGION": REGION,
        "AWS_ACCESS_KEY_ID": "test",
        "AWS_SECRET_ACCESS_KEY": "test",
        "NOTIFIER_ALLOWED_SENDERS": f"@{SENDER_DOMAIN}",
        "NOTIFIER_ATTACHMENT_BUCKETS": "acube-invoices",
        "NOTIFIER_METRICS_MODE": "off",
    }


@contextlib.contextmanager
def _running(image: str, env: dict[str, str], log_path: Path) -> Iterator[podman.Container]:
    container = podman.start(image, env=env, log_path=log_path)
    try:
        yield container
    finally:
        container.remove()


@pytest.fixture
def function(function_image: str, localstack: LocalStack, tmp_path: Path) -> Iterator[Function]:
    """The function's image started with its own entry point and command; removed afterwards."""
    with RuntimeApi(function_arn=FUNCTION_ARN) as api:
        env = _environment(localstack, api)
        with _running(function_image, env, tmp_path / "function.log") as container:
            yield Function(api=api, container=container)


def test_direct_invocation_is_sent_through_ses(function: Function, ses_outbox: SesOutbox) -> None:
    """GIVEN the function's image running on the stand-in, its runtime client polling the
    test's Runtime API, SES at LocalStack
    WHEN the producers' sample is invoked directly
    THEN the handler responds 200 with the SES message id, and that email is in the outbox."""
    subject = f"podman {uuid.uuid4().hex}"

    answer = function.invoke(load_event("direct.json", subject=subject))

    assert answer.kind == "response", f"{answer}\n{function.container.logs()}"
    body = answer.json()
    assert body == {"statusCode": 200, "messageId": body.get("messageId")}
    assert body["messageId"], answer
    (sent,) = ses_outbox.wait_for(1, matching=_with_subject(subject))
    assert sent.message_id == body["messageId"]
    assert sent.recipients == ("user@example.com",)


def test_an_sns_record_not_sent_is_reported_as_an_invocation_error(function: Function) -> None:
    """An SNS notification whose message is invalid makes the handler raise, so the runtime
    client posts invocation/{id}/error (Lambda then retries the asynchronous event)."""
    event = load_event("sns.json")
    event["Records"][0]["Sns"]["Message"] = '{"sender": "noreply@acubeapi.com"}'

    answer = function.invoke(event)

    assert answer.kind == "error", f"{answer}\n{function.container.logs()}"
    assert answer.json()["errorType"] == "RecordsFailed", answer


def test_a_bad_setting_fails_the_cold_start_through_init_error(
    function_image: str, localstack: LocalStack, tmp_path: Path
) -> None:
    """A bad NOTIFIER_* value fails the module import, and the runtime client reports it on
    init/error with the variable's name, before any invocation."""
    with RuntimeApi(function_arn=FUNCTION_ARN) as api:
        env = {**_environment(localstack, api), "NOTIFIER_METRICS_MODE": "sideways"}
        with _running(function_image, env, tmp_path / "function.log") as container:
            error = podman.wait_for_init_error(api, container=container).json()

    assert error["errorType"] == "SettingsError", error
    assert "NOTIFIER_METRICS_MODE" in error["errorMessage"], error


def test_function_image_holds_no_local_tooling_and_no_tests(function_image: str) -> None:
    """The task root holds the package and its dependencies only: neither devtools/ nor
    tests/ is in the image, nor importable from the handler's working directory."""
    probe = (
        "import importlib.util, json, os, pathlib;"
        "root = pathlib.Path(os.environ['LAMBDA_TASK_ROOT']);"
        "print(json.dumps({'cwd': os.getcwd(), 'root': str(root),"
        "'notifier': (root / 'notifier' / '__init__.py').is_file(),"
        "'present': [p for p in ('devtools', 'tests') if (root / p).exists()],"
        "'importable': [m for m in ('devtools', 'tests') if importlib.util.find_spec(m)]}))"
    )

    found = podman.contents(function_image, probe)

    assert found["cwd"] == found["root"] == "/var/task"
    assert found["notifier"]
    assert found["present"] == []
    assert found["importable"] == []


def test_tools_image_runs_the_local_tooling(tools_image: str) -> None:
    """The `tools` stage runs `python3 -m devtools --help` by default (entry point and
    command), listing the provision, serve and send commands."""
    usage = run(
        ["podman", "run", "--rm", "--network", "host", tools_image],
        env=podman.podman_env(),
        timeout_s=podman.COMMAND_TIMEOUT_S,
    )

    assert "python -m devtools" in usage.stdout
    assert all(command in usage.stdout for command in ("provision", "serve", "send"))


def _with_subject(subject: str) -> Any:
    def matches(email: SentEmail) -> bool:
        return email.subject == subject

    return matches
