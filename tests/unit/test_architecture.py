"""The domain is pure: it imports the standard library, attrs and itself, nothing else."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import notifier.domain

DOMAIN = Path(notifier.domain.__file__).parent
ALLOWED_THIRD_PARTY = {"attrs"}


def imported_roots(path: Path) -> set[str]:
    roots = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            roots.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            roots.add(node.module)
    return roots


def is_allowed(module: str) -> bool:
    root = module.split(".")[0]
    return (
        root in sys.stdlib_module_names
        or root in ALLOWED_THIRD_PARTY
        or module == "notifier.domain"
        or module.startswith("notifier.domain.")
    )


def test_domain_imports_only_stdlib_and_attrs() -> None:
    """No module under notifier/domain imports boto3, structlog, cattrs, tenacity or an adapter."""
    offenders = {
        f"{path.relative_to(DOMAIN.parent.parent)}: {module}"
        for path in sorted(DOMAIN.rglob("*.py"))
        for module in imported_roots(path)
        if not is_allowed(module)
    }
    assert offenders == set()


def test_the_import_check_catches_a_forbidden_import(tmp_path: Path) -> None:
    """The check itself fails on third-party and adapter imports (so the test above can fail)."""
    module = tmp_path / "bad.py"
    module.write_text(
        "import boto3\nfrom structlog import get_logger\nfrom notifier.adapters import x\n"
    )
    assert {m for m in imported_roots(module) if not is_allowed(m)} == {
        "boto3",
        "structlog",
        "notifier.adapters",
    }
