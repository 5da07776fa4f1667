"""Batch concurrency: a 10-record batch when every SES call takes 100 ms longer.

AWS_ENDPOINT_URL names the delaying proxy in front of LocalStack (bench/delay_proxy.py). The
figures: one bare `send_raw_email` (the physical limit of a batch sent in parallel), notifier's
handler on the batch, and the seed handler, which sends the records one after another. Each
is the median of several calls after a warm-up call (connections opened, models loaded).
"""

from __future__ import annotations

import importlib

from bench import messages
from bench.fakes import Context
from bench.probes.common import Result, Spec, median_seconds, probe_main, require_sent
from bench.probes.sending import bare_client, bare_send, notifier_raw, send_concurrency


def run(spec: Spec) -> Result:
    message = messages.sample_message()
    raw = notifier_raw(message)
    client = bare_client(send_concurrency())
    event = messages.sqs_event(
        [messages.sample_message(f"user{i}@example.com") for i in range(spec["batch_size"])]
    )
    notifier = importlib.import_module("notifier.entrypoints.lambda_handler")
    seed = importlib.import_module("bench.baselines.seed_handler")

    def one_call() -> None:
        bare_send(client, raw, message)

    def handle(handler: object) -> None:
        require_sent(handler(event, Context()))  # type: ignore[operator]

    for warm_up in (one_call, lambda: handle(notifier.handler), lambda: handle(seed.handler)):
        warm_up()
    return {
        "one_call_s": median_seconds(one_call, runs=spec["runs"]),
        "notifier_s": median_seconds(lambda: handle(notifier.handler), runs=spec["runs"]),
        "seed_s": median_seconds(lambda: handle(seed.handler), runs=spec["seed_runs"]),
        "batch_size": spec["batch_size"],
        "send_concurrency": send_concurrency(),
    }


if __name__ == "__main__":
    probe_main(run)
