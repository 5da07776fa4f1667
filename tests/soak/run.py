"""One soak run: provision, serve through a throttling proxy, queue N messages, reconcile.

SQS (LocalStack) -> `python -m devtools serve` (a child process, so its memory is its own and
its logs are what Lambda would ship) -> the handler -> SES through `FaultProxy`, which
throttles a share of the `SendRawEmail` calls -> LocalStack's outbox. Idempotency is on (the
state table on moto), the queue has a short visibility timeout and a dead-letter queue after
`max_receive_count` receives, so invalid messages are dead-lettered within seconds.
"""

from __future__ import annotations

import collections
import json
import os
import re
import time
import urllib.parse
import urllib.request
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import attrs
import boto3

from devtools.provision import ProvisionConfig, Provisioned, provision, sample_pdf
from notifier.adapters.outbound.aws import aws_session
from tests.soak.reconcile import Reconciliation, reconcile
from tests.soak.traffic import BUCKET, SoakInput, build, private_data
from tests.support.faultproxy import SEND_RAW_EMAIL, FaultProxy, Faults, Outcome
from tests.support.privacy import Leak, privacy_line
from tests.support.serve import ServeProcess, load_note, serve_environment
from tests.support.sqs import queue_depth

REGION = "us-east-1"
POLL_S = 0.5
_SUBJECT = re.compile(r"^Subject: soak (\S+) (\S+)\r?$", re.MULTILINE)


@attrs.frozen(kw_only=True)
class SoakConfig:
    messages: int = 5000
    invalid: float = 0.10
    duplicates: float = 0.05
    throttle: float = 0.20  # share of SendRawEmail calls answered with SES's Throttling error
    visibility_timeout: int = 5
    max_receive_count: int = 3
    ses_max_attempts: int = 4
    seed: int = 20_261_128
    timeout_s: float = 1200.0
    # Queued and handled before the N, not counted in the account: the runner's memory at the
    # start is read after them, once lazy imports, the send threads and their malloc arenas
    # exist (about 8 MiB over the first hundred messages, then nearly flat).
    warm_up_messages: int = 100
    max_rss_growth: float = 0.10


@attrs.frozen(kw_only=True)
class Memory:
    """The runner's resident set (KiB): idle before any message, at the start (after the
    warm-up), at the end, and the highest seen on the way."""

    idle: int
    start: int
    end: int
    peak: int

    def growth(self) -> float:
        """End over start: what the soak's 10 % limit applies to."""
        return self.end / self.start - 1

    def line(self) -> str:
        def mib(kib: int) -> str:
            return f"{kib / 1024:.1f} MiB"

        return (
            f"runner RSS: start {mib(self.start)}, end {mib(self.end)}: {self.growth():+.1%}"
            f" (peak {mib(self.peak)}; {mib(self.idle)} idle before the warm-up)"
        )


@attrs.frozen(kw_only=True)
class SoakResult:
    config: SoakConfig
    run: str
    reconciliation: Reconciliation
    memory: Memory
    ses_calls: collections.Counter[str]
    leaks: tuple[Leak, ...]
    log_lines: int
    queue_s: float  # queueing the N messages
    drain_s: float  # from the first message queued to the queue empty
    drained: bool
    workdir: Path

    @property
    def ok(self) -> bool:
        return (
            self.drained
            and self.reconciliation.ok
            and not self.leaks
            and self.memory.growth() <= self.config.max_rss_growth
        )

    def report(self) -> str:
        calls = sum(self.ses_calls.values())
        throttled = self.ses_calls[Outcome.THROTTLED]
        verdict = "PASS" if self.ok else "FAIL"
        lines = [
            f"soak {self.run}: {self.config.messages} messages, {verdict}",
            "",
            self.reconciliation.table(),
            "",
            f"SES SendRawEmail calls: {calls}, throttled {throttled}"
            f" ({throttled / max(calls, 1):.1%}), forwarded {self.ses_calls[Outcome.FORWARDED]}",
            self.memory.line()
            + ("" if self.memory.growth() <= self.config.max_rss_growth else "  <- OVER"),
            privacy_line(
                self.log_lines, self.leaks, "address, body, attachment content or credential"
            ),
            f"time: queued in {self.queue_s:.1f} s, drained in {self.drain_s:.1f} s"
            f" ({self.config.messages / max(self.drain_s, 0.001):.0f} messages/s)"
            + ("" if self.drained else f"  <- NOT DRAINED within {self.config.timeout_s:.0f} s"),
            f"{load_note()}; runner log {self.workdir / 'runner.log'}",
        ]
        return "\n".join(lines)


