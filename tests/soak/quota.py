"""The quota soak: does a bulk flood leave SES room for everyone else? (issue 14)

Producer A (tenant `campaigns`) floods bulk mail, mostly on the bulk queue and a tenth on the
transactional queue (the function forwards it); a few seconds in, producer B (tenant `auth`)
sends transactional mail at a steady 2 a second. SES, behind `FaultProxy`, takes 14
recipients a second and throttles the rest. The runners emulate the template's event source
mappings: two `python -m devtools serve` on the transactional queue, one on the bulk queue
(its lower maximum concurrency), all with NOTIFIER_PRODUCER_LIMITS="campaigns=10/s; *=4/s"
and idempotency on (the state table, on moto, also holds the limits' buckets).

It passes when nothing is lost, sent twice, dead-lettered or left queued, B's 95th percentile
from enqueue to SES is within `B_P95_BOUND_S`, and A never sent more in any window than its
limit allows (tests/soak/quota_account.py states both bounds and why).
"""

from __future__ import annotations

import concurrent.futures
import os
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import attrs
import boto3

from devtools.provision import ProvisionConfig, Provisioned, provision
from notifier.adapters.outbound.aws import aws_session
from tests.soak import evidence, producers
from tests.soak.producers import A, B, Enqueued, Lane
from tests.soak.quota_account import (
    B_P95_BOUND_S,
    ERROR_BOUND_S,
    WINDOWS_S,
    Account,
    Latency,
    RateLimit,
    account,
    busiest,
    latencies,
)
from tests.soak.traffic import BUCKET
from tests.support.faultproxy import SEND_RAW_EMAIL, FaultProxy, Faults, Outcome
from tests.support.privacy import Leak, privacy_line
from tests.support.serve import Runners, load_note

POLL_S = 0.5
PRODUCER_LIMITS = "campaigns=10/s; *=4/s"
A_LIMIT = RateLimit(name="campaigns", rate=10.0)


@attrs.frozen(kw_only=True)
class QuotaConfig:
    bulk: int = 5000  # A's messages
    transactional: int = 200  # B's
    b_per_second: float = 2.0
    b_delay_s: float = 3.0  # B starts this long after A's flood
    forward_every: int = 10  # every 10th of A's on the transactional queue: 10 %
    ses_rate: float = 14.0  # SES's maximum sending rate (the proxy's), recipients a second
    transactional_runners: int = 2
    bulk_runners: int = 1
    visibility_timeout: int = 10
    max_receive_count: int = 3
    seed: int = 20_261_214
    timeout_s: float = 1500.0
    # Off only to try the harness on a function that refuses the field (before issue 14):
    # A's messages are then ordinary ones, and nothing limits them.
    priority_field: bool = True


