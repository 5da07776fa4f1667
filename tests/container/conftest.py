"""Container tier: the function's image and the compose stack, on a real Docker engine.

Every test here is marked `docker`. Whether an engine answers is checked once per session
(`docker info`); without one every test skips with the same reason, so `pytest tests` stays
green on a machine that has only the docker CLI.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.container.harness import BUILD_TIMEOUT_S, REPO_ROOT, run, succeeds

HERE = Path(__file__).parent
NO_ENGINE = "no Docker engine answers (docker info failed)"
IMAGE = "notifier:container-test"
TOOLS_IMAGE = "notifier-tools:container-test"
ENGINE_CHECK_TIMEOUT_S = 20.0


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark every test under tests/container as `docker`."""
    # The hook sees the whole session's items, not only this directory's.
    for item in items:
        if item.path.is_relative_to(HERE):
            item.add_marker(pytest.mark.docker)


@pytest.fixture(scope="session", autouse=True)
def docker_engine() -> None:
    """Skip the container tests when no Docker engine answers.

    Session-scoped, so `docker info` runs once: pytest keeps a fixture's skip and raises it
    again for every later test that uses the fixture.
    """
    if not succeeds(["docker", "info"], timeout_s=ENGINE_CHECK_TIMEOUT_S):
        pytest.skip(NO_ENGINE)


@pytest.fixture(scope="session")
def notifier_image(docker_engine: None) -> str:
    """The function's image, built once per session from the repository's Dockerfile."""
    run(["docker", "build", "--tag", IMAGE, str(REPO_ROOT)], timeout_s=BUILD_TIMEOUT_S)
    return IMAGE


@pytest.fixture(scope="session")
def tools_image(docker_engine: None) -> str:
    """The local tooling's image (the Dockerfile's `tools` stage), built once per session."""
    run(
        ["docker", "build", "--target", "tools", "--tag", TOOLS_IMAGE, str(REPO_ROOT)],
        timeout_s=BUILD_TIMEOUT_S,
    )
    return TOOLS_IMAGE
