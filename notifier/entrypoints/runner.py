"""`python -m notifier serve`: Lambda's SQS event source mapping, run on this machine.

Long-polls the email queue, hands each batch to the handler as the exact Lambda SQS event (in
this process, or over HTTP to the Lambda Runtime Interface Emulator), then deletes the messages
the handler did not name in `batchItemFailures`. The others are left to the visibility timeout,
so a message that keeps failing moves to the dead-letter queue after maxReceiveCount receives,
as in AWS. If the invocation itself fails, nothing is deleted and the whole batch comes back.
"""

from __future__ import annotations

import base64
import contextlib
import functools
import json
import signal
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from types import FrameType
from typing import TYPE_CHECKING, Any, Protocol

import attrs
from botocore.exceptions import BotoCoreError, ClientError

from notifier.entrypoints.app import App

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient
    from mypy_boto3_sqs.type_defs import DeleteMessageBatchRequestEntryTypeDef

MAX_MESSAGES = 10  # what ReceiveMessage allows, and the template's BatchSize
MAX_WAIT_SECONDS = 20  # the longest long poll SQS allows
RECEIVE_RETRY_SECONDS = 1.0  # pause after a failed receive, so an outage is not a busy loop


class Queue(Protocol):
    """The queue the runner drains; messages keep the shape ReceiveMessage gives them."""

    @property
    def arn(self) -> str:
        """The queue's ARN, the records' `eventSourceARN`."""
        ...

    @property
    def region(self) -> str:
        """The queue's region, the records' `awsRegion`."""
        ...

    @property
    def visibility_timeout(self) -> int:
        """Seconds a received message stays hidden: the budget of one invocation."""
        ...

    def receive(self, *, max_messages: int, wait_seconds: int) -> Sequence[Mapping[str, Any]]:
        """Up to `max_messages` messages, waiting at most `wait_seconds` for the first."""
        ...

    def delete(self, receipts: Mapping[str, str]) -> set[str]:
        """Delete messages (message id -> receipt handle); return the ids left undeleted."""
        ...


class Function(Protocol):
    """The handler, however it is reached."""

    def invoke(self, event: Mapping[str, Any], *, budget_seconds: float) -> Any:
        """The handler's response; raise `InvokeFailed` when the invocation itself fails."""
        ...


class InvokeFailed(Exception):
    """The function raised, timed out or could not be reached: the whole batch is retried."""


class QueueUnavailable(Exception):
    """SQS could not be read."""


class PollInterrupted(BaseException):
    """A stop signal ended a long poll. A BaseException, so no `except Exception` swallows it."""


class StopFlag:
    """A request to stop, from a signal handler or from another thread.

    While the runner waits on an empty queue a signal also cuts the wait short; while it
    handles a batch, it finishes the batch, deletes included, and then stops.
    """

    def __init__(self) -> None:
        self._event = threading.Event()
        self._interruptible = False

    def set(self) -> None:
        """Ask the runner to stop after the current receive or batch."""
        self._event.set()

    def is_set(self) -> bool:
        return self._event.is_set()

    def wait(self, seconds: float) -> bool:
        """Sleep up to `seconds`, waking early (and returning True) on a stop request."""
        return self._event.wait(seconds)

    def handle_signal(self, signum: int, _frame: FrameType | None) -> None:
        """A `signal.signal` handler for SIGINT and SIGTERM."""
        self._event.set()
        if self._interruptible:
            self._interruptible = False
            raise PollInterrupted(signal.Signals(signum).name)

    @contextlib.contextmanager
    def interruptible(self) -> Iterator[None]:
        """Within this block a signal raises `PollInterrupted` instead of waiting for its end.

        Only a receive belongs here: if the signal lands just as messages arrive, they are not
        lost but come back after the visibility timeout.
        """
        self._interruptible = True
        try:
            if self._event.is_set():  # a signal that came just before the block
                raise PollInterrupted("stop requested")
            yield
        finally:
            self._interruptible = False


@attrs.frozen(kw_only=True)
class BatchSummary:
    """What happened to one batch."""

    number: int
    received: int
    ok: int
    failed: int
    deleted: int
    duration_ms: float
    error: str | None = None

    def line(self) -> str:
        text = (
            f"batch {self.number}: received {self.received}, ok {self.ok},"
            f" failed {self.failed}, deleted {self.deleted} in {self.duration_ms:.0f} ms"
        )
        return f"{text}; {self.error}" if self.error else text


class InvalidBatchResponse(Exception):
    """A response Lambda would read as "the whole batch failed"."""


