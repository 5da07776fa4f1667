"""Cold start: a fresh interpreter imports a handler module; optionally times its first calls.

    python -m bench.probes.cold MODULE OUT_JSON [EVENT_JSON]

Only `sys`, `time` and `importlib` are loaded before the clock starts, so the handler pays
for every module it needs, as it does in Lambda's init phase.
"""

import importlib
import sys
import time


def main() -> None:
    module_name, out = sys.argv[1:3]
    started = time.perf_counter()
    module = importlib.import_module(module_name)
    result = {"import_s": time.perf_counter() - started}
    if len(sys.argv) > 3:
        _invoke_twice(module, sys.argv[3], result)
    from bench.probes.common import peak_rss_mib

    result["peak_rss_mib"] = peak_rss_mib()
    import json
    from pathlib import Path

    Path(out).write_text(json.dumps(result))


def _invoke_twice(module: object, event_path: str, result: dict[str, float]) -> None:
    """First invocation (what the first message of a new instance waits for), then a warm one."""
    import json
    from pathlib import Path

    from bench.fakes import Context
    from bench.probes.common import require_sent, timed

    event = json.loads(Path(event_path).read_text())
    handler = module.handler  # type: ignore[attr-defined]
    for key in ("first_invoke_s", "second_invoke_s"):
        seconds, response = timed(lambda: handler(event, Context()))
        require_sent(response)
        result[key] = seconds


if __name__ == "__main__":
    main()
