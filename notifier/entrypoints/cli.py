"""The command line, the second composition root: `python -m notifier COMMAND`.

- `invoke --event FILE`: call the Lambda handler in-process with that event, print the response.
- `provision`: create the queue, dead-letter queue, topic, SES domains, bucket and state table
  (idempotent).
- `serve`: poll the email queue and invoke the handler, as Lambda's SQS trigger does.
- `send`: build a message and deliver it through SQS, SNS or a direct call.
- `suppression list|add|remove`: the addresses never mailed, in the table NOTIFIER_STATE_TABLE
  names (for operators; `remove` erases an address on request).

AWS clients go wherever AWS_ENDPOINT_URL points (LocalStack in development).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import time
import uuid
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from notifier.adapters.addresses import EmailValidatorAddresses
from notifier.adapters.inbound.message import parse_message
from notifier.adapters.outbound.dynamodb import DynamoDbSuppressionList
from notifier.domain.errors import DependencyUnavailable, InvalidMessage
from notifier.domain.state import Suppression, SuppressionReason
from notifier.entrypoints.app import DEFAULT_TIMEOUT_SECONDS
from notifier.entrypoints.bootstrap import bootstrap
from notifier.entrypoints.provision import (
    ProvisionConfig,
    ProvisionError,
    find_topic,
    provision,
)
from notifier.entrypoints.runner import (
    MAX_WAIT_SECONDS,
    Function,
    HttpFunction,
    InProcessFunction,
    Runner,
    SqsQueue,
    StopFlag,
)
from notifier.entrypoints.settings import Settings, SettingsError

DEFAULTS = ProvisionConfig()
DEFAULT_SENDER = "noreply@acubeapi.com"
CHANNEL_ATTRIBUTE = "channel"

OK, FAILED, USAGE = 0, 1, 2


class LocalContext:
    """A stand-in for Lambda's context object: a request id and a 30-second budget."""

    def __init__(self, timeout_seconds: float = DEFAULT_TIMEOUT_SECONDS) -> None:
        self.aws_request_id = f"local-{uuid.uuid4()}"
        self._deadline = time.monotonic() + timeout_seconds

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


