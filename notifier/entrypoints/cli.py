"""Operations commands, the second composition root: `python -m notifier COMMAND`.

- `invoke --event FILE`: call the Lambda handler in-process with that event, print the response.
- `suppression list|add|remove`: the addresses never mailed, in the table NOTIFIER_STATE_TABLE
  names (for operators; `remove` erases an address on request).
- `status MESSAGE_ID` or `status --key KEY --sender ADDRESS`: an email's status record, as
  JSON (exit 1 when there is none).

AWS clients go wherever AWS_ENDPOINT_URL points. The local tooling (`provision`, `serve`,
`send`) is not part of the function: `python -m devtools`.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError

from notifier.adapters.addresses import EmailValidatorAddresses
from notifier.adapters.outbound.aws import RegionNotSet, aws_session, client
from notifier.adapters.outbound.dynamodb import DynamoDbSuppressionList
from notifier.adapters.outbound.dynamodb.status import DynamoDbStatusStore
from notifier.domain.errors import DependencyUnavailable
from notifier.domain.idempotency import scoped_key
from notifier.domain.state import Suppression, SuppressionReason
from notifier.entrypoints.bootstrap import bootstrap
from notifier.entrypoints.context import LocalContext
from notifier.entrypoints.settings import Settings, SettingsError
from notifier.entrypoints.status_view import status_document

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

OK, FAILED, USAGE = 0, 1, 2


class CommandError(Exception):
    """A command cannot run: the message is printed, the exit status is `status`."""

    def __init__(self, message: str, status: int = USAGE) -> None:
        super().__init__(message)
        self.status = status


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; the exit status is 0 on success, 1 on a failed send, 2 on bad usage."""
    parser = _parser()
    args = parser.parse_args(argv)
    if args.command == "invoke":
        try:
            event = json.loads(args.event.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            parser.error(f"cannot read event {args.event}: {exc}")
        return exit_status(lambda: invoke(event))
    if args.command == "status":
        if (args.message_id is None) == (args.key is None) or (args.key is None) != (
            args.sender is None
        ):
            parser.error("give MESSAGE_ID, or --key KEY with --sender ADDRESS")
        return exit_status(lambda: _status(args))
    return exit_status(lambda: _suppression(args))


def exit_status(command: Callable[[], int]) -> int:
    """Run a command; print why it failed, as the exit status says: 2 for bad usage or
    settings, 1 for a failure (an AWS call, a failed send)."""
    try:
        return command()
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

    status = commands.add_parser(
        "status", help="an email's status record as JSON, by SES message id or idempotency key"
    )
    status.add_argument("message_id", nargs="?", help="the SES message id")
    status.add_argument("--key", help="the producer's idempotency_key (with --sender)")
    status.add_argument("--sender", help="the sender address the key was sent with")
    return parser


def invoke(event: Any) -> int:
    """Call the handler in this process with `event`, print the response; 0 if it succeeded."""
    response = bootstrap().handle(event, LocalContext())
    print(json.dumps(response, indent=2, ensure_ascii=False))
    return OK if _succeeded(response) else FAILED


def _state_table() -> tuple[DynamoDBClient, str]:
    table = Settings.from_env().state_table
    if not table:
        raise CommandError("NOTIFIER_STATE_TABLE is not set: name the state table")
    try:
        return client(aws_session(), "dynamodb", retries=3), table
    except RegionNotSet as exc:
        raise CommandError(str(exc)) from None


def _status(args: argparse.Namespace) -> int:
    dynamodb, table = _state_table()
    statuses = DynamoDbStatusStore(dynamodb, table)
    try:
        if args.message_id is not None:
            record = statuses.read(args.message_id)
            what = f"SES message id {args.message_id}"
        else:
            sender = _valid_address(args.sender.strip())
            record = statuses.find(scoped_key(sender, args.key))
            what = f"idempotency key {args.key!r} from {sender}"
    except DependencyUnavailable as exc:
        raise CommandError(f"state table {table}: {exc}", FAILED) from None
    if record is None:
        raise CommandError(f"no status for {what} (unknown, or past its retention)", FAILED)
    print(json.dumps(status_document(record), indent=2, ensure_ascii=False))
    return OK


def _suppression(args: argparse.Namespace) -> int:
    dynamodb, table = _state_table()
    suppressions = DynamoDbSuppressionList(dynamodb, table)
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


def _succeeded(response: Mapping[str, Any]) -> bool:
    return response.get("statusCode", 200) == 200 and not response.get("batchItemFailures")
