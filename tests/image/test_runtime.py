"""The tree run as Lambda runs it: the real runtime interface client, an interpreter that sees
only the task root, the runtime directory and the standard library, and Lambda's environment.

No AWS service is reachable from these functions (AWS_ENDPOINT_URL is a closed port): they
cover the cold start and what the runtime reports when it fails. Sending is in test_send.py.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from devtools.execution_env import FunctionConfig, InvocationFailed, lambda_environment
from devtools.image_tree import ImageTree, build_image_tree
from tests.image.conftest import UNREACHABLE_AWS, StartFunction, lock_without
from tests.support.privacy import PrivateData, assert_no_leaks

EVENTS = Path(__file__).parent.parent / "events"
OFFLINE = {
    "AWS_ENDPOINT_URL": UNREACHABLE_AWS,
    "NOTIFIER_ALLOWED_SENDERS": "@acubeapi.com",
    "NOTIFIER_SES_MAX_ATTEMPTS": "1",
    "NOTIFIER_METRICS_MODE": "off",
}
# A handler that reports what the interpreter running it sees; it lives in a copy of the runtime
# directory, so the task root under test stays the built one.
PROBE = """
import importlib.util, os, sys

def handler(event, context):
    return {
        "sys_path": sys.path,
        "environment": sorted(os.environ),
        "site_imported": "site" in sys.modules,
        "flags": [sys.flags.isolated, sys.flags.no_site, sys.flags.dont_write_bytecode],
        "origins": {
            name: getattr(importlib.util.find_spec(name), "origin", None)
            for name in ("notifier", "boto3", "structlog", "awslambdaric", "json")
        },
        "cwd": os.getcwd(),
        "version": list(sys.version_info[:2]),
        "context": {
            "function_arn": context.invoked_function_arn,
            "remaining_ms": context.get_remaining_time_in_millis(),
        },
    }
"""


def load_event(name: str) -> Any:
    return json.loads((EVENTS / name).read_text(encoding="utf-8"))


def test_the_function_sees_only_the_task_root_the_runtime_and_the_standard_library(
    start_function: StartFunction,
    image_tree: ImageTree,
    runtime_dir: Path,
    python: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """GIVEN the built tree, a probe handler beside awslambdaric in the runtime directory, and
    PYTHONPATH and a NOTIFIER_ variable planted in this test's environment
    WHEN the runtime invokes the probe
    THEN sys.path is the task root, the runtime directory and the standard library, in that
    order; `site` never ran; notifier and its dependencies come from the task root; and the
    environment holds Lambda's variables and the function's, nothing of this test process."""
    monkeypatch.setenv("PYTHONPATH", str(tmp_path / "planted"))
    monkeypatch.setenv("NOTIFIER_PLANTED", "from the test process")
    runtime = shutil.copytree(runtime_dir, tmp_path / "runtime")
    (runtime / "image_probe.py").write_text(PROBE, encoding="utf-8")
    config = FunctionConfig(variables=OFFLINE, handler="image_probe.handler")
    function = start_function(config, runtime=runtime)

    seen = function.invoke({})

    prefix = python.parent.parent
    assert seen["sys_path"] == [
        str(image_tree.task_root),
        str(runtime),
        f"{prefix}/lib/python312.zip",
        f"{prefix}/lib/python3.12",
        f"{prefix}/lib/python3.12/lib-dynload",
    ]
    assert (seen["site_imported"], seen["flags"], seen["version"]) == (False, [1, 1, 1], [3, 12])
    assert seen["origins"] == {
        "notifier": f"{image_tree.task_root}/notifier/__init__.py",
        "boto3": f"{image_tree.task_root}/boto3/__init__.py",
        "structlog": f"{image_tree.task_root}/structlog/__init__.py",
        "awslambdaric": f"{runtime}/awslambdaric/__init__.py",
        "json": f"{prefix}/lib/python3.12/json/__init__.py",
    }
    assert seen["cwd"] == str(image_tree.task_root)
    assert seen["context"]["function_arn"] == config.function_arn
    assert (
        config.timeout_s * 1000 - 5000 < seen["context"]["remaining_ms"] <= config.timeout_s * 1000
    )
    given = lambda_environment(
        config, tree=image_tree, runtime_dir=runtime, api_address=function.api.address
    )
    # awslambdaric sets the trace id per invocation; Python adds LC_CTYPE when the locale
    # Lambda names (en_US.UTF-8) is not installed here and it coerces C to C.UTF-8 (PEP 538).
    assert set(seen["environment"]) - {"_X_AMZN_TRACE_ID", "LC_CTYPE"} == set(given)
    assert not {"PYTHONPATH", "NOTIFIER_PLANTED", "HOME", "VIRTUAL_ENV"} & set(given)


def test_the_images_handler_starts_and_answers(start_function: StartFunction) -> None:
    """GIVEN the image's CMD as the handler and no AWS reachable
    WHEN an invalid message and the sample are invoked through the Runtime API
    THEN the cold start succeeds; the invalid one gets 400 and the sample 503 (SES down)."""
    function = start_function(FunctionConfig(variables=OFFLINE))

    invalid = function.invoke({**load_event("direct.json"), "recipients": []})
    unreachable = function.invoke(load_event("direct.json"))

    assert invalid["statusCode"] == 400, function.output()
    assert [error["field"] for error in invalid["errors"]] == ["recipients"]
    assert unreachable["statusCode"] == 503, function.output()


def test_an_sns_record_not_sent_fails_the_invocation(start_function: StartFunction) -> None:
    """GIVEN SES unreachable
    WHEN the SNS sample is invoked
    THEN the handler raises and the runtime posts the invocation's error (RecordsFailed), so
    Lambda's asynchronous retries and on-failure destination keep the message."""
    function = start_function(FunctionConfig(variables=OFFLINE))

    with pytest.raises(InvocationFailed) as failed:
        function.invoke(load_event("sns.json"))

    error = failed.value.posted.json()
    assert (error["errorType"], error["errorMessage"]) == (
        "RecordsFailed",
        "1 SNS record(s) not processed: 95df01b4-ee98-5cb9-9903-4c221d41eb5e",
    ), function.output()