def run_soak(
    config: SoakConfig,
    *,
    localstack_url: str,
    moto_url: str,
    workdir: Path,
    progress: Callable[[str], None] = lambda _line: None,
) -> SoakResult:
    """One soak against a running LocalStack and moto; the environment (AWS_ENDPOINT_URL...)
    must already point this process's boto3 at them, for provisioning and queueing."""
    run = uuid.uuid4().hex[:6]
    stack = provision(
        aws_session(),
        config=ProvisionConfig.named(
            f"soak-{run}",
            bulk_queue_name="",  # one lane: the quota soak (tests/soak/quota.py) has two
            feedback_topic_name="",
            visibility_timeout=config.visibility_timeout,
            max_receive_count=config.max_receive_count,
            bucket=BUCKET,
            sample_attachment=True,
            state_table=f"soak-{run}-state",
        ),
    )
    credentials = {
        "AWS_ACCESS_KEY_ID": "AKIASOAKPLANTED00001",
        "AWS_SECRET_ACCESS_KEY": f"soakPlantedSecret/{uuid.uuid4().hex}",
        "AWS_SESSION_TOKEN": f"soakPlantedSessionToken/{uuid.uuid4().hex}",
    }
    inputs = build(
        messages=config.messages,
        run=run,
        seed=config.seed,
        invalid=config.invalid,
        duplicates=config.duplicates,
    )
    warm_up = build(
        messages=config.warm_up_messages,
        run=f"{run}w",
        seed=config.seed + 1,
        invalid=config.invalid,
        duplicates=config.duplicates,
    )
    private = private_data(inputs + warm_up)
    private.add_content(sample_pdf())
    for secret in credentials.values():
        private.add_credential(secret)

    with FaultProxy(localstack_url, seed=config.seed) as proxy:
        proxy.set(Faults(throttle=config.throttle))
        env = serve_environment(
            os.environ,
            AWS_ENDPOINT_URL=localstack_url,
            AWS_ENDPOINT_URL_SES=proxy.endpoint_url,
            AWS_ENDPOINT_URL_DYNAMODB=moto_url,
            AWS_REGION=REGION,
            AWS_DEFAULT_REGION=REGION,
            NOTIFIER_STATE_TABLE=stack.state_table,
            NOTIFIER_ALLOWED_SENDERS="@acubeapi.com",
            NOTIFIER_ATTACHMENT_BUCKETS=BUCKET,
            NOTIFIER_SES_MAX_ATTEMPTS=str(config.ses_max_attempts),
            NOTIFIER_LOG_LEVEL="INFO",
            NOTIFIER_METRICS_MODE="off",
            **credentials,
        )
        runner = ServeProcess.start(
            queue_url=stack.queue_url, env=env, log_path=workdir / "runner.log"
        )
        try:
            runner.wait_until_serving()
            watch = _Watch(runner, config, progress)
            warm_up = _queue(stack, warm_up)
            watch.until_handled({item.message_id for item in warm_up})
            ses_calls_before = proxy.counts(SEND_RAW_EMAIL)
            watch.start_rss = watch.peak_rss = runner.rss_kib()
            started = time.monotonic()
            inputs = _queue(stack, inputs)
            queued = time.monotonic()
            drained = watch.until_drained(stack, started)
            finished = time.monotonic()
            memory = watch.memory(end=runner.rss_kib())
        finally:
            runner.stop()
        watch.read()
        ses_calls = proxy.counts(SEND_RAW_EMAIL)
        ses_calls.subtract(ses_calls_before)

    warm_up_ids = {item.message_id for item in warm_up}
    result = reconcile(
        inputs,
        outbox=_outbox(localstack_url, source=f"soak-{run}@acubeapi.com", run=run),
        dead_letters=[i for i in _dead_letters(stack) if i not in warm_up_ids],
        log_records=watch.records,
    )
    lines = runner.output().splitlines()
    return SoakResult(
        config=config,
        run=run,
        reconciliation=result,
        memory=memory,
        ses_calls=ses_calls,
        leaks=tuple(private.leaks(lines)),
        log_lines=len(lines),
        queue_s=queued - started,
        drain_s=finished - started,
        drained=drained,
        workdir=workdir,
    )


