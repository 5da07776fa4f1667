"""`make bench.profile`: the profiles behind bench/RESULTS.md, written to bench/PROFILE.md.

    python -m bench.profile

- Cold start: `python -X importtime` of notifier's handler module against the seed's (what
  only notifier imports, by package), and the marginal cost of each import and boto3 client.
- Per message: pyinstrument over the per-message path, sample and large messages.
- Memory: tracemalloc by stage for one 7 MiB attachment, and the peak RSS of the 10-message
  batch for each `NOTIFIER_SEND_CONCURRENCY`.
"""

from __future__ import annotations

import collections
import contextlib
import statistics
import tempfile
import time
from pathlib import Path

from bench import emulator
from bench.harness import HANDLERS, REPO, Prober, environment, say

IMPORTTIME_RUNS = 5
COLD_PARTS_RUNS = 7
CONCURRENCY_CURVE = (1, 2, 3, 5, 10)
TOP = 15


def main() -> None:
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="notifier-profile-") as tmp:
        env = environment(Path(tmp))
        probe = Prober(Path(tmp), env)
        say("cold start: -X importtime")
        sections = [_importtime(probe)]
        say("cold start: import by import")
        sections.append(_cold_parts(probe))
        say("per message: pyinstrument")
        sections.append(_per_message(probe))
        with contextlib.ExitStack() as stack:
            say("memory: starting LocalStack (ses, s3)")
            endpoint = emulator.running(stack, Path(tmp), env)
            say("memory: by stage, then by send concurrency")
            sections.append(_memory(probe, endpoint))
    text = "\n\n".join(
        [
            "# Profiles\n\nWritten by `make bench.profile` (`bench/profile.py`) in"
            f" {time.monotonic() - started:.0f} s; the figures they explain are in"
            " [RESULTS.md](RESULTS.md).",
            *sections,
        ]
    )
    (REPO / "bench" / "PROFILE.md").write_text(text + "\n")
    print(text)


def _importtime(probe: Prober) -> str:
    notifier = _import_times(probe, HANDLERS["notifier"])
    seed = _import_times(probe, HANDLERS["seed"])
    only = {name: times for name, times in notifier.items() if name not in seed}
    by_package: collections.Counter[str] = collections.Counter()
    for name, (self_us, _) in only.items():
        by_package[name.split(".")[0]] += self_us
    lines = [
        "## Cold start: `-X importtime`",
        "",
        f"Median of {IMPORTTIME_RUNS} runs each (importtime's own overhead inflates every figure"
        " alike). Self time is a module's own body: for the handler modules, that is the"
        " composition root (`bootstrap()`) or the seed's `boto3.client('ses')`.",
        "",
        "| | notifier handler | seed handler |",
        "| --- | --- | --- |",
        f"| all modules, self time summed | {_ms(_total(notifier))} | {_ms(_total(seed))} |",
        f"| handler module's own body | {_ms(notifier[HANDLERS['notifier']][0])}"
        f" | {_ms(seed[HANDLERS['seed']][0])} |",
        f"| modules only notifier imports | {len(only)}, {_ms(_total(only))} | |",
        "",
        "Modules only notifier imports, self time by top-level package:",
        "",
        "| package | self time |",
        "| --- | --- |",
        *(f"| `{package}` | {_ms(us)} |" for package, us in by_package.most_common(TOP)),
        "",
        "The slowest of them:",
        "",
        "| module | self | cumulative |",
        "| --- | --- | --- |",
        *(
            f"| `{name}` | {_ms(self_us)} | {_ms(cumulative)} |"
            for name, (self_us, cumulative) in sorted(only.items(), key=lambda kv: -kv[1][0])[:TOP]
        ),
    ]
    return "\n".join(lines)


