"""Per-message cost without I/O: notifier's handler with fakes vs the seed's `build_email()`.

notifier: one single-record SQS event per message through the real application built by
`bootstrap()` (parse the record, validate, read the attachment from a fake store, compose,
hand the bytes to a fake mailer, the canonical JSON log line to stdout, metrics to a fake).
Seed: `build_email(message).as_bytes()` on the same message, already decoded. Every message
has a recipient of its own, so no cache can serve one from another. Rounds of each alternate,
so drift hits both alike; the figure is the median round.
"""

from __future__ import annotations

import json
import statistics
import time
from collections.abc import Callable, Iterator
from typing import Any

from bench import messages
from bench.baselines.seed_email import attachment_name, build_email
from bench.fakes import Context, CountingMailer, CountingMetrics, MemoryAttachments
from bench.probes.common import Result, Spec, probe_main, require_sent
from notifier.entrypoints.app import App
from notifier.entrypoints.bootstrap import bootstrap
from notifier.entrypoints.logs import configure_logging
from notifier.entrypoints.settings import Settings

CASES: dict[str, Callable[[str], dict[str, Any]]] = {
    "sample": messages.sample_message,
    "large": messages.large_message,
}


def fake_app(mailer: CountingMailer) -> App:
    """The real application, its ports faked: a mailer that counts, attachments in memory."""
    app = bootstrap(
        Settings(attachment_buckets=(messages.BUCKET,)),
        mailer=mailer,
        attachments=MemoryAttachments(
            {(messages.BUCKET, messages.LARGE_ATTACHMENT_KEY): large_attachment()}
        ),
        metrics=CountingMetrics(),
        configure_logs=False,
    )
    # Lambda's logs: one JSON line per message, rendered and written (here to /dev/null).
    configure_logging("INFO", json_lines=True)
    return app


def large_attachment() -> bytes:
    return messages.attachment_bytes(messages.LARGE_ATTACHMENT_BYTES)


def run(spec: Spec) -> Result:
    mailer = CountingMailer()
    app = fake_app(mailer)
    context = Context()
    result: Result = {}
    for name, make in CASES.items():
        count, rounds = spec["messages"][name], spec["rounds"]
        per_round = max(1, count // rounds)
        found = [make(f"user{i}@example.com") for i in range(per_round * rounds + 50)]
        events = iter([messages.sqs_event([message]) for message in found])
        decoded = iter(found)
        files = [(attachment_name(a), large_attachment()) for a in found[0].get("attachments", [])]

        def notifier_once(events: Iterator[dict[str, Any]] = events) -> None:
            require_sent(app.handle(next(events), context))

        def seed_once(decoded: Iterator[dict[str, Any]] = decoded, files: Any = files) -> None:
            build_email(next(decoded), files).as_bytes()

        sent_before = mailer.sent
        notifier_us, seed_us = _alternate(notifier_once, seed_once, per_round, rounds)
        if mailer.sent - sent_before != per_round * rounds + 50:
            raise SystemExit(f"{name}: the fake mailer did not get every message")
        result[name] = {
            "notifier_us": notifier_us,
            "seed_us": seed_us,
            "messages": per_round * rounds,
            "raw_bytes": len(mailer.last_raw),
            "body_bytes": len(json.dumps(found[0])),
        }
    return result


def _alternate(
    first: Callable[[], None], second: Callable[[], None], per_round: int, rounds: int
) -> tuple[float, float]:
    """Median microseconds per call of each, over alternating rounds (after 50 warm-up calls)."""
    for call in (first, second):
        for _ in range(50):
            call()
    samples: tuple[list[float], list[float]] = ([], [])
    for _ in range(rounds):
        for call, seen in zip((first, second), samples, strict=True):
            started = time.perf_counter()
            for _ in range(per_round):
                call()
            seen.append((time.perf_counter() - started) / per_round * 1e6)
    return statistics.median(samples[0]), statistics.median(samples[1])


if __name__ == "__main__":
    probe_main(run)