class Runner:
    """Poll, invoke, delete: one batch at a time, as one Lambda event source mapping poller."""

    def __init__(
        self,
        *,
        queue: Queue,
        function: Function,
        wait_seconds: int = MAX_WAIT_SECONDS,
        max_messages: int = MAX_MESSAGES,
        retry_seconds: float = RECEIVE_RETRY_SECONDS,
        report: Callable[[str], None] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._queue = queue
        self._function = function
        self._wait_seconds = wait_seconds
        self._max_messages = max_messages
        self._retry_seconds = retry_seconds
        self._report = report or functools.partial(print, flush=True)
        self._clock = clock
        self._batches = 0

    def run(self, stop: StopFlag, *, max_batches: int | None = None) -> int:
        """Handle batches until `stop` is set or `max_batches` were handled; return how many."""
        handled = 0
        while not stop.is_set() and (max_batches is None or handled < max_batches):
            try:
                with stop.interruptible():
                    messages = self._queue.receive(
                        max_messages=self._max_messages, wait_seconds=self._wait_seconds
                    )
            except PollInterrupted:
                break
            except QueueUnavailable as exc:
                self._report(f"receive failed: {exc}")
                stop.wait(self._retry_seconds)
                continue
            if messages:
                self._report(self.handle(messages).line())
                handled += 1
        return handled

    def handle(self, messages: Sequence[Mapping[str, Any]]) -> BatchSummary:
        """Invoke the function with one batch, then delete what it did not report as failed."""
        started = self._clock()
        self._batches += 1
        event = lambda_event(messages, arn=self._queue.arn, region=self._queue.region)
        ids = [record["messageId"] for record in event["Records"]]
        budget = self._queue.visibility_timeout - (self._clock() - started)
        try:
            response = self._function.invoke(event, budget_seconds=budget)
            failed = failed_ids(response, ids)
        except (InvokeFailed, InvalidBatchResponse) as exc:
            return self._summary(started, ids, failed=set(ids), deleted=0, error=exc)
        receipts = {
            record["messageId"]: record["receiptHandle"]
            for record in event["Records"]
            if record["messageId"] not in failed
        }
        undeleted = self._queue.delete(receipts)
        return self._summary(started, ids, failed=failed, deleted=len(receipts) - len(undeleted))

    def _summary(
        self,
        started: float,
        ids: Sequence[str],
        *,
        failed: set[str],
        deleted: int,
        error: Exception | None = None,
    ) -> BatchSummary:
        ok = len(ids) - len(failed)
        note = None
        if error is not None:
            note = f"nothing deleted, the whole batch will be retried: {error}"
        elif deleted < ok:
            note = f"{ok - deleted} not deleted: they will be received (and sent) again"
        return BatchSummary(
            number=self._batches,
            received=len(ids),
            ok=ok,
            failed=len(failed),
            deleted=deleted,
            duration_ms=(self._clock() - started) * 1000,
            error=note,
        )


def lambda_event(
    messages: Sequence[Mapping[str, Any]], *, arn: str, region: str
) -> dict[str, list[dict[str, Any]]]:
    """The event Lambda's SQS trigger builds from ReceiveMessage's messages."""
    return {"Records": [lambda_record(m, arn=arn, region=region) for m in messages]}


def lambda_record(message: Mapping[str, Any], *, arn: str, region: str) -> dict[str, Any]:
    """One SQS message in Lambda's shape: lower-camel keys, binary values in base64."""
    record: dict[str, Any] = {
        "messageId": message["MessageId"],
        "receiptHandle": message["ReceiptHandle"],
        "body": message["Body"],
        "attributes": dict(message.get("Attributes", {})),
        "messageAttributes": {
            name: _lambda_attribute(value)
            for name, value in message.get("MessageAttributes", {}).items()
        },
        "md5OfBody": message["MD5OfBody"],
        "eventSource": "aws:sqs",
        "eventSourceARN": arn,
        "awsRegion": region,
    }
    if "MD5OfMessageAttributes" in message:
        record["md5OfMessageAttributes"] = message["MD5OfMessageAttributes"]
    return record


def _lambda_attribute(value: Mapping[str, Any]) -> dict[str, Any]:
    attribute: dict[str, Any] = {}
    if "StringValue" in value:
        attribute["stringValue"] = value["StringValue"]
    if "BinaryValue" in value:
        attribute["binaryValue"] = _base64(value["BinaryValue"])
    attribute["stringListValues"] = list(value.get("StringListValues", []))
    attribute["binaryListValues"] = [_base64(b) for b in value.get("BinaryListValues", [])]
    attribute["dataType"] = value["DataType"]
    return attribute


def _base64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def failed_ids(response: Any, batch_ids: Collection[str]) -> set[str]:
    """The ids to leave in the queue, read as Lambda reads a ReportBatchItemFailures response.

    No response, an object without `batchItemFailures`, or a null or empty list: all succeeded.
    Anything else that does not name messages of this batch fails the whole batch.
    """
    if response is None:
        return set()
    if not isinstance(response, Mapping):
        raise InvalidBatchResponse(f"the response is {type(response).__name__}, not an object")
    failures = response.get("batchItemFailures")
    if failures is None:
        return set()
    if not isinstance(failures, list):
        raise InvalidBatchResponse("batchItemFailures is not a list")
    failed = set()
    for failure in failures:
        item = failure.get("itemIdentifier") if isinstance(failure, Mapping) else None
        if not isinstance(item, str) or item not in batch_ids:
            raise InvalidBatchResponse(f"itemIdentifier {item!r} is not a message of this batch")
        failed.add(item)
    return failed


class BudgetContext:
    """Lambda's context for one invocation: a request id and the time left to the deadline."""

    def __init__(self, budget_seconds: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.aws_request_id = str(uuid.uuid4())
        self._deadline = clock() + budget_seconds
        self._clock = clock

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - self._clock()) * 1000))


