"""Image tier: the function's tree as the Dockerfile builds it, run as Lambda runs it, no Docker.

The tree (`devtools.image_tree`) and the runtime directory (awslambdaric, the base image's
/var/runtime; `devtools.execution_env`) are built once per session; with pip's cache warm that
takes a few seconds. Every test that runs the function starts its own execution environment
(an isolated python3.12 polling a Runtime API the test serves) and stops it afterwards. The
tests that send mail use a LocalStack of their own, started when the first of them needs it.
"""

from __future__ import annotations

import contextlib
import itertools
import platform
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from devtools.execution_env import ExecutionEnvironment, FunctionConfig, install_runtime
from devtools.image_tree import LOCK_FILE, ImageTree, build_image_tree, python312
from tests.support.localstack import LocalStack, start_localstack
from tests.support.ses_outbox import SesOutbox

SERVICES = "ses"
REGION = "us-east-1"
SENDER_DOMAIN = "acubeapi.com"
# Nothing listens on port 9 (discard): a test that should not reach AWS cannot.
UNREACHABLE_AWS = "http://127.0.0.1:9"

StartFunction = Callable[..., ExecutionEnvironment]


@pytest.fixture(scope="session")
def python() -> Path:
    """CPython 3.12 itself, outside any virtual environment: what compiles and runs the tree.

    Skips on anything but Linux x86_64: the tree's wheels are the image's, for that platform.
    """
    if not (sys.platform == "linux" and platform.machine() == "x86_64"):
        pytest.skip("the tree holds the image's Linux x86_64 wheels: they run nowhere else")
    return python312()


@pytest.fixture(scope="session")
def image_tree(tmp_path_factory: pytest.TempPathFactory, python: Path) -> ImageTree:
    """The function's tree, built once per session from requirements/lambda.txt and notifier/."""
    return build_image_tree(tmp_path_factory.mktemp("image"), python=python)


@pytest.fixture(scope="session")
def runtime_dir(tmp_path_factory: pytest.TempPathFactory, python: Path) -> Path:
    """The runtime directory, once per session: awslambdaric and bootstrap.py."""
    return install_runtime(tmp_path_factory.mktemp("runtime"))


@pytest.fixture
def start_function(
    tmp_path: Path, python: Path, image_tree: ImageTree, runtime_dir: Path
) -> Iterator[StartFunction]:
    """Start an execution environment: `start_function(config, tree=..., runtime=...)`
    (the session's tree and runtime directory by default); each is stopped after the test."""
    numbers = itertools.count()
    with contextlib.ExitStack() as running:

        def start(
            config: FunctionConfig, *, tree: ImageTree | None = None, runtime: Path | None = None
        ) -> ExecutionEnvironment:
            workdir = tmp_path / f"function-{next(numbers)}"
            workdir.mkdir()
            function = ExecutionEnvironment.start(
                tree=tree or image_tree,
                runtime_dir=runtime or runtime_dir,
                python=python,
                config=config,
                workdir=workdir,
            )
            running.callback(function.stop)
            return function

        yield start


def lock_without(package: str, *, lock: Path = LOCK_FILE) -> str:
    """The lock file's text with `package`'s pin (its hashes and comments too) left out."""
    kept: list[str] = []
    dropping = False
    for line in lock.read_text(encoding="utf-8").splitlines(keepends=True):
        if not line[:1].isspace():  # a pin, or a comment at the margin, starts a new block
            dropping = line.lower().startswith(f"{package.lower()}==")
        if not dropping:
            kept.append(line)
    text = "".join(kept)
    if text == lock.read_text(encoding="utf-8"):
        raise ValueError(f"{package} is not pinned in {lock}")
    return text


@pytest.fixture(scope="session")
def localstack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    """A LocalStack with SES, and the sender's domain verified in it, for the whole session."""
    running = start_localstack(services=SERVICES, workdir=tmp_path_factory.mktemp("localstack"))
    try:
        with contextlib.closing(ses_client(running.endpoint_url)) as ses:
            ses.verify_domain_identity(Domain=SENDER_DOMAIN)
        yield running
    finally:
        running.stop()


@pytest.fixture
def ses_outbox(localstack: LocalStack) -> SesOutbox:
    """LocalStack's SES outbox, emptied before the test."""
    outbox = SesOutbox(endpoint_url=localstack.endpoint_url)
    outbox.clear()
    return outbox


def ses_client(endpoint_url: str) -> Any:
    """An SES client of the test's own (the function's clients live in its own process)."""
    return boto3.client(
        "ses",
        endpoint_url=endpoint_url,
        region_name=REGION,
        aws_access_key_id="test",
        aws_secret_access_key="test",
    )