class CommandError(Exception):
    """A command cannot run: the message is printed, the exit status is `status`."""

    def __init__(self, message: str, status: int = USAGE) -> None:
        super().__init__(message)
        self.status = status


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; the exit status is 0 on success, 1 on a failed send, 2 on bad usage."""
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        if args.command == "invoke":
            try:
                event = json.loads(args.event.read_text(encoding="utf-8"))
            except (OSError, ValueError) as exc:
                parser.error(f"cannot read event {args.event}: {exc}")
            return _invoke(event)
        if args.command == "provision":
            return _provision(args)
        if args.command == "serve":
            return _serve(args)
        if args.command == "suppression":
            return _suppression(args)
        return _send(args)
    except SettingsError as exc:
        print(exc, file=sys.stderr)
        return USAGE
    except CommandError as exc:
        print(exc, file=sys.stderr)
        return exc.status
    except (BotoCoreError, ClientError) as exc:
        print(f"AWS call failed: {exc}", file=sys.stderr)
        return FAILED


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m notifier",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = parser.add_subparsers(dest="command", required=True)

    invoke = commands.add_parser("invoke", help="call the handler with an event file")
    invoke.add_argument("--event", type=Path, required=True, help="a JSON event (tests/events/)")

    setup = commands.add_parser("provision", help="create the queues, topic, SES domains, bucket")
    setup.add_argument("--queue-name", default=DEFAULTS.queue_name)
    setup.add_argument("--dead-letter-queue-name", default=DEFAULTS.dead_letter_queue_name)
    setup.add_argument("--topic-name", default=DEFAULTS.topic_name)
    setup.add_argument(
        "--feedback-topic-name",
        default=DEFAULTS.feedback_topic_name,
        help="topic for SES bounce/complaint notifications, subscribed to the queue ('' for none)",
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
        "--state-table",
        default=DEFAULTS.state_table,
        help="the DynamoDB state table (NOTIFIER_STATE_TABLE; default %(default)s, '' for none)",
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

    suppression = commands.add_parser(
        "suppression", help="list, add or remove suppressed addresses (NOTIFIER_STATE_TABLE)"
    )
    actions = suppression.add_subparsers(dest="action", required=True)
    actions.add_parser("list", help="every suppressed address, with why and when")
    add = actions.add_parser("add", help="stop mailing an address")
    add.add_argument("address")
    add.add_argument(
        "--reason",
        choices=(SuppressionReason.COMPLAINT.value, SuppressionReason.BOUNCE.value),
        default=SuppressionReason.COMPLAINT.value,
        help="default %(default)s (the owner asked not to be mailed)",
    )
    remove = actions.add_parser(
        "remove", help="mail an address again and forget its bounces (exit 1 if not suppressed)"
    )
    remove.add_argument("address")
    return parser


def _invoke(event: Any) -> int:
    response = bootstrap().handle(event, LocalContext())
    print(json.dumps(response, indent=2, ensure_ascii=False))
    return OK if _succeeded(response) else FAILED


def _provision(args: argparse.Namespace) -> int:
    try:
        config = ProvisionConfig(
            queue_name=args.queue_name,
            dead_letter_queue_name=args.dead_letter_queue_name,
            topic_name=args.topic_name,
            feedback_topic_name=args.feedback_topic_name.strip(),
            visibility_timeout=args.visibility_timeout,
            max_receive_count=args.max_receive_count,
            sender_domains=tuple(args.sender_domains or DEFAULTS.sender_domains),
            bucket=args.bucket,
            sample_attachment=args.sample_attachment,
            state_table=args.state_table.strip(),
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
    sqs = _session().client("sqs")
    try:
        queue = SqsQueue.connect(sqs, url=args.queue_url, name=args.queue_name)
    except sqs.exceptions.QueueDoesNotExist:
        raise CommandError(
            f"no queue {args.queue_url or args.queue_name}: run `python -m notifier provision`"
        ) from None
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
    stop = StopFlag()
    signal.signal(signal.SIGINT, stop.handle_signal)
    signal.signal(signal.SIGTERM, stop.handle_signal)
    print(
        f"serving {queue.url} (visibility timeout {queue.visibility_timeout} s) -> {target};"
        " SIGINT/SIGTERM stops after the batch in flight",
        flush=True,
    )
    runner = Runner(queue=queue, function=function, wait_seconds=args.wait_seconds)
    handled = runner.run(stop, max_batches=args.max_batches)
    print(f"stopped after {handled} batch(es)", flush=True)
    return OK


def _send(args: argparse.Namespace) -> int:
    message = _message(args)
    body = json.dumps(message, ensure_ascii=False)
    if args.via == "direct":
        return _invoke(message)
    session = _session()
    if args.via == "sqs":
        sqs = session.client("sqs")
        try:
            url = args.queue_url or sqs.get_queue_url(QueueName=args.queue_name)["QueueUrl"]
        except sqs.exceptions.QueueDoesNotExist:
            raise CommandError(
                f"no queue {args.queue_name}: run `python -m notifier provision`"
            ) from None
        sent = sqs.send_message(QueueUrl=url, MessageBody=body)
        print(f"queued on {url}: message id {sent['MessageId']}")
        return OK
    sns = session.client("sns")
    topic = find_topic(sns, args.topic_name)
    if topic is None:
        raise CommandError(f"no topic {args.topic_name}: run `python -m notifier provision`")
    attributes: dict[str, Any] = (
        {CHANNEL_ATTRIBUTE: {"DataType": "String", "StringValue": args.channel}}
        if args.channel
        else {}
    )
    published = sns.publish(TopicArn=topic, Message=body, MessageAttributes=attributes)
    print(f"published to {topic}: message id {published['MessageId']}")
    return OK


def _suppression(args: argparse.Namespace) -> int:
    table = Settings.from_env().state_table
    if not table:
        raise CommandError("NOTIFIER_STATE_TABLE is not set: name the state table")
    client = _session().client(
        "dynamodb", config=Config(retries={"mode": "standard", "total_max_attempts": 3})
    )
    suppressions = DynamoDbSuppressionList(client, table)
    try:
        if args.action == "list":
            print("\n".join(_suppression_lines(suppressions.entries())))
            return OK
        # Stored lower-case, as the service compares them; `remove` takes any spelling.
        address = args.address.strip().lower()
        if args.action == "add":
            address = _valid_address(address)
            suppressions.add(
                Suppression(
                    address=address,
                    reason=SuppressionReason(args.reason),
                    feedback_type="manual",
                    timestamp=datetime.now(UTC).isoformat(timespec="seconds"),
                )
            )
            print(f"suppressed {address}")
        elif suppressions.remove(address):
            print(f"removed {address}: it will be mailed again")
        else:
            raise CommandError(f"{address} was not suppressed", FAILED)
    except DependencyUnavailable as exc:
        raise CommandError(f"state table {table}: {exc}", FAILED) from None
    return OK


def _suppression_lines(entries: Sequence[Suppression]) -> list[str]:
    """Aligned columns: address, reason, type/sub-type, timestamp (full addresses: an
    operator's tool, not a log)."""
    if not entries:
        return ["(no suppressed addresses)"]
    rows = [("ADDRESS", "REASON", "TYPE", "TIMESTAMP")] + [
        (
            entry.address,
            entry.reason.value,
            "/".join(filter(None, (entry.feedback_type, entry.feedback_sub_type))) or "-",
            entry.timestamp or "-",
        )
        for entry in entries
    ]
    width = [max(len(row[column]) for row in rows) for column in range(3)]
    return [
        f"{address:{width[0]}}  {reason:{width[1]}}  {kind:{width[2]}}  {timestamp}"
        for address, reason, kind, timestamp in rows
    ]


def _valid_address(address: str) -> str:
    try:
        return EmailValidatorAddresses().parse(address, allow_display_name=False).addr_spec.lower()
    except ValueError as exc:
        raise CommandError(str(exc)) from None


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


def _session() -> boto3.session.Session:
    # boto3 reads AWS_DEFAULT_REGION; accept AWS_REGION too, as the handler does.
    session = boto3.session.Session(region_name=os.environ.get("AWS_REGION") or None)
    if session.region_name is None:
        raise CommandError("AWS_REGION (or AWS_DEFAULT_REGION) is not set")
    return session


def _succeeded(response: Mapping[str, Any]) -> bool:
    return response.get("statusCode", 200) == 200 and not response.get("batchItemFailures")
