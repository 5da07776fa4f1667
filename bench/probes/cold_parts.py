"""Cold start, split: the marginal cost of each import and client a handler's cold start makes.

    python -m bench.probes.cold_parts notifier|seed OUT_JSON

notifier, in this order and with the cyclic GC off as in its handler module: botocore (the
function imports no boto3), each library it adds, its own modules, then `bootstrap()` (the
settings, logging, the botocore session and the SES client). The seed: boto3, then
`boto3.client("ses")` (the default session and the client).

Like bench/probes/cold.py, it loads nothing before its clock starts, so every module is paid
for by the first step that needs it.
"""

import gc
import importlib
import sys
import time

NOTIFIER_IMPORTS = (
    "botocore.session",
    "email_validator",
    "structlog",
    "attrs",
    "cattrs",
    "email.mime.multipart",
)


def main() -> None:
    which, out = sys.argv[1:3]
    found: dict[str, float] = {}

    def step(name, call):  # unannotated: `typing` must not be imported before the clock
        started = time.perf_counter()
        value = call()
        found[name] = (time.perf_counter() - started) * 1000
        return value

    if which == "notifier":
        gc.disable()  # as notifier/entrypoints/lambda_handler.py does during init
        for module in NOTIFIER_IMPORTS:
            step(f"import {module}", lambda module=module: importlib.import_module(module))
        step(
            "import notifier.entrypoints.bootstrap (notifier's own modules)",
            lambda: importlib.import_module("notifier.entrypoints.bootstrap"),
        )
        from notifier.entrypoints.bootstrap import bootstrap

        step("bootstrap(): settings, logging, botocore session, SES client", bootstrap)
    else:
        step("import boto3", lambda: importlib.import_module("boto3"))
        import boto3

        step('boto3.client("ses"): default session, SES client', lambda: boto3.client("ses"))
    import json
    from pathlib import Path

    Path(out).write_text(json.dumps(found))


if __name__ == "__main__":
    main()
