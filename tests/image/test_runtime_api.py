"""The Runtime API the image tests serve answers as Lambda's does, request by request.

The runtime interface client only takes the paths Lambda answers well; these are the rest of
the protocol (ids never handed out, answers given twice, unknown paths), spoken over plain HTTP.
"""

from __future__ import annotations

import http.client
import json
import threading
from collections.abc import Iterator

import pytest

from devtools.runtime_api import INIT_ERROR_PATH, NEXT_PATH, PREFIX, RuntimeApi

ARN = "arn:aws:lambda:us-east-1:000000000000:function:notifier"


@pytest.fixture
def api() -> Iterator[RuntimeApi]:
    with RuntimeApi(function_arn=ARN) as serving:
        yield serving


def request(
    api: RuntimeApi,
    method: str,
    path: str,
    body: bytes = b"",
    headers: dict[str, str] | None = None,
) -> tuple[int, dict[str, str], bytes]:
    connection = http.client.HTTPConnection(api.address, timeout=10)
    try:
        connection.request(method, path, body=body, headers=headers or {})
        response = connection.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    finally:
        connection.close()


def test_next_is_held_until_an_invocation_is_queued(api: RuntimeApi) -> None:
    """GIVEN a runtime waiting on GET next
    WHEN an event is queued
    THEN it gets the event with the request id, deadline, function ARN and trace headers."""
    answers: list[tuple[int, dict[str, str], bytes]] = []
    waiting = threading.Thread(target=lambda: answers.append(request(api, "GET", NEXT_PATH)))
    waiting.start()

    invocation = api.invoke(b'{"hello": "world"}', timeout_s=30)
    waiting.join(timeout=10)

    ((status, headers, body),) = answers
    assert (status, body) == (200, b'{"hello": "world"}')
    assert headers["Lambda-Runtime-Aws-Request-Id"] == invocation.request_id
    assert headers["Lambda-Runtime-Deadline-Ms"] == str(invocation.deadline_ms)
    assert headers["Lambda-Runtime-Invoked-Function-Arn"] == ARN
    assert headers["Lambda-Runtime-Trace-Id"].startswith("Root=1-")


def test_an_answer_counts_once_and_only_for_an_invocation_handed_out(api: RuntimeApi) -> None:
    """A response for an id never handed out, or for one already answered, is refused (400);
    the first answer resolves the invocation."""
    invocation = api.invoke(b"{}", timeout_s=30)
    response_path = f"{PREFIX}/invocation/{invocation.request_id}/response"

    early = request(api, "POST", response_path, b'"too early"')
    request(api, "GET", NEXT_PATH)
    first = request(api, "POST", response_path, b'"first"')
    second = request(api, "POST", response_path, b'"second"')

    assert [early[0], first[0], second[0]] == [400, 202, 400]
    assert invocation.posted.result(timeout=1).json() == "first"


def test_an_init_error_is_kept_with_its_type(api: RuntimeApi) -> None:
    """POST /runtime/init/error is accepted (202) and resolves `init_error` with its type."""
    document = {"errorMessage": "boom", "errorType": "Runtime.ImportModuleError"}

    status, _, _ = request(
        api,
        "POST",
        INIT_ERROR_PATH,
        json.dumps(document).encode(),
        {"Lambda-Runtime-Function-Error-Type": "Runtime.ImportModuleError"},
    )

    posted = api.init_error.result(timeout=1)
    assert (status, posted.error_type, posted.json()) == (
        202,
        "Runtime.ImportModuleError",
        document,
    )


@pytest.mark.parametrize(
    ("method", "path"),
    [("GET", f"{PREFIX}/invocation/nope"), ("POST", f"{PREFIX}/invocation/x/answer")],
)
def test_other_paths_are_not_found(api: RuntimeApi, method: str, path: str) -> None:
    """Paths outside the protocol answer 404."""
    assert request(api, method, path, b"{}")[0] == 404
