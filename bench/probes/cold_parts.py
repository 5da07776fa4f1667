"""Cold start, split: the marginal cost of each import and client notifier's cold start makes.

In a fresh interpreter, in this order: boto3, a session, the SES client, the S3 client (what
`bootstrap()` builds), then each of notifier's other dependencies, then notifier's own modules,
then `bootstrap()` itself (a session of its own, so its clients are built again).

    python -m bench.probes.cold_parts OUT_JSON

Like bench/probes/cold.py, it loads nothing before its clock starts, so every module is paid
for by the first step that needs it.
"""

import importlib
import sys
import time

STEPS_AFTER_CLIENTS = (
    "email_validator",
    "structlog",
    "attrs",
    "cattrs",
    "tenacity",
    "email.mime.multipart",
)


def main() -> None:
    found: dict[str, float] = {}

    def step(name, call):  # unannotated: `typing` must not be imported before the clock
        started = time.perf_counter()
        value = call()
        found[name] = (time.perf_counter() - started) * 1000
        return value

    step("import boto3, botocore.config", lambda: importlib.import_module("boto3"))
    import boto3
    from botocore.config import Config

    config = Config(max_pool_connections=10, retries={"mode": "standard", "total_max_attempts": 1})
    session = step("boto3 Session()", boto3.session.Session)
    step("SES client", lambda: session.client("ses", config=config))
    step("S3 client (a second client)", lambda: session.client("s3", config=config))
    for module in STEPS_AFTER_CLIENTS:
        step(f"import {module}", lambda module=module: importlib.import_module(module))
    step(
        "import notifier.entrypoints.bootstrap (notifier's own modules)",
        lambda: importlib.import_module("notifier.entrypoints.bootstrap"),
    )
    from notifier.entrypoints.bootstrap import bootstrap

    step("bootstrap() (its own session: both clients again, logging)", bootstrap)
    import json
    from pathlib import Path

    Path(sys.argv[1]).write_text(json.dumps(found))


if __name__ == "__main__":
    main()
