"""What the built tree holds: the lock's pins, the package byte-compiled as the image has it, and
nothing the package imports that the tree lacks.

The import check reads every module of notifier/ (imports under `if TYPE_CHECKING:` are for the
type checker only and are skipped) and wants each imported top-level name to be the standard
library, `notifier`, or something the tree provides: code that imports a package the lock
does not pin would pass every in-process test (the .venv has it) and fail in Lambda.
"""

from __future__ import annotations

import ast
import importlib.metadata
import re
import sys
from collections.abc import Iterator
from pathlib import Path

from devtools.image_tree import LOCK_FILE, PACKAGE_DIR, ImageTree

PIN = re.compile(r"^(?P<name>[A-Za-z0-9][A-Za-z0-9._-]*)==(?P<version>\S+)", re.MULTILINE)
# PEP 552: the flags word of a .pyc compiled with --invalidation-mode checked-hash.
CHECKED_HASH_FLAGS = 0b11


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def lock_pins(lock: Path = LOCK_FILE) -> dict[str, str]:
    return {
        canonical(m["name"]): m["version"] for m in PIN.finditer(lock.read_text(encoding="utf-8"))
    }


def test_the_tree_holds_exactly_the_locks_pins(image_tree: ImageTree) -> None:
    """Every distribution in the task root is one of requirements/lambda.txt's pins, at its
    version, and every pin is there."""
    installed = {
        canonical(dist.metadata["Name"]): dist.version
        for dist in importlib.metadata.distributions(path=[str(image_tree.task_root)])
    }

    assert installed == lock_pins()


def test_the_task_root_holds_the_package_and_no_other_code_of_the_repository(
    image_tree: ImageTree,
) -> None:
    """notifier/ is there, as in the repository; devtools, tests and bench are not."""
    shipped = {
        path.relative_to(image_tree.task_root / "notifier")
        for path in (image_tree.task_root / "notifier").rglob("*.py")
    }

    assert shipped == {path.relative_to(PACKAGE_DIR) for path in PACKAGE_DIR.rglob("*.py")}
    assert not {"devtools", "tests", "bench"} & image_tree.top_level_modules()


def test_every_module_is_byte_compiled_against_its_source_hash(image_tree: ImageTree) -> None:
    """GIVEN the task root (Lambda's file system is read-only: no byte code is written there)
    THEN every .py file has its cpython-312 .pyc, checked against the source's hash."""
    missing, unchecked = [], []
    for source in image_tree.task_root.rglob("*.py"):
        compiled = source.parent / "__pycache__" / f"{source.stem}.cpython-312.pyc"
        if not compiled.is_file():
            missing.append(source)
        elif int.from_bytes(compiled.read_bytes()[4:8], "little") != CHECKED_HASH_FLAGS:
            unchecked.append(compiled)

    assert (missing, unchecked) == ([], [])


def imported_top_levels(source: str) -> set[str]:
    """The top-level names a module imports absolutely, outside `if TYPE_CHECKING:` blocks."""
    return {
        name.partition(".")[0]
        for node in _runtime_nodes(ast.parse(source))
        for name in _imported(node)
    }


def _runtime_nodes(node: ast.AST) -> Iterator[ast.AST]:
    for child in ast.iter_child_nodes(node):
        if isinstance(child, ast.If) and _is_type_checking(child.test):
            for other in child.orelse:  # `else:` runs
                yield other
                yield from _runtime_nodes(other)
            continue
        yield child
        yield from _runtime_nodes(child)


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imported(node: ast.AST) -> list[str]:
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
        return [node.module]
    return []  # relative imports stay inside the package


def unavailable_imports(package: Path, provided: frozenset[str]) -> set[str]:
    """`module: name` for every import in `package` that neither the standard library, the
    package itself nor `provided` satisfies."""
    return {
        f"{path.relative_to(package.parent)}: {name}"
        for path in sorted(package.rglob("*.py"))
        for name in imported_top_levels(path.read_text(encoding="utf-8"))
        if name not in sys.stdlib_module_names and name != package.name and name not in provided
    }


def test_notifier_imports_only_what_the_tree_provides(image_tree: ImageTree) -> None:
    """GIVEN the modules the built tree provides (its directories and module files)
    WHEN every module of notifier/ is read
    THEN each import is the standard library, notifier, or one of them."""
    provided = image_tree.top_level_modules()

    assert unavailable_imports(PACKAGE_DIR, provided) == set()
    assert {"boto3", "botocore", "attrs", "cattrs", "dns", "email_validator"} <= provided


def test_the_import_check_catches_an_import_outside_the_lock(tmp_path: Path) -> None:
    """The check fails on a package the tree lacks, at module level or inside a function, and
    ignores `if TYPE_CHECKING:` imports and relative ones (so the test above can fail)."""
    package = tmp_path / "notifier"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "bad.py").write_text(
        "from __future__ import annotations\n"
        "import json\n"
        "from typing import TYPE_CHECKING\n"
        "import yaml\n"
        "from . import sibling\n"
        "from notifier.domain import model\n"
        "if TYPE_CHECKING:\n"
        "    import mypy_boto3_ses\n"
        "else:\n"
        "    import orjson\n"
        "def lazy() -> None:\n"
        "    import requests.adapters\n"
        "    import boto3\n"
    )

    assert unavailable_imports(package, frozenset({"boto3"})) == {
        "notifier/bad.py: yaml",
        "notifier/bad.py: orjson",
        "notifier/bad.py: requests",
    }
