"""The function's file tree, built as the Dockerfile builds the image, with no Docker engine.

The Dockerfile's build stage installs the lock file's wheels into /opt/deps, copies `notifier/`
to /opt/app and byte-compiles both; its final stage copies deps, then app, into the task root.
`build_image_tree` does the same in a directory of this machine, for CPython 3.12 on Linux
x86_64 whichever pip runs it, so that tests can run the handler from exactly what ships
(`devtools.execution_env`). The image's environment and command are read from the Dockerfile
itself; the pip and compileall flags are written here, and
`tests/image/test_dockerfile_contract.py` holds them to the Dockerfile's, both ways.
"""

from __future__ import annotations

import importlib.machinery
import shutil
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

import attrs

from devtools import dockerfile

REPO_ROOT = Path(__file__).resolve().parents[1]
LOCK_FILE = REPO_ROOT / "requirements" / "lambda.txt"
PACKAGE_DIR = REPO_ROOT / "notifier"

# The Dockerfile's pip flags, all but `--no-cache-dir`: every wheel is checked against the lock's
# hashes, so pip's cache may serve it here and the build takes seconds instead of a download.
PIP_INSTALL_FLAGS = (
    "--disable-pip-version-check",
    "--no-compile",
    "--require-hashes",
    "--only-binary=:all:",
)
# Only here: the image's pip installs for the Python it runs on, this one for the image's from
# any machine. manylinux2014 also admits manylinux1/2010 wheels, not manylinux_2_28-only ones:
# a dependency shipping only those would fail this build (loudly) though the image has glibc 2.34.
TARGET_FLAGS = (
    "--platform",
    "manylinux2014_x86_64",
    "--implementation",
    "cp",
    "--python-version",
    "3.12",
    "--abi",
    "cp312",
)
# The Dockerfile's compileall flags: byte code checked against the source's hash, not its mtime.
COMPILEALL_FLAGS = ("-q", "-j", "0", "--invalidation-mode", "checked-hash")
PYTHON_VERSION = "3.12"
OUTPUT_TAIL_CHARS = 4000
# What the build context leaves out of `COPY notifier/` (.dockerignore).
IGNORED_BY_DOCKER = shutil.ignore_patterns("__pycache__", "*.pyc", "*.pyo", "*.pyd")
# Directories pip puts in a --target that no import finds: console scripts, stray byte code.
NOT_MODULES = frozenset({"bin", "__pycache__"})


class BuildError(RuntimeError):
    """A step of the build failed; the message carries its command and output."""


@attrs.frozen
class ImageTree:
    """A built tree: the two build-stage directories and the task root merged from them."""

    deps: Path  # /opt/deps of the build stage
    app: Path  # /opt/app of the build stage
    task_root: Path  # ${LAMBDA_TASK_ROOT} of the image
    environment: dict[str, str]  # the image's ENV
    command: tuple[str, ...]  # the image's CMD: the handler

    def top_level_modules(self) -> frozenset[str]:
        """The names `import NAME` finds in the task root: packages (with or without an
        `__init__.py`), modules and extension modules; not the wheels' metadata."""
        suffixes = tuple(importlib.machinery.all_suffixes())
        names = set()
        for entry in self.task_root.iterdir():
            if entry.is_dir() and entry.name.isidentifier():  # not `*.dist-info`
                names.add(entry.name)
            elif entry.is_file() and entry.name.endswith(suffixes):
                names.add(entry.name.partition(".")[0])  # `x.cpython-312-...so` is `x`
        return frozenset(names - NOT_MODULES)


def build_image_tree(
    workdir: Path,
    *,
    lock: Path = LOCK_FILE,
    package: Path = PACKAGE_DIR,
    python: Path | None = None,
    dockerfile_path: Path = dockerfile.DOCKERFILE,
) -> ImageTree:
    """Build the function's tree under `workdir` (which must not hold one yet) from `lock` and
    `package`, byte-compiled by `python` (default: `python312()`). Raises `BuildError`."""
    python = python or python312()
    deps, app, task_root = workdir / "deps", workdir / "app", workdir / "task"
    install_wheels(lock=lock, target=deps)
    shutil.copytree(package, app / package.name, ignore=IGNORED_BY_DOCKER)
    run(compileall_command(python, deps, app))
    for layer in (deps, app):  # the final stage's two COPY layers, in their order
        shutil.copytree(layer, task_root, dirs_exist_ok=True, symlinks=True)
    final = dockerfile.read(dockerfile_path)[-1]  # the function's: what `docker build .` makes
    return ImageTree(
        deps=deps,
        app=app,
        task_root=task_root,
        environment=final.environment(),
        command=tuple(final.command()),
    )


def install_wheels(*, lock: Path, target: Path) -> None:
    """pip-install every pin of `lock`, wheels checked against its hashes, into `target`."""
    run(pip_install_command(lock=lock, target=target))


def pip_install_command(*, lock: Path, target: Path) -> list[str]:
    """The build stage's `pip install`, for the image's platform and Python."""
    return [
        sys.executable,
        "-m",
        "pip",
        "install",
        *PIP_INSTALL_FLAGS,
        *TARGET_FLAGS,
        "--target",
        str(target),
        "-r",
        str(lock),
    ]


def compileall_command(python: Path, *directories: Path) -> list[str]:
    """The build stage's `compileall`, run by the image's Python version."""
    return [str(python), "-m", "compileall", *COMPILEALL_FLAGS, *map(str, directories)]


def python312() -> Path:
    """CPython 3.12 itself, not a virtual environment's: this interpreter's base when it is 3.12
    (the project's .venv), else `python3.12` on the PATH (pyenv's shim resolved)."""
    if f"{sys.version_info.major}.{sys.version_info.minor}" == PYTHON_VERSION:
        candidate = Path(sys.base_prefix) / "bin" / f"python{PYTHON_VERSION}"
        if candidate.is_file():
            return candidate
    found = shutil.which(f"python{PYTHON_VERSION}")
    if found is None:
        raise BuildError(f"no python{PYTHON_VERSION} on the PATH: the image's Python is needed")
    probe = "import pathlib, sys; print(pathlib.Path(sys.base_prefix, 'bin', 'python3.12'))"
    return Path(run([found, "-I", "-S", "-c", probe]).strip())


def run(command: Sequence[str]) -> str:
    """Run a build command; its stdout, or `BuildError` with the end of its output."""
    result = subprocess.run(  # noqa: S603 - the fixed commands of this module
        list(command),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        output = (result.stdout + result.stderr)[-OUTPUT_TAIL_CHARS:]
        raise BuildError(f"`{' '.join(command)}` exited with {result.returncode}:\n{output}")
    return result.stdout
