"""Image tier: the function's tree as the Dockerfile builds it, run as Lambda runs it, no Docker.

The tree (`devtools.image_tree`) is built once per session; with pip's cache warm that takes a
few seconds.
"""

from __future__ import annotations

import platform
import sys
from pathlib import Path

import pytest

from devtools.image_tree import ImageTree, build_image_tree, python312


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
