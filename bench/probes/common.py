"""What every probe shares: its command line, its result file, timing and memory helpers."""

from __future__ import annotations

import json
import resource
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

Spec = dict[str, Any]
Result = dict[str, Any]


def probe_main(run: Callable[[Spec], Result]) -> None:
    """`python -m bench.probes.NAME SPEC_JSON OUT_JSON`: run the probe, write its result."""
    spec_json, out = sys.argv[1:3]
    result = run(json.loads(spec_json))
    Path(out).write_text(json.dumps(result, indent=2))


def timed(call: Callable[[], Any]) -> tuple[float, Any]:
    """(seconds, result) of one call."""
    started = time.perf_counter()
    result = call()
    return time.perf_counter() - started, result


def median_seconds(call: Callable[[], Any], *, runs: int) -> float:
    """The median wall time of `runs` calls."""
    return statistics.median(timed(call)[0] for _ in range(runs))


def cpu_seconds() -> float:
    """CPU time of this process so far, every thread, user and system."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def peak_rss_mib() -> float:
    """This process's resident set high-water mark, in MiB.

    Linux's `VmHWM` belongs to the address space, so it starts afresh at `execve`; `ru_maxrss`
    does not (it keeps the forking parent's peak), which would credit the probe with the RSS
    of bench/run.py.
    """
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024  # reported in kB
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def require_sent(response: Any) -> None:
    """Fail the probe if the handler reported any record as not sent."""
    failures = response.get("batchItemFailures") if isinstance(response, dict) else None
    if failures or (isinstance(response, dict) and response.get("statusCode", 200) != 200):
        raise SystemExit(f"the handler did not send every message: {response}")
