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


PACKAGE = DOMAIN.parent
# Every module the function's image ships (the Dockerfile copies notifier/ whole). Local
# emulation (the SQS runner, provisioning, make run) lives in devtools/, never here: a module
# added to notifier/ must be added to this list on purpose.
SHIPPED = {
    "__init__.py",
    "__main__.py",
    "adapters/__init__.py",
    "adapters/addresses.py",
    "adapters/rendering.py",
    "adapters/inbound/__init__.py",
    "adapters/inbound/events.py",
    "adapters/inbound/http.py",
    "adapters/inbound/message.py",
    "adapters/inbound/ses_feedback.py",
    "adapters/outbound/__init__.py",
    "adapters/outbound/aws.py",
    "adapters/outbound/dynamodb/__init__.py",
    "adapters/outbound/dynamodb/idempotency.py",
    "adapters/outbound/dynamodb/limits.py",
    "adapters/outbound/dynamodb/state_table.py",
    "adapters/outbound/dynamodb/status.py",
    "adapters/outbound/dynamodb/suppression.py",
    "adapters/outbound/metrics.py",
    "adapters/outbound/null_state.py",
    "adapters/outbound/pacing.py",
    "adapters/outbound/s3.py",
    "adapters/outbound/s3_templates.py",
    "adapters/outbound/ses.py",
    "adapters/outbound/ses_quota.py",
    "adapters/outbound/sns.py",
    "adapters/outbound/sqs.py",
    "domain/__init__.py",
    "domain/budget.py",
    "domain/deferral.py",
    "domain/delivery.py",
    "domain/errors.py",
    "domain/feedback.py",
    "domain/idempotency.py",
    "domain/limiter.py",
    "domain/limits.py",
    "domain/mime.py",
    "domain/model.py",
    "domain/policy.py",
    "domain/ports.py",
    "domain/privacy.py",
    "domain/problems.py",
    "domain/quota.py",
    "domain/service.py",
    "domain/state.py",
    "domain/status.py",
    "domain/templates.py",
    "domain/suppression.py",
    "domain/token_bucket.py",
    "domain/tracking.py",
    "domain/validation.py",
    "entrypoints/__init__.py",
    "entrypoints/app.py",
    "entrypoints/bootstrap.py",
    "entrypoints/cli.py",
    "entrypoints/context.py",
    "entrypoints/http_api.py",
    "entrypoints/lambda_handler.py",
    "entrypoints/logs.py",
    "entrypoints/problems.py",
    "entrypoints/quota_monitor.py",
    "entrypoints/reporting.py",
    "entrypoints/responses.py",
    "entrypoints/settings.py",
    "entrypoints/status_view.py",
}
# The AWS SDK is reached from the outbound adapters only, plus the two composition roots that
# build their clients (the Lambda's bootstrap and the operations CLI).
AWS_SDK_ALLOWED = ("adapters/outbound/", "entrypoints/bootstrap.py", "entrypoints/cli.py")
# Field names of SES's notification JSON: parsed in adapters/inbound/ses_feedback.py only.
SES_WIRE_FIELDS = ("notificationType", "eventType", "bouncedRecipients", "complainedRecipients")


def modules() -> dict[str, Path]:
    return {
        path.relative_to(PACKAGE).as_posix(): path
        for path in sorted(PACKAGE.rglob("*.py"))
        if "__pycache__" not in path.parts
    }


def test_the_package_holds_exactly_the_function_s_modules() -> None:
    """What the image ships is listed here: no runner, provisioning or other local tooling."""
    assert set(modules()) == SHIPPED


def test_nothing_in_the_package_imports_local_tooling_or_tests() -> None:
    """The image has no devtools/ or tests/: an import of either would fail in Lambda."""
    offenders = {
        f"{name}: {module}"
        for name, path in modules().items()
        for module in imported_roots(path)
        if module.split(".")[0] in {"devtools", "tests", "bench"}
    }
    assert offenders == set()


def test_only_outbound_adapters_and_composition_roots_use_the_aws_sdk() -> None:
    """boto3/botocore appear in adapters/outbound, bootstrap and the operations CLI only."""
    users = {
        name
        for name, path in modules().items()
        if any(m.split(".")[0] in {"boto3", "botocore"} for m in imported_roots(path))
    }
    assert users, "the check must see the adapters that do use botocore"
    assert {name for name in users if not name.startswith(AWS_SDK_ALLOWED)} == set()


def test_the_domain_parses_no_ses_wire_json() -> None:
    """SES's notification fields are read by the inbound adapter; the domain sees Feedback."""
    mentions = {
        f"{path.relative_to(PACKAGE)}: {field}"
        for path in sorted(DOMAIN.rglob("*.py"))
        for field in SES_WIRE_FIELDS
        if field in path.read_text(encoding="utf-8")
    }
    adapter = (PACKAGE / "adapters" / "inbound" / "ses_feedback.py").read_text(encoding="utf-8")
    assert mentions == set()
    assert all(field in adapter for field in SES_WIRE_FIELDS)  # so the scan can fail
