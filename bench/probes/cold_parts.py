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
    found = {}
    # Each step is timed inline: an import made through a lambda or a helper function measured
    # up to a quarter slower here (Python 3.12), which would distort the split.
    if which == "notifier":
        gc.disable()  # as notifier/entrypoints/lambda_handler.py does during init
        for module in NOTIFIER_IMPORTS:
            started = time.perf_counter()
            importlib.import_module(module)
            found[f"import {module}"] = (time.perf_counter() - started) * 1000
        started = time.perf_counter()
        from notifier.entrypoints.bootstrap import bootstrap

        found["import notifier.entrypoints.bootstrap (notifier's own modules)"] = (
            time.perf_counter() - started
        ) * 1000
        started = time.perf_counter()
        bootstrap()
        found["bootstrap(): settings, logging, botocore session, SES client"] = (
            time.perf_counter() - started
        ) * 1000
    else:
        started = time.perf_counter()
        import boto3

        found["import boto3"] = (time.perf_counter() - started) * 1000
        started = time.perf_counter()
        boto3.client("ses")
        found['boto3.client("ses"): default session, SES client'] = (
            time.perf_counter() - started
        ) * 1000
    import json
    from pathlib import Path

    Path(out).write_text(json.dumps(found))


if __name__ == "__main__":
    main()
