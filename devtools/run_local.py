"""`make run`: the whole service on this machine, with no Docker and no AWS account.

1. LocalStack as a host process on 127.0.0.1:4566 (`LOCALSTACK_PORT` moves it), and moto's
   server for DynamoDB, each in a process group of its own, their logs in `.localstack/`.
2. `provision()`: the queue and its dead-letter queue, the topic (filter `channel = email`), the
   SES domain, the bucket with the sample invoice (and the state table, where provision makes
   one); a 10 s visibility timeout.
3. The SQS runner of `python -m devtools serve`, with the handler in this process, on the main
   thread: a signal cuts a long poll short, or lets the batch in flight finish first; and the
   HTTP API of `serve --http` on 127.0.0.1:8080 (`HTTP_PORT` moves it), through the same
   handler; and the mail viewer of `python -m devtools viewer` on 127.0.0.1:8025 (`VIEWER_PORT`
   moves it; a free port when that one is taken).
4. On other threads: the sample invoice through SQS, then through SNS (`devtools.samples`); every
   email that reaches LocalStack's SES outbox is printed (`devtools.mailview`).

Ctrl-C or SIGTERM stops the runner after its batch, then the servers. `--once` stops the same
way once both samples have been shown.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import sys
import threading
from collections.abc import Sequence
from pathlib import Path
from types import FrameType

from botocore.exceptions import BotoCoreError, ClientError

from devtools import http_gateway
from devtools.console import say, shown
from devtools.http_gateway import SerialFunction
from devtools.invoice import SAMPLE_EVENT
from devtools.localstack import REPO_ROOT, LocalStackError, PortTaken
from devtools.mailview import OutboxWatcher
from devtools.moto import MotoError
from devtools.processes import port_in_use
from devtools.provision import SAMPLE_TEMPLATES, ProvisionConfig, provision
from devtools.runner.invokers import InProcessFunction
from devtools.runner.poller import Runner, StopFlag
from devtools.runner.queue import SqsQueue
from devtools.samples import Outcome, SampleRun, resource_name
from devtools.servers import Endpoints, port_taken, start_servers
from devtools.ses_outbox import SesOutbox
from devtools.viewer import server as viewer_server
from notifier.adapters.outbound.aws import aws_session, client
from notifier.entrypoints.bootstrap import bootstrap
from notifier.entrypoints.settings import SettingsError

DEFAULT_PORT = 4566
DEFAULT_HTTP_PORT = http_gateway.DEFAULT_PORT
REGION = "us-east-1"
VISIBILITY_TIMEOUT = 10  # a failed message comes back within seconds, not AWS's 3 minutes
WAIT_SECONDS = 20  # the runner's long poll, as Lambda's; a stop signal cuts it short
BULK_WAIT_SECONDS = 2  # the bulk runner's: a thread no signal reaches, so short enough to stop
# The handler's settings, unless the environment says otherwise: NOTIFIER_LOG_LEVEL=INFO shows
# the canonical `email.processed` line of every message. The state table is the one provision
# creates in moto: idempotency and suppression are on, as in production.
HANDLER_DEFAULTS = {
    "NOTIFIER_STATE_TABLE": "notifier-state",
    "NOTIFIER_ALLOWED_SENDERS": "@acubeapi.com",
    "NOTIFIER_ATTACHMENT_BUCKETS": "acube-invoices",
    "NOTIFIER_TEMPLATES": SAMPLE_TEMPLATES,  # the samples provision uploads there
    "NOTIFIER_METRICS_MODE": "off",
    "NOTIFIER_LOG_LEVEL": "WARNING",
}
OK, FAILED, USAGE, INTERRUPTED = 0, 1, 2, 130


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        port = _port(os.environ.get("LOCALSTACK_PORT", ""))
    except ValueError as exc:
        say(f"LOCALSTACK_PORT: {exc}", error=True)
        return USAGE
    try:
        http_port = _port(os.environ.get("HTTP_PORT", ""), default=DEFAULT_HTTP_PORT)
    except ValueError as exc:
        say(f"HTTP_PORT: {exc}", error=True)
        return USAGE
    try:
        viewer_port = _port(os.environ.get("VIEWER_PORT", ""), default=viewer_server.DEFAULT_PORT)
    except ValueError as exc:
        say(f"VIEWER_PORT: {exc}", error=True)
        return USAGE
    if port_in_use(http_port):
        say(
            f"port {http_port} of 127.0.0.1 (the HTTP API) is already in use.\n"
            f"Another port: HTTP_PORT={http_port + 1} make run",
            error=True,
        )
        return FAILED
    workdir = (args.workdir or _default_workdir(port)).resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    # Until the runner takes the signals over, SIGTERM unwinds as Ctrl-C does.
    signal.signal(signal.SIGTERM, _interrupt)
    servers = contextlib.ExitStack()
    try:
        endpoints = start_servers(servers, workdir=workdir, port=port)
        return _serve(endpoints, once=args.once, http_port=http_port, viewer_port=viewer_port)
    except PortTaken:
        say(port_taken(port, workdir), error=True)
        return FAILED
    except (LocalStackError, MotoError) as exc:
        say(f"did not start: {exc}", error=True)
        return FAILED
    except (BotoCoreError, ClientError, SettingsError) as exc:
        say(f"set-up failed: {exc}", error=True)
        return FAILED
    except KeyboardInterrupt:
        return INTERRUPTED
    finally:
        _ignore_signals()  # a second Ctrl-C must not leave a server running
        servers.close()


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m devtools.run_local",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--once", action="store_true", help="stop once the two samples have been shown"
    )
    parser.add_argument(
        "--workdir",
        type=Path,
        help="the servers' files, logs and pid files (default: .localstack/, or"
        " .localstack/port-PORT/ when LOCALSTACK_PORT is not 4566)",
    )
    return parser


def _serve(endpoints: Endpoints, *, once: bool, http_port: int, viewer_port: int) -> int:
    _point_aws_at(endpoints)
    session = aws_session()
    stack = provision(
        session,
        config=ProvisionConfig(
            visibility_timeout=VISIBILITY_TIMEOUT,
            sample_attachment=True,
            sample_templates=os.environ.get("NOTIFIER_TEMPLATES") or SAMPLE_TEMPLATES,
        ),
    )
    sqs = client(session, "sqs", retries=3, read_timeout=WAIT_SECONDS + 10)
    queue = SqsQueue.connect(sqs, url=stack.queue_url)
    # The handler trusts SES notifications only from the feedback topic just provisioned; its
    # sends go through the configuration set that publishes SES events there, and each status
    # change is published to the status topic.
    os.environ.setdefault("NOTIFIER_FEEDBACK_TOPIC_ARNS", stack.feedback_topic_arn)
    os.environ.setdefault("NOTIFIER_SES_CONFIGURATION_SET", stack.configuration_set)
    os.environ.setdefault("NOTIFIER_STATUS_TOPIC_ARN", stack.status_topic_arn)
    os.environ.setdefault("NOTIFIER_QUEUE_URL", stack.queue_url)  # the HTTP enqueue route's
    os.environ.setdefault("NOTIFIER_BULK_QUEUE_URL", stack.bulk_queue_url)  # the bulk lane's
    say(
        f"provisioned queue {resource_name(queue.url)} (visibility timeout"
        f" {stack.visibility_timeout} s, dead letters after {stack.max_receive_count} receives),"
        f" topic {resource_name(stack.topic_arn)} (filter channel=email), SES domain"
        f" {', '.join(domain for domain, _ in stack.sender_domains)}, {stack.sample_attachment}"
    )
    # One handler for the runner and the HTTP API, one invocation at a time, as in one sandbox.
    function = SerialFunction(InProcessFunction(bootstrap()))
    runner = Runner(
        queue=queue,
        function=function,
        wait_seconds=WAIT_SECONDS,
        report=lambda line: say(f"runner  {line}"),
    )
    # The bulk lane: its own event source mapping in AWS, so here its own runner, thread and
    # handler (another execution environment).
    bulk_stop = StopFlag()
    bulk_runner = Runner(
        queue=SqsQueue.connect(sqs, url=stack.bulk_queue_url),
        function=SerialFunction(InProcessFunction(bootstrap())),
        wait_seconds=BULK_WAIT_SECONDS,
        report=lambda line: say(f"bulk    {line}"),
    )
    bulk_lane = threading.Thread(
        target=bulk_runner.run, args=(bulk_stop,), name="bulk-lane", daemon=True
    )
    try:
        http = http_gateway.start(function, port=http_port, log=say)
    except OSError as exc:
        say(f"cannot serve the HTTP API on 127.0.0.1:{http_port}: {exc}", error=True)
        return FAILED
    say(f"HTTP API on {http.url} (docs/openapi.yaml), through the same handler")
    viewer = _start_viewer(SesOutbox(endpoint_url=endpoints.aws), viewer_port)
    say(f"mail viewer on {viewer.url}: the SES outbox in a browser, as mail arrives")
    stop = StopFlag()
    outcomes: list[Outcome] = []

    def samples_done(outcome: Outcome) -> None:
        outcomes.append(outcome)
        if outcome is Outcome.SHOWN and not once:
            say(
                _serving(
                    endpoints,
                    queue=stack.queue_url,
                    topic=stack.topic_arn,
                    http=http.url,
                    viewer=viewer.url,
                )
            )
            return
        if outcome is Outcome.SHOWN:
            say("--once: both samples shown, stopping")
        _stop_runner(stop)

    watcher = OutboxWatcher(SesOutbox(endpoint_url=endpoints.aws))
    samples = SampleRun(
        sqs=client(session, "sqs", retries=3),  # made here: a session is not thread-safe
        sns=client(session, "sns", retries=3),
        stack=stack,
        watcher=watcher,
        stopping=stop.is_set,
        done=samples_done,
    )
    signal.signal(signal.SIGINT, stop.handle_signal)
    signal.signal(signal.SIGTERM, stop.handle_signal)
    watcher.start()
    samples.start()
    bulk_lane.start()
    try:
        batches = runner.run(stop)
    finally:
        _ignore_signals()
        bulk_stop.set()
        http.stop()
        viewer.stop()
        bulk_lane.join(timeout=BULK_WAIT_SECONDS + 5)
    say(f"runner  stopped after {batches} batch(es); HTTP API and mail viewer stopped")
    watcher.stop()  # also ends a sample still waiting for its email
    samples.join(timeout_s=10)
    outcome = outcomes[0] if outcomes else Outcome.INTERRUPTED
    return {Outcome.SHOWN: OK, Outcome.FAILED: FAILED}.get(outcome, INTERRUPTED)


def _stop_runner(stop: StopFlag) -> None:
    """Stop the runner as Ctrl-C does: a signal to the main thread, where the runner polls,
    also cuts its long poll short (setting the flag alone would wait for the poll to end)."""
    stop.set()
    main_thread = threading.main_thread().ident
    assert main_thread is not None  # it has started: it started the caller's thread
    signal.pthread_kill(main_thread, signal.SIGTERM)


def _start_viewer(outbox: SesOutbox, port: int) -> viewer_server.Running:
    """The viewer on `port`, or on a free port when another program holds that one."""
    try:
        return viewer_server.start(outbox, port=port)
    except OSError:
        say(f"port {port} of 127.0.0.1 is taken: the mail viewer takes a free one")
        return viewer_server.start(outbox, port=0)


def _serving(endpoints: Endpoints, *, queue: str, topic: str, http: str, viewer: str) -> str:
    python = shown(Path(sys.executable))
    sample = shown(SAMPLE_EVENT)
    return "\n".join(
        [
            f"serving: queue {resource_name(queue)} (and its bulk lane),"
            f" topic {resource_name(topic)},"
            f" endpoint {endpoints.aws}, HTTP API {http}",
            f"  mail viewer: {viewer}",
            "  send more from another shell:",
            f"    export AWS_ENDPOINT_URL={endpoints.aws} AWS_DEFAULT_REGION={REGION}"
            " AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test",
            f"    {python} -m devtools send --via sqs --to you@example.com --subject Bonjour"
            " --text 'Hello' --attach invoices/12345.pdf",
            "  (--via sns publishes to the topic); or over HTTP, now (POST /v1/emails/enqueue"
            " queues it):",
            f"    curl -s -H 'Content-Type: application/json' -H 'Idempotency-Key: hello-1'"
            f" --data-binary @{sample} {http}/v1/emails",
            "  what became of an email (its SES message id):",
            f"    curl -s {http}/v1/emails/MESSAGE_ID",
            f"    AWS_ENDPOINT_URL_DYNAMODB={endpoints.dynamodb}"
            f" NOTIFIER_STATE_TABLE={os.environ.get('NOTIFIER_STATE_TABLE', '')}"
            f" {python} -m notifier status MESSAGE_ID",
            "  Ctrl-C to stop",
        ]
    )


def _point_aws_at(endpoints: Endpoints) -> None:
    """Every AWS client of this process at the local servers, never at a real account."""
    for name in list(os.environ):
        if name.startswith("AWS_ENDPOINT_URL_") or name in {"AWS_PROFILE", "AWS_SESSION_TOKEN"}:
            del os.environ[name]
    os.environ.update(
        {
            "AWS_ENDPOINT_URL": endpoints.aws,
            "AWS_ENDPOINT_URL_DYNAMODB": endpoints.dynamodb,
            "AWS_ACCESS_KEY_ID": "test",
            "AWS_SECRET_ACCESS_KEY": "test",
            "AWS_REGION": REGION,
            "AWS_DEFAULT_REGION": REGION,
        }
    )
    for name, value in HANDLER_DEFAULTS.items():
        os.environ.setdefault(name, value)


def _port(raw: str, *, default: int = DEFAULT_PORT) -> int:
    if not raw.strip():
        return default
    try:
        port = int(raw)
    except ValueError:
        raise ValueError(f"expected a port number, got {raw!r}") from None
    if not 1 <= port <= 65535:
        raise ValueError(f"expected a port from 1 to 65535, got {port}")
    return port


def _default_workdir(port: int) -> Path:
    """`.localstack/`; a run on another port, maybe beside the first, gets its own folder."""
    workdir = REPO_ROOT / ".localstack"
    return workdir if port == DEFAULT_PORT else workdir / f"port-{port}"


def _interrupt(signum: int, _frame: FrameType | None) -> None:
    raise KeyboardInterrupt(signal.Signals(signum).name)


def _ignore_signals() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)


if __name__ == "__main__":
    raise SystemExit(main())
