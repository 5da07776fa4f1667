"""`make bench`: measure the five figures and their baselines in one run; write bench/RESULTS.md.

    python -m bench.run [--quick]

Starts LocalStack (SES, S3) and the delaying proxy, runs every probe in a fresh interpreter
(bench/probes/), stops both, prints the table and writes it with the machine's description to
bench/RESULTS.md (and into docs/performance.md between its bench markers). `--quick` runs
fewer repetitions, for trying the harness out: it prints its noisier table and writes nothing.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from bench import emulator, messages, report
from bench.harness import HANDLERS, PRODUCTION_SETTINGS, REPO, Prober, environment, say

SES_DELAY_S = 0.1
FULL = {
    "cold_runs": 21,
    "first_invoke_runs": 7,
    "per_message": {"messages": {"sample": 5000, "large": 1000}, "rounds": 5},
    "batch": {"batch_size": 10, "runs": 7, "seed_runs": 3},
    "throughput": {"messages": 1000, "batch_size": 10, "rounds": 3},
    "memory": {"batch_size": 10},
}
QUICK = FULL | {
    "cold_runs": 5,
    "first_invoke_runs": 2,
    "per_message": {"messages": {"sample": 1000, "large": 200}, "rounds": 3},
    "batch": {"batch_size": 10, "runs": 3, "seed_runs": 1},
    "throughput": {"messages": 300, "batch_size": 10, "rounds": 1},
}


def main() -> None:
    parser = argparse.ArgumentParser(description="notifier's benchmark (bench/RESULTS.md)")
    parser.add_argument(
        "--quick", action="store_true", help="fewer repetitions; print only, write nothing"
    )
    args = parser.parse_args()
    started = time.monotonic()
    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="notifier-bench-") as tmp:
        results = measure(QUICK if args.quick else FULL, Path(tmp))
    results["run_seconds"] = time.monotonic() - started
    results["load"] = (load_before, os.getloadavg()[0])
    results["quick"] = args.quick
    text = report.render(results)
    print(text)
    if not args.quick:
        (REPO / "bench" / "RESULTS.md").write_text(text)
        report.update_docs(REPO / "docs" / "performance.md", results)


def measure(plan: dict[str, Any], tmp: Path) -> dict[str, Any]:
    """Every figure of the table, each probe in a fresh interpreter."""
    results: dict[str, Any] = {}
    env = environment(tmp)
    with contextlib.ExitStack() as stack:
        say("starting LocalStack (ses, s3)")
        direct = emulator.running(stack, tmp, env)
        results["localstack_version"] = emulator.version(direct)
        proxy = emulator.DelayProxy.start(direct, delay=SES_DELAY_S)
        stack.callback(proxy.stop)
        probe = Prober(tmp, env)

        say(f"1/5 cold start: {plan['cold_runs']} fresh interpreters per handler")
        results["cold"] = _cold(probe, plan["cold_runs"], endpoint=None, production=True)
        event = tmp / "sample-sqs.json"
        event.write_text(json.dumps(messages.sqs_event([messages.sample_message()])))
        results["first_invoke"] = _cold(
            probe, plan["first_invoke_runs"], endpoint=direct, event=event
        )
        say("2/5 per-message cost (fakes, no I/O)")
        results["per_message"] = probe.run("per_message", plan["per_message"])
        say(f"3/5 batch concurrency (each SES call +{SES_DELAY_S * 1000:.0f} ms)")
        results["batch"] = probe.run("batch", plan["batch"], endpoint=proxy.endpoint_url)
        emulator.clear_outbox(direct)
        say("4/5 throughput on LocalStack")
        results["throughput"] = probe.run("throughput", plan["throughput"], endpoint=direct)
        emulator.clear_outbox(direct)
        say("5/5 memory ceiling (10 x 7 MiB attachments)")
        results["memory"] = {
            name: probe.run("memory", {**plan["memory"], "module": HANDLERS[name]}, endpoint=direct)
            for name in ("notifier", "seed")
        }
    return results


def _cold(
    probe: Prober,
    runs: int,
    *,
    endpoint: str | None,
    event: Path | None = None,
    production: bool = False,
) -> dict[str, dict[str, float]]:
    """Interleaved fresh interpreters per handler (after one discarded warm-up each): medians.
    With `production`, also notifier with template.yaml's state table and status topic."""
    variants = {name: (module, {}) for name, module in HANDLERS.items()}
    if production:
        variants["notifier_production"] = (HANDLERS["notifier"], PRODUCTION_SETTINGS)
    names = list(variants)
    samples: dict[str, list[dict[str, float]]] = {name: [] for name in names}
    for round_number in range(runs + 1):
        shift = round_number % len(names)  # no handler always goes first
        for name in names[shift:] + names[:shift]:
            module, env = variants[name]
            result = probe.cold(module, endpoint=endpoint, event=event, env=env)
            if round_number:  # round 0 warms the page cache and the bytecode caches
                samples[name].append(result)
    return {
        name: {key: statistics.median(s[key] for s in found) for key in found[0]}
        | {"runs": len(found)}
        for name, found in samples.items()
    }


if __name__ == "__main__":
    main()