@pytest.mark.parametrize(
    ("handler", "error_type", "message"),
    [
        (
            "notifier.entrypoints.no_such_module.handler",
            "Runtime.ImportModuleError",
            "Unable to import module 'notifier.entrypoints.no_such_module': No module named "
            "'notifier.entrypoints.no_such_module'",
        ),
        (
            "notifier.entrypoints.lambda_handler.no_such_function",
            "Runtime.HandlerNotFound",
            "Handler 'no_such_function' missing on module 'notifier.entrypoints.lambda_handler'",
        ),
        ("handler", "Runtime.MalformedHandlerName", "Bad handler 'handler': "),
    ],
)
def test_a_handler_that_does_not_resolve_fails_the_cold_start(
    start_function: StartFunction, handler: str, error_type: str, message: str
) -> None:
    """GIVEN a handler string naming no module, no function, or nothing importable
    WHEN the runtime starts
    THEN it reports an init error of that kind on /runtime/init/error and exits."""
    function = start_function(FunctionConfig(variables=OFFLINE, handler=handler))

    error = function.wait_for_init_error()

    assert error.error_type == error_type, function.output()
    assert error.json()["errorMessage"].startswith(message)
    assert function.process.returncode == 1


def test_a_lock_missing_a_dependency_fails_the_cold_start(
    start_function: StartFunction, python: Path, tmp_path: Path
) -> None:
    """GIVEN a tree built from a copy of requirements/lambda.txt without structlog
    WHEN the runtime imports the image's handler
    THEN it reports an ImportModuleError naming structlog on /runtime/init/error, so the test
    of the real tree fails the same way when the lock loses a dependency."""
    lock = tmp_path / "lambda.txt"
    lock.write_text(lock_without("structlog"), encoding="utf-8")
    tree = build_image_tree(tmp_path / "image", lock=lock, python=python)
    function = start_function(FunctionConfig(variables=OFFLINE), tree=tree)

    error = function.wait_for_init_error()

    assert "structlog" not in tree.top_level_modules()
    assert error.error_type == "Runtime.ImportModuleError", function.output()
    assert error.json()["errorMessage"] == (
        "Unable to import module 'notifier.entrypoints.lambda_handler': No module named 'structlog'"
    )


def test_the_function_logs_no_credential_address_or_body_under_the_templates_log_level(
    start_function: StartFunction,
) -> None:
    """GIVEN the function configured as template.yaml does (JSON logs, application level TRACE)
    and planted credentials
    WHEN the sample is invoked (SES unreachable: one attempt is made and logged)
    THEN nothing it writes holds a full address, a body or a credential."""
    token = "IQoJb3JpZ2luX2VjEPLANTEDsessionTOKEN"
    credentials = {
        "AWS_ACCESS_KEY_ID": "ASIAPLANTEDACCESSKEY",
        "AWS_SECRET_ACCESS_KEY": "planted/secret/access/key/0123456789",
        "AWS_SESSION_TOKEN": token,
    }
    function = start_function(FunctionConfig(variables=OFFLINE, credentials=credentials))
    event = load_event("direct.json")
    private = PrivateData()
    private.add_message(event)
    for value in credentials.values():
        private.add_credential(value)

    function.invoke(event)

    assert_no_leaks(private, function.output().splitlines(), what="the function's output")
