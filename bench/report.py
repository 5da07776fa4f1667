"""bench/RESULTS.md: the machine, then one table of figures beside their same-run baselines."""

from __future__ import annotations

import datetime
import importlib.metadata
import os
import platform
import re
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import attrs

REPO = Path(__file__).resolve().parents[1]
FUNCTION_MEMORY_MIB = 256
DOCS_BEGIN, DOCS_END = "<!-- bench:begin -->", "<!-- bench:end -->"
# Targets, as ratios to the same run's baselines (issue 10; docs/performance.md says why).
COLD_START_VS_SEED = 1.10
# No slower than before the cold-start work: at commit 1f9608d the first invocation was
# 10.2 ms against the seed's 8.0 ms in the same run.
FIRST_INVOCATION_VS_SEED = 1.28
PER_MESSAGE_VS_SEED = 1.20


@attrs.frozen(kw_only=True)
class Row:
    """One figure beside its baseline; `target` is (description, whether the ratio meets it)."""

    number: str
    figure: str
    value: str
    baseline: str
    ratio: float
    target: tuple[str, Callable[[float], bool]] | None = None

    def cells(self) -> list[str]:
        if self.target is None:
            target, met = "(reported)", "—"
        else:
            target, meets = self.target
            met = "yes" if meets(self.ratio) else "**no**"
        return [
            self.number,
            self.figure,
            self.value,
            self.baseline,
            f"{self.ratio:.2f}x",
            target,
            met,
        ]


def rows(results: dict[str, Any]) -> list[Row]:
    """The table's rows, from the probes' results."""
    cold, first = results["cold"], results["first_invoke"]
    per, batch = results["per_message"], results["batch"]
    rate, memory = results["throughput"], results["memory"]
    ms = _unit(1000, "ms", 1)
    at_most = _at_most
    imported = cold["notifier"]["import_s"]
    return [
        Row(
            number="1",
            figure="cold start: import the handler module, with `bootstrap()` and its SES client"
            f" (median of {cold['notifier']['runs']} fresh interpreters)",
            value=ms(imported),
            baseline=f"seed handler {ms(cold['seed']['import_s'])}",
            ratio=imported / cold["seed"]["import_s"],
            target=at_most(COLD_START_VS_SEED),
        ),
        Row(
            number="1",
            figure="cold start, as above",
            value=ms(imported),
            baseline=f"Powertools handler {ms(cold['powertools']['import_s'])}",
            ratio=imported / cold["powertools"]["import_s"],
            target=("< 1.00x", lambda r: r < 1.0),
        ),
        Row(
            number="1",
            figure="first invocation after the import: a 1-record SQS batch to LocalStack"
            f" (median of {first['notifier']['runs']})",
            value=ms(first["notifier"]["first_invoke_s"]),
            baseline=f"seed handler {ms(first['seed']['first_invoke_s'])}",
            ratio=first["notifier"]["first_invoke_s"] / first["seed"]["first_invoke_s"],
            target=at_most(FIRST_INVOCATION_VS_SEED),
        ),
        *(
            Row(
                number="2",
                figure=f"per message without I/O, {label}: parse the SQS record, validate,"
                f" compose, fake mailer (µs/message over {per[case]['messages']})",
                value=f"{per[case]['notifier_us']:.0f} µs",
                baseline=f"seed `build_email()` + `as_bytes()` {per[case]['seed_us']:.0f} µs",
                ratio=per[case]["notifier_us"] / per[case]["seed_us"],
                target=at_most(bound),
            )
            for case, label, bound in (
                ("sample", "the seed's sample invoice", PER_MESSAGE_VS_SEED),
                ("large", "100 KB HTML + 200 KB attachment", 1.0),
            )
        ),
        Row(
            number="3",
            figure=f"batch of {batch['batch_size']}, each SES call +100 ms: handler wall time"
            " (median)",
            value=ms(batch["notifier_s"]),
            baseline=f"one SES call {ms(batch['one_call_s'])}",
            ratio=batch["notifier_s"] / batch["one_call_s"],
            target=at_most(1.5),
        ),
        Row(
            number="3",
            figure="batch concurrency, as above",
            value=ms(batch["notifier_s"]),
            baseline=f"seed handler, serial {ms(batch['seed_s'])}"
            f" ({batch['seed_s'] / batch['one_call_s']:.1f}x one call)",
            ratio=batch["notifier_s"] / batch["seed_s"],
        ),
        Row(
            number="4",
            figure=f"throughput on LocalStack: {rate['messages']} messages in batches of 10,"
            f" {rate['threads']} threads (median of {rate['rounds']} rounds)",
            value=f"{rate['notifier_per_s']:.0f} emails/s",
            baseline=f"bare `send_raw_email` loop, same bytes and threads"
            f" {rate['bare_per_s']:.0f} emails/s",
            ratio=rate["notifier_per_s"] / rate["bare_per_s"],
            target=("≥ 0.80x", lambda r: r >= 0.8),
        ),
        Row(
            number="5",
            figure="memory: peak RSS of the process, one batch of 10 messages with a 7 MiB"
            " attachment each (S3 and SES on LocalStack)",
            value=f"{memory['notifier']['peak_rss_mib']:.0f} MiB",
            baseline=f"function memory {FUNCTION_MEMORY_MIB} MiB",
            ratio=memory["notifier"]["peak_rss_mib"] / FUNCTION_MEMORY_MIB,
            target=at_most(1.0),
        ),
        Row(
            number="5",
            figure="memory, as above",
            value=f"{memory['notifier']['peak_rss_mib']:.0f} MiB",
            baseline=f"seed handler, serial {memory['seed']['peak_rss_mib']:.0f} MiB",
            ratio=memory["notifier"]["peak_rss_mib"] / memory["seed"]["peak_rss_mib"],
        ),
    ]


