"""Local tooling, the third composition root: `python -m devtools COMMAND`. Never in the
function's image: compose runs it from the `tools` image target (Dockerfile).

- `provision`: create the queue, dead-letter queue, topics, SES domains, bucket and state table
  (idempotent), wherever AWS_ENDPOINT_URL points (LocalStack).
- `serve`: poll the email queue and invoke the handler, as Lambda's SQS trigger does; with
  `--http`, also serve the HTTP API on 127.0.0.1, as API Gateway does (docs/openapi.yaml).
- `send`: build a message and deliver it through SQS, SNS or a direct call.
- `viewer`: a web page of LocalStack's SES outbox on 127.0.0.1 (`devtools.viewer`).
- `preview`: render a template to its .eml, its HTML and a PNG screenshot (headless Chromium).

The operations commands (`invoke`, `suppression`) are the function's own: `python -m notifier`.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import botocore.session

from devtools import http_gateway
from devtools.console import say
from devtools.http_gateway import SerialFunction
from devtools.preview import PreviewError, preview, store_for
from devtools.provision import (
    SAMPLE_TEMPLATES,
    ProvisionConfig,
    ProvisionError,
    find_topic,
    provision,
)
from devtools.runner.invokers import Function, HttpFunction, InProcessFunction
from devtools.runner.poller import Runner, StopFlag
from devtools.runner.queue import MAX_WAIT_SECONDS, SqsQueue
from devtools.ses_outbox import SesOutbox
from devtools.template_files import SAMPLES
from devtools.viewer import server as viewer_server
from notifier.adapters.inbound.message import parse_message
from notifier.adapters.outbound.aws import RegionNotSet, aws_session, client
from notifier.domain.errors import InvalidMessage
from notifier.entrypoints.bootstrap import bootstrap
from notifier.entrypoints.cli import FAILED, OK, CommandError, exit_status, invoke

DEFAULTS = ProvisionConfig()
DEFAULT_SENDER = "noreply@acubeapi.com"
CHANNEL_ATTRIBUTE = "channel"


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; the exit status is 0 on success, 1 on a failure, 2 on bad usage."""
    args = _parser().parse_args(argv)
    commands = {
        "provision": _provision,
        "serve": _serve,
        "send": _send,
        "viewer": _viewer,
        "preview": _preview,
    }
    return exit_status(lambda: commands[args.command](args))


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m devtools",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = parser.add_subparsers(dest="command", required=True)

    setup = commands.add_parser("provision", help="create the queues, topic, SES domains, bucket")
    setup.add_argument("--queue-name", default=DEFAULTS.queue_name)
    setup.add_argument("--dead-letter-queue-name", default=DEFAULTS.dead_letter_queue_name)
    setup.add_argument("--topic-name", default=DEFAULTS.topic_name)
    setup.add_argument(
        "--feedback-topic-name",
        default=DEFAULTS.feedback_topic_name,
        help="topic for SES events (bounces, complaints, deliveries...), subscribed to the queue"
        " ('' for none)",
    )
    setup.add_argument(
        "--configuration-set",
        default=DEFAULTS.configuration_set,
        help="SES configuration set publishing every event type to the feedback topic: give it"
        " to the handler as NOTIFIER_SES_CONFIGURATION_SET (default %(default)s, '' for none)",
    )
    setup.add_argument(
        "--status-topic-name",
        default=DEFAULTS.status_topic_name,
        help="topic for status callbacks, NOTIFIER_STATUS_TOPIC_ARN (default %(default)s,"
        " '' for none)",
    )
    setup.add_argument(
        "--visibility-timeout",
        type=int,
        default=DEFAULTS.visibility_timeout,
        help="seconds (default %(default)s, as in AWS). Lower it locally, e.g. 5, but not below"
        " 3: it is also the handler's budget, which keeps 1 s back and gives SES at least 1 s",
    )
    setup.add_argument("--max-receive-count", type=int, default=DEFAULTS.max_receive_count)
    setup.add_argument(
        "--sender-domain",
        action="append",
        dest="sender_domains",
        metavar="DOMAIN",
        help="an SES domain identity to verify; repeatable (default: acubeapi.com)",
    )
    setup.add_argument("--bucket", default=DEFAULTS.bucket, help="attachments bucket")
    setup.add_argument(
        "--sample-attachment",
        action="store_true",
        help="also upload a small PDF to invoices/12345.pdf in the bucket",
    )
    setup.add_argument(
        "--sample-templates",
        nargs="?",
        const=SAMPLE_TEMPLATES,
        default="",
        metavar="S3_URL",
        help="also upload the sample templates (devtools/templates) to S3_URL, the handler's"
        f" NOTIFIER_TEMPLATES (default {SAMPLE_TEMPLATES})",
    )
    setup.add_argument(
        "--state-table",
        help="the DynamoDB state table (default: NOTIFIER_STATE_TABLE, else notifier-state;"
        " '' for none)",
    )

    serve = commands.add_parser("serve", help="poll the queue and invoke the handler (SQS trigger)")
    source = serve.add_mutually_exclusive_group()
    source.add_argument("--queue-name", default=DEFAULTS.queue_name)
    source.add_argument("--queue-url")
    serve.add_argument(
        "--invoke-url",
        help="POST each batch here (Lambda RIE: http://localhost:9000/2015-03-31/functions/"
        "function/invocations) instead of calling the handler in this process",
    )
    serve.add_argument(
        "--http",
        action="store_true",
        help="also serve the HTTP API (docs/openapi.yaml) through the same handler, on"
        " 127.0.0.1, as API Gateway does; its enqueue route uses the polled queue",
    )
    serve.add_argument(
        "--port",
        type=int,
        default=http_gateway.DEFAULT_PORT,
        help="with --http: the port (default %(default)s; 0 picks a free one)",
    )
    serve.add_argument("--max-batches", type=int, help="stop after this many batches")
    serve.add_argument(
        "--wait-seconds",
        type=int,
        choices=range(MAX_WAIT_SECONDS + 1),
        default=MAX_WAIT_SECONDS,
        metavar=f"0..{MAX_WAIT_SECONDS}",
        help="long-poll wait (default %(default)s)",
    )

    send = commands.add_parser("send", help="build a message and deliver it")
    send.add_argument("--to", action="append", required=True, metavar="ADDR")
    send.add_argument("--subject", required=True)
    send.add_argument("--text")
    send.add_argument("--html-file", type=Path)
    send.add_argument("--attach", action="append", default=[], metavar="KEY", help="an S3 key")
    send.add_argument("--from", dest="sender", default=DEFAULT_SENDER, metavar="ADDR")
    send.add_argument("--bucket", default=DEFAULTS.bucket, help="where --attach keys live")
    send.add_argument("--via", choices=("sqs", "sns", "direct"), required=True)
    send.add_argument("--queue-name", default=DEFAULTS.queue_name, help="for --via sqs")
    send.add_argument("--queue-url", help="for --via sqs, instead of --queue-name")
    send.add_argument("--topic-name", default=DEFAULTS.topic_name, help="for --via sns")
    send.add_argument(
        "--channel",
        default="email",
        help="for --via sns: the `channel` attribute (default %(default)s; '' sends none)",
    )

    viewer = commands.add_parser("viewer", help="a web page of LocalStack's SES outbox")
    viewer.add_argument(
        "--endpoint",
        default=os.environ.get("AWS_ENDPOINT_URL", "http://127.0.0.1:4566"),
        help="LocalStack's URL (default: AWS_ENDPOINT_URL, else %(default)s)",
    )
    viewer.add_argument(
        "--port",
        type=int,
        default=viewer_server.DEFAULT_PORT,
        help="the port on 127.0.0.1 (default %(default)s; 0 picks a free one)",
    )

    show = commands.add_parser(
        "preview", help="render a template to .eml, .html and a PNG screenshot (Chromium)"
    )
    show.add_argument("template", help="the template's name, e.g. invoice-ready")
    show.add_argument("--locale", help="BCP 47, e.g. fr-FR (default: the template's default)")
    show.add_argument("--data", type=Path, required=True, help="a JSON file: the message's data")
    show.add_argument("--out", type=Path, default=Path("preview"), help="default ./preview")
    show.add_argument(
        "--templates",
        default=str(SAMPLES),
        help="a directory of templates, or s3://bucket/prefix (default: the repository's"
        " samples, devtools/templates)",
    )

    return parser