@attrs.frozen(kw_only=True)
class QuotaResult:
    config: QuotaConfig
    run: str
    account: Account
    dead_letter_reasons: Mapping[str, int]  # the runners' last logged reason, per message
    b_latency: Latency
    a_windows: tuple[tuple[float, int, float], ...]  # (window, most sent, allowed)
    ses_sends: int
    throttled: int
    deferrals: int
    leaks: tuple[Leak, ...]
    log_lines: int
    flood_s: float  # queueing A's messages
    duration_s: float  # from A's first message to every queue empty (or the timeout)
    drained: bool
    workdir: Path

    @property
    def ok(self) -> bool:
        return (
            self.drained
            and self.account.ok
            and self.account.sent.get(B.name, 0) == self.config.transactional
            and self.b_latency.p95 <= B_P95_BOUND_S
            and all(most <= allowed for _w, most, allowed in self.a_windows)
            and not self.leaks
        )

    def report(self) -> str:
        c, acc = self.config, self.account
        forwarded = len(range(0, c.bulk, c.forward_every)) if c.forward_every else 0
        lat = self.b_latency

        def mark(good: bool) -> str:
            return "ok" if good else "<- FAIL"

        lines = [
            f"quota soak {self.run}: {'PASS' if self.ok else 'FAIL'}",
            f"A ({A.tenant}): {c.bulk} bulk, {forwarded} of them via the transactional queue;"
            f" B ({B.tenant}): {c.transactional} transactional at {c.b_per_second:g}/s"
            f" from {c.b_delay_s:g} s; NOTIFIER_PRODUCER_LIMITS={PRODUCER_LIMITS!r};"
            f" SES {c.ses_rate:g} recipients/s"
            + ("" if c.priority_field else "; WITHOUT the priority field"),
            "",
            f"lost            {len(acc.lost):>6}  {mark(not acc.lost)}",
            f"sent twice      {len(acc.sent_twice):>6}  {mark(not acc.sent_twice)}",
            f"dead-lettered   {acc.dead:>6}  {mark(not acc.dead)}  ("
            + ", ".join(f"{q} {len(t)}" for q, t in acc.dead_lettered.items())
            + ")",
            *(f"  reason {reason}: {n}" for reason, n in sorted(self.dead_letter_reasons.items())),
            f"still queued    {len(acc.still_queued) + acc.unread:>6}"
            f"  {mark(not acc.still_queued and not acc.unread)}"
            + (f"  ({acc.unread} delayed or in flight)" if acc.unread else ""),
            f"strays          {acc.strays:>6}  {mark(not acc.strays)}",
            f"A sent          {acc.sent.get(A.name, 0):>6}/{c.bulk}",
            f"B sent          {acc.sent.get(B.name, 0):>6}/{c.transactional}"
            f"  {mark(acc.sent.get(B.name, 0) == c.transactional)}",
            f"B enqueue->SES  p50 {lat.p50:.2f} s, p95 {lat.p95:.2f} s, max {lat.max:.2f} s"
            f" (bound: p95 <= {B_P95_BOUND_S:g} s)  {mark(lat.p95 <= B_P95_BOUND_S)}",
            f"A's busiest windows (limit {A_LIMIT.rate:g}/s, bucket {A_LIMIT.capacity:g},"
            f" error bound {A_LIMIT.error_bound:g} = {A_LIMIT.rate:g}/s x {ERROR_BOUND_S:g} s):",
            *(
                f"  {window:>4g} s: {most:>5} sent, allowed {allowed:g}  {mark(most <= allowed)}"
                for window, most, allowed in self.a_windows
            ),
            f"SES: {self.ses_sends} sends taken, {self.throttled} throttled by the proxy;"
            f" deferrals (email.processed, outcome deferred): {self.deferrals}",
            privacy_line(self.log_lines, self.leaks, "address, body or credential"),
            f"time: A queued in {self.flood_s:.1f} s, all done in {self.duration_s:.1f} s"
            + ("" if self.drained else f"  <- NOT DRAINED within {c.timeout_s:g} s"),
            f"{load_note()}; runner logs in {self.workdir}",
        ]
        return "\n".join(lines)


def run_quota_soak(
    config: QuotaConfig,
    *,
    localstack_url: str,
    moto_url: str,
    workdir: Path,
    progress: Callable[[str], None] = lambda _line: None,
) -> QuotaResult:
    """One quota soak against a running LocalStack and moto; this process's environment
    (AWS_ENDPOINT_URL...) must point boto3 at them, for provisioning and queueing."""
    run = uuid.uuid4().hex[:6]
    stack = _provision(run, config)
    flood = producers.messages(
        A,
        run=run,
        count=config.bulk,
        seed=config.seed,
        transactional_every=config.forward_every,
        with_priority=config.priority_field,
    )
    trickle = producers.messages(B, run=run, count=config.transactional, seed=config.seed + 1)
    everything = flood + trickle
    runners = Runners(workdir=workdir, base_env=os.environ)
    producers.private_data(everything, runners.private)
    enqueued = Enqueued()
    sqs = boto3.client("sqs")
    with FaultProxy(localstack_url, seed=config.seed) as proxy:
        proxy.set(Faults(rate_limit=config.ses_rate))
        try:
            settings = _function_settings(stack, proxy=proxy.endpoint_url, moto_url=moto_url)
            for _ in range(config.transactional_runners):
                runners.start(stack.queue_url, **settings)
            for _ in range(config.bulk_runners):
                runners.start(stack.bulk_queue_url, **settings)
            progress(f"quota soak {run}: {len(runners.started)} runners serving, flooding")
            began = time.time()
            lanes = {Lane.BULK: stack.bulk_queue_url, Lane.TRANSACTIONAL: stack.queue_url}
            with concurrent.futures.ThreadPoolExecutor(2) as pool:
                flooding = pool.submit(producers.flood, sqs, flood, lanes, enqueued)
                trickling = pool.submit(
                    producers.steady,
                    sqs,
                    trickle,
                    stack.queue_url,
                    per_second=config.b_per_second,
                    start_at=began + config.b_delay_s,
                    enqueued=enqueued,
                )
                flooding.result()
                flood_s = time.time() - began
                drained = _until_drained(
                    stack,
                    producing=(flooding, trickling),
                    runners=runners,
                    proxy=proxy,
                    config=config,
                    began=began,
                    progress=progress,
                )
                trickling.result()
            duration_s = time.time() - began
            for runner in runners.started:
                runner.stop()
        finally:
            runners.close()
        sends = proxy.forwarded_sends()
        throttled = proxy.counts(SEND_RAW_EMAIL)[Outcome.RATE_LIMITED]

    by_recipient = {m.recipient: m for m in everything}
    at_ses = evidence.first_sends(sends, by_recipient)
    lines = runners.lines()
    queued, unread = evidence.left_in(stack, run)
    dead_letters = {
        "transactional DLQ": evidence.tokens_in(stack.dead_letter_queue_url, run),
        "bulk DLQ": evidence.tokens_in(stack.bulk_dead_letter_queue_url, run),
    }
    return QuotaResult(
        config=config,
        run=run,
        account=account(
            everything,
            outbox=evidence.outbox(localstack_url, run),
            dead_letters={name: list(found.values()) for name, found in dead_letters.items()},
            queued=queued,
            unread=unread,
        ),
        dead_letter_reasons=evidence.failure_reasons(
            [i for found in dead_letters.values() for i in found], lines
        ),
        b_latency=latencies(trickle, enqueued=enqueued.times(), at_ses=at_ses),
        a_windows=tuple(
            (
                window,
                busiest(evidence.sends_of(A.name, sends, by_recipient), window),
                A_LIMIT.allowed(window),
            )
            for window in WINDOWS_S
        ),
        ses_sends=sum(1 for send in sends if send.status == 200),
        throttled=throttled,
        deferrals=evidence.logged(lines, "email.processed", outcome="deferred"),
        leaks=tuple(runners.leaks()),
        log_lines=len(lines),
        flood_s=flood_s,
        duration_s=duration_s,
        drained=drained,
        workdir=workdir,
    )


