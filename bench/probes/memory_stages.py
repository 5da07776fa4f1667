"""Memory, by stage, for one message with a 7 MiB attachment (tracemalloc; S3 and SES real).

1. The handler up to the mailer: S3 `size()` and `read()`, validation, composition. A mailer
   that records tracemalloc's peak at the moment it is called stands in for SES.
2. `send_raw_email` of those raw bytes with a bare boto3 SES client: botocore's share.
"""

from __future__ import annotations

import tracemalloc

from bench import messages
from bench.fakes import Context, CountingMailer, CountingMetrics
from bench.probes.common import Result, Spec, probe_main, require_sent
from bench.probes.sending import bare_client, bare_send
from notifier.entrypoints.bootstrap import bootstrap
from notifier.entrypoints.settings import Settings

MIB = 1024 * 1024


class PeakMailer(CountingMailer):
    """Records tracemalloc's peak (since the last reset) when the service hands it the bytes."""

    peak = 0

    def send_raw(self, **kwargs: object) -> str:
        self.peak = tracemalloc.get_traced_memory()[1]
        return super().send_raw(**kwargs)  # type: ignore[arg-type]


def run(spec: Spec) -> Result:
    mailer = PeakMailer()
    app = bootstrap(
        Settings(attachment_buckets=(messages.BUCKET,)),
        mailer=mailer,
        metrics=CountingMetrics(),
        configure_logs=False,
    )
    message = messages.huge_message("user@example.com")
    client = bare_client(1)
    bare_send(client, b"Subject: warm-up\r\n\r\nwarm-up\r\n", message)  # load the SES model
    tracemalloc.start()
    baseline = tracemalloc.get_traced_memory()[0]
    require_sent(app.handle(messages.sqs_event([message]), Context()))
    composed = mailer.peak - baseline
    raw = mailer.last_raw
    tracemalloc.reset_peak()
    before_send = tracemalloc.get_traced_memory()[0]
    bare_send(client, raw, message)
    sent = tracemalloc.get_traced_memory()[1] - before_send
    tracemalloc.stop()
    return {
        "attachment_mib": messages.HUGE_ATTACHMENT_BYTES / MIB,
        "raw_mib": len(raw) / MIB,
        "read_and_compose_peak_mib": composed / MIB,
        "send_peak_mib": sent / MIB,
    }


if __name__ == "__main__":
    probe_main(run)