class _Watch:
    """Follows the runner's log and memory while the soak drains."""

    def __init__(
        self, runner: ServeProcess, config: SoakConfig, progress: Callable[[str], None]
    ) -> None:
        self.runner = runner
        self.config = config
        self.progress = progress
        self.records: list[dict[str, Any]] = []
        self.handled: set[str] = set()
        self.idle_rss = runner.rss_kib()
        self.start_rss = self.peak_rss = self.idle_rss

    def read(self) -> None:
        for line in self.runner.new_lines():
            if not line.startswith("{"):
                continue
            record = json.loads(line)
            self.records.append(record)
            if record.get("event") == "email.processed":
                self.handled.add(record.get("message_id", ""))

    def until_handled(self, ids: set[str], timeout_s: float = 120.0) -> None:
        """Until each of `ids` was handled at least once (the warm-up)."""
        deadline = time.monotonic() + timeout_s
        while not ids <= self.handled:
            if time.monotonic() > deadline or not self.runner.alive():
                raise AssertionError(f"warm-up not handled:\n{self.runner.output()[-3000:]}")
            time.sleep(POLL_S)
            self.read()

    def until_drained(self, stack: Provisioned, started: float) -> bool:
        sqs = boto3.client("sqs")
        empty_polls, last_report, last_depth_check = 0, started, 0.0
        handled_before = len(self.handled)
        while time.monotonic() - started < self.config.timeout_s:
            time.sleep(POLL_S)
            if not self.runner.alive():
                raise AssertionError(f"the runner exited:\n{self.runner.output()[-3000:]}")
            self.read()
            self.peak_rss = max(self.peak_rss, self.runner.rss_kib())
            now = time.monotonic()
            if now - last_report >= 10:
                last_report = now
                self.progress(
                    f"  {now - started:5.0f} s: {len(self.handled) - handled_before}"
                    f"/{self.config.messages} handled at least once,"
                    f" runner RSS {self.runner.rss_kib() / 1024:.1f} MiB"
                )
            if now - last_depth_check < 1.0:
                continue
            last_depth_check = now
            empty_polls = empty_polls + 1 if queue_depth(stack.queue_url, sqs) == (0, 0) else 0
            if empty_polls >= 2:
                return True
        return False

    def memory(self, *, end: int) -> Memory:
        return Memory(
            idle=self.idle_rss, start=self.start_rss, end=end, peak=max(self.peak_rss, end)
        )


def _queue(stack: Provisioned, inputs: list[SoakInput]) -> list[SoakInput]:
    """Send every input (10 a call); return them with their SQS message ids."""
    sqs = boto3.client("sqs")
    queued = []
    for start in range(0, len(inputs), 10):
        chunk = inputs[start : start + 10]
        response = sqs.send_message_batch(
            QueueUrl=stack.queue_url,
            Entries=[{"Id": str(n), "MessageBody": item.body} for n, item in enumerate(chunk)],
        )
        if response.get("Failed"):
            raise AssertionError(f"SQS refused inputs: {response['Failed']}")
        ids = {int(entry["Id"]): entry["MessageId"] for entry in response["Successful"]}
        queued += [attrs.evolve(item, message_id=ids[n]) for n, item in enumerate(chunk)]
    return queued


def _outbox(endpoint_url: str, *, source: str, run: str) -> dict[str, str]:
    """SES message id -> token, for this run's emails in LocalStack's outbox."""
    url = f"{endpoint_url}/_aws/ses?{urllib.parse.urlencode({'email': source})}"
    with urllib.request.urlopen(url, timeout=60) as response:
        messages = json.load(response)["messages"]
    found = {}
    for message in messages:
        subject = _SUBJECT.search(message.get("RawData", ""))
        if subject is not None and subject[1] == run:
            found[message["Id"]] = subject[2]
        else:
            found[message["Id"]] = "(no soak subject)"
    return found


def _dead_letters(stack: Provisioned) -> list[str]:
    """The message ids in the dead-letter queue (received, and hidden for the rest of the run)."""
    sqs = boto3.client("sqs")
    found: list[str] = []
    empty = 0
    while empty < 2:
        messages = sqs.receive_message(
            QueueUrl=stack.dead_letter_queue_url,
            MaxNumberOfMessages=10,
            VisibilityTimeout=900,
            WaitTimeSeconds=0,
        ).get("Messages", [])
        empty = 0 if messages else empty + 1
        found += [message["MessageId"] for message in messages]
    return found