def _viewer(args: argparse.Namespace) -> int:
    try:
        running = viewer_server.start(SesOutbox(endpoint_url=args.endpoint), port=args.port)
    except OSError as exc:
        raise CommandError(
            f"cannot serve the viewer on {viewer_server.HOST}:{args.port}: {exc}"
        ) from None
    stop = StopFlag()
    signal.signal(signal.SIGINT, stop.handle_signal)
    signal.signal(signal.SIGTERM, stop.handle_signal)
    print(f"mail viewer on {running.url} (outbox of {args.endpoint}); Ctrl-C stops", flush=True)
    while not stop.wait(1.0):
        pass
    running.stop()
    return OK


def _preview(args: argparse.Namespace) -> int:
    try:
        data = json.loads(args.data.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise CommandError(f"cannot read {args.data}: {exc}") from None
    if not isinstance(data, dict):
        raise CommandError(f"{args.data} must hold a JSON object")
    try:
        written = preview(
            args.template,
            locale=args.locale,
            data=data,
            out=args.out,
            store=store_for(args.templates),
        )
    except PreviewError as exc:
        raise CommandError(str(exc), FAILED) from None
    print(f"template {written.template_version}")
    for path in (written.eml, written.html, written.png):
        if path is not None:
            print(f"wrote    {path}")
    return OK


def _provision(args: argparse.Namespace) -> int:
    try:
        config = ProvisionConfig(
            queue_name=args.queue_name,
            dead_letter_queue_name=args.dead_letter_queue_name,
            topic_name=args.topic_name,
            feedback_topic_name=args.feedback_topic_name.strip(),
            configuration_set=args.configuration_set.strip(),
            status_topic_name=args.status_topic_name.strip(),
            visibility_timeout=args.visibility_timeout,
            max_receive_count=args.max_receive_count,
            sender_domains=tuple(args.sender_domains or DEFAULTS.sender_domains),
            bucket=args.bucket,
            sample_attachment=args.sample_attachment,
            sample_templates=args.sample_templates,
            # Read now, not at import: NOTIFIER_STATE_TABLE as this command sees it.
            state_table=(
                args.state_table.strip()
                if args.state_table is not None
                else ProvisionConfig().state_table
            ),
        )
    except ValueError as exc:
        raise CommandError(f"invalid option: {exc}") from None
    try:
        provisioned = provision(_session(), config=config)
    except ProvisionError as exc:
        raise CommandError(str(exc), FAILED) from None
    print("\n".join(provisioned.lines()))
    return OK


def _serve(args: argparse.Namespace) -> int:
    # Long polls of up to 20 s: the read timeout must outlast them.
    sqs = client(_session(), "sqs", retries=3, read_timeout=MAX_WAIT_SECONDS + 10)
    try:
        queue = SqsQueue.connect(sqs, url=args.queue_url, name=args.queue_name)
    except sqs.exceptions.QueueDoesNotExist:
        raise CommandError(
            f"no queue {args.queue_url or args.queue_name}: run `python -m devtools provision`"
        ) from None
    if args.http:  # the enqueue route's queue, unless the environment names another
        os.environ.setdefault("NOTIFIER_QUEUE_URL", queue.url)
    function: Function
    if args.invoke_url:
        try:
            function = HttpFunction(args.invoke_url)
        except ValueError as exc:
            raise CommandError(str(exc)) from None
        target = args.invoke_url
    else:
        function = InProcessFunction(bootstrap())
        target = "the handler in this process"
    function = SerialFunction(function)
    http = _start_http(function, args.port) if args.http else None
    stop = StopFlag()
    signal.signal(signal.SIGINT, stop.handle_signal)
    signal.signal(signal.SIGTERM, stop.handle_signal)
    print(
        f"serving {queue.url} (visibility timeout {queue.visibility_timeout} s) -> {target};"
        " SIGINT/SIGTERM stops after the batch in flight",
        flush=True,
    )
    if http is not None:
        print(f"serving the HTTP API on {http.url} -> {target}", flush=True)
    runner = Runner(queue=queue, function=function, wait_seconds=args.wait_seconds)
    try:
        handled = runner.run(stop, max_batches=args.max_batches)
    finally:
        if http is not None:
            http.stop()
    print(f"stopped after {handled} batch(es)", flush=True)
    return OK


def _start_http(function: Function, port: int) -> http_gateway.Running:
    try:
        return http_gateway.start(function, port=port, log=say)
    except OSError as exc:
        raise CommandError(f"cannot serve HTTP on {http_gateway.HOST}:{port}: {exc}") from None


def _send(args: argparse.Namespace) -> int:
    message = _message(args)
    body = json.dumps(message, ensure_ascii=False)
    if args.via == "direct":
        return invoke(message)
    session = _session()
    if args.via == "sqs":
        sqs = client(session, "sqs", retries=3)
        try:
            url = args.queue_url or sqs.get_queue_url(QueueName=args.queue_name)["QueueUrl"]
        except sqs.exceptions.QueueDoesNotExist:
            raise CommandError(
                f"no queue {args.queue_name}: run `python -m devtools provision`"
            ) from None
        sent = sqs.send_message(QueueUrl=url, MessageBody=body)
        print(f"queued on {url}: message id {sent['MessageId']}")
        return OK
    sns = client(session, "sns", retries=3)
    topic = find_topic(sns, args.topic_name)
    if topic is None:
        raise CommandError(f"no topic {args.topic_name}: run `python -m devtools provision`")
    attributes: dict[str, Any] = (
        {CHANNEL_ATTRIBUTE: {"DataType": "String", "StringValue": args.channel}}
        if args.channel
        else {}
    )
    published = sns.publish(TopicArn=topic, Message=body, MessageAttributes=attributes)
    print(f"published to {topic}: message id {published['MessageId']}")
    return OK


def _message(args: argparse.Namespace) -> dict[str, Any]:
    """The message as producers write it, checked against the schema before it leaves."""
    message: dict[str, Any] = {
        "sender": args.sender,
        "recipients": list(args.to),
        "subject": args.subject,
    }
    if args.text is not None:
        message["text_content"] = args.text
    if args.html_file is not None:
        try:
            message["html_content"] = args.html_file.read_text(encoding="utf-8")
        except OSError as exc:
            raise CommandError(f"cannot read {args.html_file}: {exc}") from None
    if args.attach:
        message["bucket_name"] = args.bucket
        message["attachments"] = [{"key": key} for key in args.attach]
    try:
        parse_message(message)
    except InvalidMessage as exc:
        raise CommandError(f"invalid message: {exc}") from None
    return message


def _session() -> botocore.session.Session:
    try:
        return aws_session()
    except RegionNotSet as exc:
        raise CommandError(str(exc)) from None
