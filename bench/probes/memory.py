"""Memory ceiling: peak RSS of a process whose handler gets 10 messages with 7 MiB attachments.

The attachments are read from S3 and the messages sent to SES, both on LocalStack, so every
copy the real adapters make (download, base64 body, raw bytes, the signed HTTP request) counts.
"""

from __future__ import annotations

import importlib

from bench import messages
from bench.fakes import Context
from bench.probes.common import Result, Spec, peak_rss_mib, probe_main, require_sent, timed


def run(spec: Spec) -> Result:
    module = importlib.import_module(spec["module"])
    after_import = peak_rss_mib()
    event = messages.sqs_event(
        [messages.huge_message(f"user{i}@example.com") for i in range(spec["batch_size"])]
    )
    seconds, response = timed(lambda: module.handler(event, Context()))
    require_sent(response)
    return {"peak_rss_mib": peak_rss_mib(), "after_import_mib": after_import, "seconds": seconds}


if __name__ == "__main__":
    probe_main(run)