class InProcessFunction:
    """The handler in this process, with Lambda's rules: a raise or an unserialisable
    response is a failed invocation."""

    def __init__(self, app: App) -> None:
        self._app = app

    def invoke(self, event: Mapping[str, Any], *, budget_seconds: float) -> Any:
        try:
            response = self._app.handle(event, BudgetContext(budget_seconds))
            return json.loads(json.dumps(response))
        except Exception as exc:  # a Lambda function error, whatever its type
            raise InvokeFailed(f"the handler raised {type(exc).__name__}: {exc}") from exc


class HttpFunction:
    """The handler behind the Lambda Runtime Interface Emulator (or any Invoke-shaped URL),
    e.g. http://localhost:9000/2015-03-31/functions/function/invocations."""

    def __init__(self, url: str) -> None:
        if urllib.parse.urlsplit(url).scheme not in {"http", "https"}:
            raise ValueError(f"the invoke URL must be http(s), got {url!r}")
        self.url = url

    def invoke(self, event: Mapping[str, Any], *, budget_seconds: float) -> Any:
        # The scheme is checked in __init__: no file:// or custom schemes reach urlopen.
        request = urllib.request.Request(  # noqa: S310
            self.url,
            data=json.dumps(event).encode("utf-8"),
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        try:
            with urllib.request.urlopen(request, timeout=max(1.0, budget_seconds)) as reply:  # noqa: S310
                function_error = reply.headers.get("X-Amz-Function-Error")
                body = reply.read()
        except urllib.error.HTTPError as exc:
            with exc:
                raise InvokeFailed(f"{self.url} answered HTTP {exc.code}") from exc
        except OSError as exc:  # refused, reset, timed out
            raise InvokeFailed(f"cannot invoke {self.url}: {exc}") from exc
        try:
            response = json.loads(body) if body.strip() else None
        except ValueError as exc:
            raise InvokeFailed(f"{self.url} answered with something other than JSON") from exc
        if function_error or _is_function_error(response):
            kind = response.get("errorType") if isinstance(response, Mapping) else function_error
            raise InvokeFailed(f"the function failed: {kind}")
        return response


def _is_function_error(response: Any) -> bool:
    """The runtime's error payload: {"errorMessage": ..., "errorType": ..., ...}."""
    return isinstance(response, Mapping) and {"errorType", "errorMessage"} <= response.keys()


@attrs.frozen(kw_only=True)
class SqsQueue:
    """`Queue` on SQS."""

    client: SQSClient
    url: str
    arn: str
    region: str
    visibility_timeout: int

    @classmethod
    def connect(
        cls, client: SQSClient, *, url: str | None = None, name: str | None = None
    ) -> SqsQueue:
        """Look the queue up by URL or name; raises botocore's error if it does not exist."""
        if url is None:
            if name is None:
                raise ValueError("a queue URL or name is needed")
            url = client.get_queue_url(QueueName=name)["QueueUrl"]
        attributes = client.get_queue_attributes(
            QueueUrl=url, AttributeNames=["QueueArn", "VisibilityTimeout"]
        )["Attributes"]
        return cls(
            client=client,
            url=url,
            arn=attributes["QueueArn"],
            region=client.meta.region_name,
            visibility_timeout=int(attributes["VisibilityTimeout"]),
        )

    def receive(self, *, max_messages: int, wait_seconds: int) -> Sequence[Mapping[str, Any]]:
        try:
            response = self.client.receive_message(
                QueueUrl=self.url,
                MaxNumberOfMessages=max_messages,
                WaitTimeSeconds=wait_seconds,
                # The newer name of AttributeNames=["All"]: every system attribute.
                MessageSystemAttributeNames=["All"],
                MessageAttributeNames=["All"],
            )
        except (ClientError, BotoCoreError) as exc:
            raise QueueUnavailable(f"{type(exc).__name__}: {exc}") from exc
        return response.get("Messages", [])

    def delete(self, receipts: Mapping[str, str]) -> set[str]:
        ids = list(receipts)
        undeleted: set[str] = set()
        for start in range(0, len(ids), MAX_MESSAGES):
            chunk = ids[start : start + MAX_MESSAGES]
            entries: list[DeleteMessageBatchRequestEntryTypeDef] = [
                {"Id": str(n), "ReceiptHandle": receipts[message_id]}
                for n, message_id in enumerate(chunk)
            ]
            try:
                response = self.client.delete_message_batch(QueueUrl=self.url, Entries=entries)
            except (ClientError, BotoCoreError):
                undeleted.update(chunk)
                continue
            undeleted.update(chunk[int(failure["Id"])] for failure in response.get("Failed", []))
        return undeleted
