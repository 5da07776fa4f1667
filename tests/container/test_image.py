"""The function's image: what it holds, and the handler answering through the emulator.

The Runtime Interface Emulator in the AWS base image serves Lambda's Invoke API on port 8080,
so the image is invoked exactly as Lambda would invoke it. No AWS service is reachable from
the container here: these tests cover the image, the compose tests cover sending.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator

import attrs
import pytest

from tests.container.harness import REPO_ROOT, invoke, load_event, run, wait_for_port

START_TIMEOUT_S = 30.0
DOCKER_TIMEOUT_S = 60.0
# Nothing listens on port 9 (discard) inside the container: every AWS call fails at once.
UNREACHABLE_AWS = "http://127.0.0.1:9"
ENVIRONMENT = {
    "AWS_ENDPOINT_URL": UNREACHABLE_AWS,
    "AWS_REGION": "us-east-1",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_ACCESS_KEY_ID": "test",
    "AWS_SECRET_ACCESS_KEY": "test",
    "NOTIFIER_ALLOWED_SENDERS": "@acubeapi.com",
    "NOTIFIER_SES_MAX_ATTEMPTS": "1",
    "NOTIFIER_METRICS_MODE": "off",
}
HANDLER = "notifier.entrypoints.lambda_handler.handler"


@attrs.frozen
class Emulator:
    """The image running with its default entry point: the emulator in front of the handler."""

    url: str
    container: str

    def logs(self) -> str:
        """The container's output (the handler's log lines), for failure messages."""
        logs = run(["docker", "logs", self.container], timeout_s=DOCKER_TIMEOUT_S, check=False)
        return f"--- logs of container {self.container}:\n{logs.stdout}{logs.stderr}"


@pytest.fixture(scope="module")
def emulator(notifier_image: str) -> Iterator[Emulator]:
    """The image started once for this module, on a free port of 127.0.0.1."""
    env_args = [arg for name, value in ENVIRONMENT.items() for arg in ("--env", f"{name}={value}")]
    container = run(
        ["docker", "run", "--detach", "--publish", "127.0.0.1::8080", *env_args, notifier_image],
        timeout_s=DOCKER_TIMEOUT_S,
    ).stdout.strip()
    try:
        published = run(["docker", "port", container, "8080/tcp"], timeout_s=DOCKER_TIMEOUT_S)
        port = int(published.stdout.split()[0].rsplit(":", 1)[1])
        wait_for_port("127.0.0.1", port, timeout_s=START_TIMEOUT_S)
        yield Emulator(url=f"http://127.0.0.1:{port}", container=container)
    finally:
        run(["docker", "rm", "--force", container], timeout_s=DOCKER_TIMEOUT_S, check=False)


def test_seed_direct_event_gets_a_json_response(emulator: Emulator) -> None:
    """GIVEN the image behind the emulator, with SES unreachable
    WHEN the seed direct event is invoked
    THEN the handler answers with a direct-invocation response: 503, retry later."""
    response = invoke(emulator.url, load_event("direct.json"))

    assert isinstance(response, dict), f"{response}\n{emulator.logs()}"
    assert response.get("statusCode") == 503, f"{response}\n{emulator.logs()}"
    assert response["errors"], response


def test_invalid_message_gets_400_naming_the_field(emulator: Emulator) -> None:
    """An invalid message is answered by validation alone, without any AWS call."""
    response = invoke(emulator.url, load_event("direct.json", recipients=[]))

    assert response.get("statusCode") == 400, f"{response}\n{emulator.logs()}"
    assert [error["field"] for error in response["errors"]] == ["recipients"], response


def test_image_runs_the_handler_by_default(notifier_image: str) -> None:
    """The image's command is the handler; the base image's entry point starts the runtime."""
    inspected = run(
        ["docker", "image", "inspect", "--format", "{{json .Config.Cmd}}", notifier_image],
        timeout_s=DOCKER_TIMEOUT_S,
    )

    assert json.loads(inspected.stdout) == [HANDLER]


def test_image_holds_the_locked_dependencies_and_the_package_only(notifier_image: str) -> None:
    """The task root has the lock file's pins and the byte-compiled package; no tests, no lock
    file, no local tooling (devtools/ is the `tools` stage's), and `python3 -m notifier` (the
    operations commands) works from the working directory."""
    probe = (
        "import json, os, pathlib, boto3, notifier;"
        "root = pathlib.Path(os.environ['LAMBDA_TASK_ROOT']);"
        "print(json.dumps({"
        "'cwd': os.getcwd(), 'root': str(root), 'boto3': boto3.__version__,"
        "'boto3_at': boto3.__file__, 'notifier_at': notifier.__file__,"
        "'compiled': any((root / 'notifier' / '__pycache__').glob('*.pyc')),"
        "'strays': [p for p in ('tests', 'requirements', 'pyproject.toml', 'devtools')"
        " if (root / p).exists()] + [p for p in ('/tmp/requirements.txt',)"
        " if os.path.exists(p)]}))"
    )
    found = json.loads(
        run(
            ["docker", "run", "--rm", "--entrypoint", "python3", notifier_image, "-c", probe],
            timeout_s=DOCKER_TIMEOUT_S,
        ).stdout
    )
    cli = run(
        [
            "docker",
            "run",
            "--rm",
            "--entrypoint",
            "python3",
            notifier_image,
            "-m",
            "notifier",
            "-h",
        ],
        timeout_s=DOCKER_TIMEOUT_S,
    )

    root = found["root"]
    assert found["cwd"] == root
    assert found["boto3"] == _locked_version("boto3")
    assert found["boto3_at"].startswith(f"{root}/boto3/")
    assert found["notifier_at"] == f"{root}/notifier/__init__.py"
    assert found["compiled"]
    assert found["strays"] == []
    assert "usage:" in cli.stdout


def test_the_tools_image_runs_the_local_tooling(tools_image: str) -> None:
    """The `tools` stage's entry point is `python3 -m devtools` (compose's provision and
    runner); the function's image cannot run it (test above: no devtools/ there)."""
    usage = run(["docker", "run", "--rm", tools_image, "--help"], timeout_s=DOCKER_TIMEOUT_S)

    assert "python -m devtools" in usage.stdout
    assert all(command in usage.stdout for command in ("provision", "serve", "send"))


def _locked_version(package: str) -> str:
    lock = (REPO_ROOT / "requirements" / "lambda.txt").read_text(encoding="utf-8")
    match = re.search(rf"^{re.escape(package)}==(\S+)", lock, flags=re.MULTILINE)
    assert match, f"{package} is not pinned in requirements/lambda.txt"
    return match.group(1)
