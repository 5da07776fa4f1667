"""Throughput on LocalStack: emails per second through the handler vs a bare send loop.

notifier: batches of 10 SQS records, handled one after another, as one Lambda instance
receives them. Ceiling: the same number of `send_raw_email` calls of ready raw bytes from the
same number of threads, back to back. Rounds alternate; each figure is its median round.
"""

from __future__ import annotations

import importlib
import statistics
from concurrent.futures import ThreadPoolExecutor

from bench import messages
from bench.fakes import Context
from bench.probes.common import Result, Spec, cpu_seconds, probe_main, require_sent, timed
from bench.probes.sending import bare_client, bare_send, notifier_raw, send_concurrency


def run(spec: Spec) -> Result:
    total, batch_size = spec["messages"], spec["batch_size"]
    threads = send_concurrency()
    message = messages.sample_message()
    raw = notifier_raw(message)
    client = bare_client(threads)
    events = [
        messages.sqs_event(
            [messages.sample_message(f"user{b * batch_size + i}@example.com") for i in range(10)]
        )
        for b in range(total // batch_size)
    ]
    handler = importlib.import_module("notifier.entrypoints.lambda_handler").handler
    context = Context()

    def through_handler() -> None:
        for event in events:
            require_sent(handler(event, context))

    def bare_loop() -> None:
        with ThreadPoolExecutor(max_workers=threads) as pool:
            list(pool.map(lambda _: bare_send(client, raw, message), range(total)))

    handler(events[0], context)  # warm-up: connections, service models
    bare_loop()
    rates: tuple[list[float], list[float]] = ([], [])
    cpu: tuple[list[float], list[float]] = ([], [])  # this process's CPU ms per email
    for _ in range(spec["rounds"]):
        for call, seen, used in zip((through_handler, bare_loop), rates, cpu, strict=True):
            cpu_before = cpu_seconds()
            seconds, _ = timed(call)
            used.append((cpu_seconds() - cpu_before) / total * 1000)
            seen.append(total / seconds)
    return {
        "notifier_per_s": statistics.median(rates[0]),
        "bare_per_s": statistics.median(rates[1]),
        "notifier_cpu_ms": statistics.median(cpu[0]),
        "bare_cpu_ms": statistics.median(cpu[1]),
        "messages": total,
        "threads": threads,
        "rounds": spec["rounds"],
    }


if __name__ == "__main__":
    probe_main(run)