def table(results: dict[str, Any]) -> str:
    """The markdown table alone."""
    header = ["#", "figure", "notifier", "baseline (same run)", "ratio", "target", "met"]
    lines = [_line(header), _line(["---"] * len(header))]
    lines += [_line(row.cells()) for row in rows(results)]
    return "\n".join(lines)


def render(results: dict[str, Any]) -> str:
    """The whole of bench/RESULTS.md."""
    quick = " with `--quick` (fewer repetitions: noisier figures)" if results["quick"] else ""
    before, after = results["load"]
    header = [
        "# Benchmark results",
        "",
        f"Written by `make bench` (`bench/run.py`){quick}: every figure and every baseline"
        " below was measured in the same run. How to read and reproduce them:"
        " `docs/performance.md`; the profiles behind them: `bench/PROFILE.md`.",
        "",
        f"- Date: {_now()}",
        f"- CPU: {_cpu()} ({os.cpu_count()} logical CPUs)",
        f"- Python: {platform.python_version()} ({platform.python_implementation()}),"
        f" {_versions()}",
        f"- LocalStack: {results['localstack_version']}, a host process on 127.0.0.1",
        f"- notifier: {_commit()}",
        f"- Run time: {results['run_seconds']:.0f} s",
        f"- Load average (1 min): {before:.2f} before the run, {after:.2f} after. Figures 3 and 4"
        " are CPU-bound; a load above about 1 before the run means other work shared the CPUs.",
    ]
    return "\n".join([*header, "", table(results), "", *_context(results)]) + "\n"


def _context(results: dict[str, Any]) -> list[str]:
    cold, first, per = results["cold"], results["first_invoke"], results["per_message"]
    memory, batch, rate = results["memory"], results["batch"], results["throughput"]

    def ms(seconds: float) -> str:
        return f"{seconds * 1000:.1f} ms"

    return [
        "Context, from the same run:",
        "",
        f"- Warm (second) invocation of the same 1-record batch: notifier"
        f" {ms(first['notifier']['second_invoke_s'])}, seed {ms(first['seed']['second_invoke_s'])},"
        f" Powertools {ms(first['powertools']['second_invoke_s'])}. Powertools' first invocation:"
        f" {ms(first['powertools']['first_invoke_s'])}.",
        f"- Cold start with the state table and the status topic set, as template.yaml deploys"
        f" the function (a DynamoDB client and the state adapters built at init):"
        f" {ms(cold['notifier_production']['import_s'])},"
        f" {cold['notifier_production']['import_s'] / cold['seed']['import_s']:.2f}x the seed's,"
        f" {cold['notifier_production']['import_s'] / cold['powertools']['import_s']:.2f}x"
        " Powertools'. The seed and Powertools handlers keep no state.",
        f"- Peak RSS right after the import: notifier {cold['notifier']['peak_rss_mib']:.0f} MiB,"
        f" seed {cold['seed']['peak_rss_mib']:.0f} MiB,"
        f" Powertools {cold['powertools']['peak_rss_mib']:.0f} MiB.",
        f"- Raw message sizes: sample {per['sample']['raw_bytes']} bytes,"
        f" large {per['large']['raw_bytes']} bytes.",
        f"- CPU time of the benchmark process per email in the throughput run (LocalStack's"
        f" apart): notifier's handler {rate['notifier_cpu_ms']:.2f} ms, the bare loop"
        f" {rate['bare_cpu_ms']:.2f} ms.",
        f"- The 10 x 7 MiB batch took notifier {memory['notifier']['seconds']:.1f} s and the seed"
        f" handler {memory['seed']['seconds']:.1f} s (LocalStack, no added delay).",
        f"- Send concurrency (`NOTIFIER_SEND_CONCURRENCY`): {batch['send_concurrency']}.",
    ]


def update_docs(path: Path, results: dict[str, Any]) -> None:
    """Replace the table between the bench markers of `path`, if it has them."""
    if not path.exists():
        return
    text = path.read_text()
    block = (
        f"{DOCS_BEGIN}\nMeasured by `make bench` on {_now()}, {_cpu()}"
        f" ({os.cpu_count()} CPUs), Python {platform.python_version()}; copied from"
        f" [bench/RESULTS.md](../bench/RESULTS.md).\n\n{table(results)}\n{DOCS_END}"
    )
    pattern = re.compile(re.escape(DOCS_BEGIN) + ".*?" + re.escape(DOCS_END), re.DOTALL)
    if pattern.search(text):
        path.write_text(pattern.sub(lambda _: block, text))


def _at_most(bound: float) -> tuple[str, Callable[[float], bool]]:
    return f"≤ {bound:.2f}x", lambda ratio: ratio <= bound


def _unit(scale: float, unit: str, digits: int) -> Callable[[float], str]:
    return lambda seconds: f"{seconds * scale:.{digits}f} {unit}"


def _line(cells: list[str]) -> str:
    return "| " + " | ".join(cells) + " |"


def _now() -> str:
    return datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")


def _cpu() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.partition(":")[2].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _versions() -> str:
    names = ("boto3", "botocore", "aws-lambda-powertools")
    return ", ".join(f"{name} {importlib.metadata.version(name)}" for name in names)


def _commit() -> str:
    def git(*args: str) -> str:
        return subprocess.run(  # noqa: S603 - fixed git arguments
            ["git", *args],  # noqa: S607 - git from the PATH, as every developer runs it
            cwd=REPO,
            capture_output=True,
            text=True,
            check=False,
        ).stdout.strip()

    commit = git("rev-parse", "--short", "HEAD") or "unknown"
    dirty = git("status", "--porcelain", "--", "notifier")
    return f"commit {commit}" + (" with uncommitted changes in notifier/" if dirty else "")