def _import_times(probe: Prober, module: str) -> dict[str, tuple[float, float]]:
    """Median (self, cumulative) microseconds per module imported."""
    runs: dict[str, list[tuple[int, int]]] = collections.defaultdict(list)
    for _ in range(IMPORTTIME_RUNS):
        for line in probe.stderr_of(["-X", "importtime", "-c", f"import {module}"]).splitlines():
            if not line.startswith("import time:") or "self [us]" in line:
                continue
            self_us, cumulative, name = line.removeprefix("import time:").split("|")
            runs[name.strip()].append((int(self_us), int(cumulative)))
    return {
        name: (statistics.median(s for s, _ in found), statistics.median(c for _, c in found))
        for name, found in runs.items()
    }


def _cold_parts(probe: Prober) -> str:
    lines = [
        "## Cold start, import by import",
        "",
        f"Marginal wall time of each step in a fresh interpreter, in this order (median of"
        f" {COLD_PARTS_RUNS}, interleaved); no `-X importtime` overhead. notifier's steps run"
        " with the cyclic GC off, as its handler module runs them; the seed's with it on.",
    ]
    runs: dict[str, list[dict[str, float]]] = {"notifier": [], "seed": []}
    for round_number in range(COLD_PARTS_RUNS + 1):
        for which, found in runs.items():
            result = probe.cold_parts(which)
            if round_number:  # round 0 warms the page cache and the bytecode caches
                found.append(result)
    for which, found in runs.items():
        medians = {step: statistics.median(r[step] for r in found) for step in found[0]}
        lines += [
            "",
            f"| {which}: step | ms |",
            "| --- | --- |",
            *(f"| {step} | {ms:.1f} |" for step, ms in medians.items()),
            f"| **sum** | **{sum(medians.values()):.1f}** |",
        ]
    return "\n".join(lines)


def _per_message(probe: Prober) -> str:
    profiles = probe.run(
        "profile_message", {"messages": {"sample": 3000, "large": 300}, "interval_s": 0.0002}
    )
    return "\n".join(
        [
            "## Per message: pyinstrument",
            "",
            "The per-message path of bench/probes/per_message.py (fake mailer, fake attachment"
            " store, JSON logs to /dev/null) under pyinstrument; its overhead inflates the"
            " absolute times, not the shares.",
            *(f"\n### {name}\n\n```\n{text.strip()}\n```" for name, text in profiles.items()),
        ]
    )


def _memory(probe: Prober, endpoint: str) -> str:
    stages = probe.run("memory_stages", {}, endpoint=endpoint)
    curve = {
        concurrency: probe.run(
            "memory",
            {"batch_size": 10, "module": HANDLERS["notifier"]},
            endpoint=endpoint,
            env={"NOTIFIER_SEND_CONCURRENCY": str(concurrency)},
        )
        for concurrency in CONCURRENCY_CURVE
    }
    emulator.clear_outbox(endpoint)
    return "\n".join(
        [
            "## Memory",
            "",
            f"One message with a {stages['attachment_mib']:.0f} MiB attachment"
            f" ({stages['raw_mib']:.2f} MiB raw), tracemalloc peaks above what was allocated"
            " before the stage:",
            "",
            "| stage | peak |",
            "| --- | --- |",
            f"| S3 read + validate + compose, until the bytes reach the mailer"
            f" | {stages['read_and_compose_peak_mib']:.1f} MiB |",
            f"| `send_raw_email` of the raw bytes (botocore: base64, URL-encoding, signing)"
            f" | {stages['send_peak_mib']:.1f} MiB |",
            "",
            "The batch of 10 such messages through notifier's handler, by"
            " `NOTIFIER_SEND_CONCURRENCY` (peak RSS of the process):",
            "",
            "| send concurrency | peak RSS | after import | batch wall time |",
            "| --- | --- | --- | --- |",
            *(
                f"| {c} | {r['peak_rss_mib']:.0f} MiB | {r['after_import_mib']:.0f} MiB"
                f" | {r['seconds']:.1f} s |"
                for c, r in curve.items()
            ),
        ]
    )


def _total(times: dict[str, tuple[float, float]]) -> float:
    return sum(self_us for self_us, _ in times.values())


def _ms(microseconds: float) -> str:
    return f"{microseconds / 1000:.1f} ms"


if __name__ == "__main__":
    main()