def _provision(run: str, config: QuotaConfig) -> Provisioned:
    name = f"quota-{run}"
    return provision(
        aws_session(),
        config=ProvisionConfig.named(
            name,
            feedback_topic_name="",
            configuration_set="",
            status_topic_name="",
            visibility_timeout=config.visibility_timeout,
            max_receive_count=config.max_receive_count,
            bucket=BUCKET,
            state_table=f"{name}-state",
        ),
    )


def _function_settings(stack: Provisioned, *, proxy: str, moto_url: str) -> dict[str, str]:
    """What the template gives the function, pointed at LocalStack, SES through the proxy."""
    return {
        "AWS_ENDPOINT_URL_SES": proxy,
        "AWS_ENDPOINT_URL_DYNAMODB": moto_url,
        "NOTIFIER_STATE_TABLE": stack.state_table,
        "NOTIFIER_QUEUE_URL": stack.queue_url,
        "NOTIFIER_BULK_QUEUE_URL": stack.bulk_queue_url,
        "NOTIFIER_PRODUCER_LIMITS": PRODUCER_LIMITS,
        "NOTIFIER_ALLOWED_SENDERS": "@acubeapi.com",
        "NOTIFIER_SES_MAX_ATTEMPTS": "4",
        "NOTIFIER_LOG_LEVEL": "INFO",
        "NOTIFIER_METRICS_MODE": "off",
    }


def _until_drained(
    stack: Provisioned,
    *,
    producing: Sequence[concurrent.futures.Future[None]],
    runners: Runners,
    proxy: FaultProxy,
    config: QuotaConfig,
    began: float,
    progress: Callable[[str], None],
) -> bool:
    """Until every producer has queued everything and both queues are empty (nothing waiting,
    in flight or delayed) twice in a row; False at the timeout."""
    sqs = boto3.client("sqs")
    expected = config.bulk + config.transactional
    empty, last_report = 0, began
    while time.time() - began < config.timeout_s:
        time.sleep(POLL_S)
        for runner in runners.started:
            if not runner.alive():
                raise AssertionError(f"a runner exited:\n{runner.output()[-3000:]}")
        for future in producing:
            if future.done():
                future.result()  # a producer that failed fails the soak now
        depths = (evidence.depth(sqs, stack.queue_url), evidence.depth(sqs, stack.bulk_queue_url))
        if time.time() - last_report >= 10:
            last_report = time.time()
            taken = sum(send.status == 200 for send in proxy.forwarded_sends())
            progress(
                f"  {last_report - began:5.0f} s: {taken}/{expected} taken by SES,"
                f" {proxy.counts(SEND_RAW_EMAIL)[Outcome.RATE_LIMITED]} throttled;"
                f" queued: transactional {depths[0]}, bulk {depths[1]}"
            )
        done = all(future.done() for future in producing)
        empty = empty + 1 if done and depths == (0, 0) else 0
        if empty >= 2:
            return True
    return False
