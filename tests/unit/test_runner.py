"""The SQS runner's poll -> invoke -> delete loop, with an in-memory queue and real handlers."""

from __future__ import annotations

import copy
import hashlib
import http.server
import itertools
import json
import signal
import threading
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest

from devtools.runner.events import lambda_event
from devtools.runner.invokers import HttpFunction, InProcessFunction, InvokeFailed
from devtools.runner.poller import BatchSummary, Runner, StopFlag
from devtools.runner.queue import QueueUnavailable
from notifier.entrypoints.app import App
from tests.fakes import FakeMailer
from tests.unit.conftest import seed_message

EVENTS = Path(__file__).parent.parent / "events"
ARN = "arn:aws:sqs:us-east-1:123456789012:notifier-email"


class FakeQueue:
    """SQS in memory: waiting messages, messages in flight (received, not deleted), deletes.

    `expire()` plays the visibility timeout running out: messages in flight wait again.
    """

    arn = ARN
    region = "us-east-1"

    def __init__(self, *bodies: str, visibility_timeout: int = 30) -> None:
        self.visibility_timeout = visibility_timeout
        self.waiting: list[dict[str, Any]] = []
        self.in_flight: dict[str, dict[str, Any]] = {}
        self.deleted: list[str] = []
        self.receive_calls: list[tuple[int, int]] = []
        self.refuse_deletes: set[str] = set()
        self._ids = itertools.count(1)
        for body in bodies:
            self.send(body)

    def send(self, body: str, attributes: Mapping[str, Any] | None = None) -> str:
        message_id = f"msg-{next(self._ids)}"
        message: dict[str, Any] = {
            "MessageId": message_id,
            "Body": body,
            "MD5OfBody": hashlib.md5(body.encode(), usedforsecurity=False).hexdigest(),
            "Attributes": {
                "SenderId": "AIDAIENQZJOLO23YVJ4VO",
                "SentTimestamp": "1717171200183",
                "ApproximateReceiveCount": "0",
            },
        }
        if attributes:
            message["MessageAttributes"] = dict(attributes)
            message["MD5OfMessageAttributes"] = "d41d8cd98f00b204e9800998ecf8427e"
        self.waiting.append(message)
        return message_id

    def receive(self, *, max_messages: int, wait_seconds: int) -> Sequence[Mapping[str, Any]]:
        self.receive_calls.append((max_messages, wait_seconds))
        batch, self.waiting = self.waiting[:max_messages], self.waiting[max_messages:]
        for message in batch:
            count = int(message["Attributes"]["ApproximateReceiveCount"]) + 1
            message["Attributes"]["ApproximateReceiveCount"] = str(count)
            message["Attributes"].setdefault("ApproximateFirstReceiveTimestamp", "1717171200185")
            message["ReceiptHandle"] = f"{message['MessageId']}/receive-{count}"
            self.in_flight[message["MessageId"]] = message
        return copy.deepcopy(batch)

    def delete(self, receipts: Mapping[str, str]) -> set[str]:
        undeleted = set()
        for message_id, handle in receipts.items():
            message = self.in_flight.get(message_id)
            if message_id in self.refuse_deletes or message is None:
                undeleted.add(message_id)
            elif message["ReceiptHandle"] == handle:
                del self.in_flight[message_id]
                self.deleted.append(message_id)
        return undeleted

    def expire(self) -> None:
        self.waiting.extend(self.in_flight.values())
        self.in_flight.clear()


class ScriptedFunction:
    """Answers each invocation with the next scripted response (or raises it); keeps the events."""

    def __init__(self, *responses: Any) -> None:
        self.responses = list(responses)
        self.events: list[Mapping[str, Any]] = []
        self.budgets: list[float] = []

    def invoke(self, event: Mapping[str, Any], *, budget_seconds: float) -> Any:
        self.events.append(event)
        self.budgets.append(budget_seconds)
        response = self.responses.pop(0) if self.responses else None
        if isinstance(response, Exception):
            raise response
        return response


class Lines:
    """Collects what the runner reports."""

    def __init__(self) -> None:
        self.lines: list[str] = []

    def __call__(self, line: str) -> None:
        self.lines.append(line)


def body(**changes: Any) -> str:
    return json.dumps(seed_message(**changes))


def make_runner(queue: FakeQueue, function: Any, lines: Lines | None = None) -> Runner:
    return Runner(
        queue=queue,
        function=function,
        wait_seconds=0,
        report=lines if lines is not None else Lines(),
        clock=itertools.count(start=0.0, step=0.25).__next__,
    )


def test_only_the_messages_not_reported_as_failed_are_deleted(app: App, mailer: FakeMailer) -> None:
    """GIVEN two valid messages and an invalid one on the queue
    WHEN the runner hands the batch to the real handler
    THEN the two are sent and deleted, and the invalid one stays in flight for a retry."""
    queue = FakeQueue(body(subject="one"), "{not json", body(subject="two"))
    lines = Lines()

    handled = make_runner(queue, InProcessFunction(app), lines).run(StopFlag(), max_batches=1)

    assert handled == 1
    assert sorted(str(s.message["Subject"]) for s in mailer.sent) == ["one", "two"]
    assert queue.deleted == ["msg-1", "msg-3"]
    assert list(queue.in_flight) == ["msg-2"]
    assert lines.lines == ["batch 1: received 3, ok 2, failed 1, deleted 2 in 500 ms"]


def test_a_message_that_keeps_failing_is_received_again_each_time(app: App) -> None:
    """GIVEN an invalid message WHEN its visibility timeout runs out between polls
    THEN each poll receives it again with a higher receive count (what moves it to the DLQ)."""
    queue = FakeQueue("{not json")
    function = InProcessFunction(app)
    runner = make_runner(queue, function)
    for _ in range(3):
        runner.run(StopFlag(), max_batches=1)
        queue.expire()
    assert queue.waiting[0]["Attributes"]["ApproximateReceiveCount"] == "3"
    assert queue.deleted == []


@pytest.mark.parametrize(
    "response",
    [None, {}, {"batchItemFailures": []}, {"batchItemFailures": None}, {"statusCode": 200}],
)
def test_a_response_without_failures_deletes_the_whole_batch(response: Any) -> None:
    """As in Lambda: no response, an object without failures, or an empty or null list
    all mean every message succeeded."""
    queue = FakeQueue("a", "b")
    make_runner(queue, ScriptedFunction(response)).run(StopFlag(), max_batches=1)
    assert queue.deleted == ["msg-1", "msg-2"]


@pytest.mark.parametrize(
    "response",
    [
        InvokeFailed("the handler raised RuntimeError"),
        {"batchItemFailures": [{"itemIdentifier": "msg-999"}]},
        {"batchItemFailures": [{"itemIdentifier": ""}]},
        {"batchItemFailures": [{"itemIdentifier": None}]},
        {"batchItemFailures": [{"itemId": "msg-1"}]},
        {"batchItemFailures": "msg-1"},
        ["msg-1"],
    ],
    ids=[
        "invoke-failed",
        "unknown-id",
        "empty-id",
        "null-id",
        "bad-key",
        "not-a-list",
        "not-an-object",
    ],
)
def test_a_failed_invocation_or_invalid_response_deletes_nothing(response: Any) -> None:
    """As in Lambda: if the function fails, or its response cannot be read as failures of this
    batch, the whole batch is left to come back after the visibility timeout."""
    queue = FakeQueue("a", "b")
    lines = Lines()
    make_runner(queue, ScriptedFunction(response), lines).run(StopFlag(), max_batches=1)
    assert queue.deleted == []
    assert sorted(queue.in_flight) == ["msg-1", "msg-2"]
    assert lines.lines[0].startswith("batch 1: received 2, ok 0, failed 2, deleted 0 in ")
    assert "nothing deleted, the whole batch will be retried" in lines.lines[0]


def test_a_delete_sqs_refuses_is_reported() -> None:
    """GIVEN SQS refuses one delete THEN the summary says it will be received again."""
    queue = FakeQueue("a", "b")
    queue.refuse_deletes.add("msg-2")
    lines = Lines()
    make_runner(queue, ScriptedFunction(None), lines).run(StopFlag(), max_batches=1)
    assert lines.lines == [
        "batch 1: received 2, ok 2, failed 0, deleted 1 in 500 ms;"
        " 1 not deleted: they will be received (and sent) again"
    ]


def test_the_event_has_lambdas_sqs_shape() -> None:
    """Each record carries the message as Lambda's SQS trigger shapes it: lower-camel keys,
    message attributes with list values, binary values in base64."""
    queue = FakeQueue()
    queue.send(
        "hello",
        {
            "channel": {"DataType": "String", "StringValue": "email"},
            "blob": {"DataType": "Binary", "BinaryValue": b"\x00\x01"},
        },
    )
    function = ScriptedFunction()
    make_runner(queue, function).run(StopFlag(), max_batches=1)

    (record,) = function.events[0]["Records"]
    assert record == {
        "messageId": "msg-1",
        "receiptHandle": "msg-1/receive-1",
        "body": "hello",
        "attributes": {
            "SenderId": "AIDAIENQZJOLO23YVJ4VO",
            "SentTimestamp": "1717171200183",
            "ApproximateReceiveCount": "1",
            "ApproximateFirstReceiveTimestamp": "1717171200185",
        },
        "messageAttributes": {
            "channel": {
                "stringValue": "email",
                "stringListValues": [],
                "binaryListValues": [],
                "dataType": "String",
            },
            "blob": {
                "binaryValue": "AAE=",
                "stringListValues": [],
                "binaryListValues": [],
                "dataType": "Binary",
            },
        },
        "md5OfBody": "5d41402abc4b2a76b9719d911017c592",
        "md5OfMessageAttributes": "d41d8cd98f00b204e9800998ecf8427e",
        "eventSource": "aws:sqs",
        "eventSourceARN": ARN,
        "awsRegion": "us-east-1",
    }


def test_the_event_has_the_keys_of_a_real_lambda_sqs_event() -> None:
    """The records have the same keys as tests/events/sqs.json (a real event, no attributes)."""
    real = json.loads(EVENTS.joinpath("sqs.json").read_text(encoding="utf-8"))["Records"][0]
    queue = FakeQueue("hello")
    built = lambda_event(queue.receive(max_messages=1, wait_seconds=0), arn=ARN, region="x")
    assert built["Records"][0].keys() == real.keys()
    assert built["Records"][0]["attributes"].keys() == real["attributes"].keys()


def test_the_handler_gets_the_visibility_timeout_as_its_budget() -> None:
    """The invocation may run until the messages become visible again."""
    queue = FakeQueue("a", visibility_timeout=45)
    function = ScriptedFunction()
    make_runner(queue, function).run(StopFlag(), max_batches=1)
    assert function.budgets == [44.75]  # one tick of the fake clock went on building the event


def test_empty_polls_are_not_batches() -> None:
    """`max_batches` counts batches that had messages; an empty poll prints nothing."""
    lines = Lines()
    stop = StopFlag()

    class StopAfterThreePolls(FakeQueue):
        def receive(self, *, max_messages: int, wait_seconds: int) -> Sequence[Mapping[str, Any]]:
            if len(self.receive_calls) == 2:
                stop.set()
            return super().receive(max_messages=max_messages, wait_seconds=wait_seconds)

    runner = make_runner(StopAfterThreePolls(), ScriptedFunction(), lines)
    assert runner.run(stop, max_batches=1) == 0
    assert lines.lines == []


def test_receives_ask_for_ten_messages_and_the_configured_wait() -> None:
    """MaxNumberOfMessages 10, WaitTimeSeconds as configured."""
    queue = FakeQueue("a")
    Runner(queue=queue, function=ScriptedFunction(), wait_seconds=7, report=Lines()).run(
        StopFlag(), max_batches=1
    )
    assert queue.receive_calls == [(10, 7)]


def test_a_stop_signal_during_a_batch_lets_the_batch_finish() -> None:
    """GIVEN SIGTERM arrives while the handler runs THEN the runner finishes the batch,
    deletes included, and stops without polling again."""
    queue = FakeQueue("a", "b")
    stop = StopFlag()

    class SignalledMidway(ScriptedFunction):
        def invoke(self, event: Mapping[str, Any], *, budget_seconds: float) -> Any:
            stop.handle_signal(signal.SIGTERM, None)  # what the OS would run at this moment
            return super().invoke(event, budget_seconds=budget_seconds)

    assert make_runner(queue, SignalledMidway()).run(stop) == 1
    assert queue.deleted == ["msg-1", "msg-2"]
    assert len(queue.receive_calls) == 1


def test_a_stop_signal_during_a_long_poll_ends_it_at_once() -> None:
    """GIVEN SIGTERM arrives while the runner waits on the queue
    THEN the wait is cut short and the runner stops without handling anything."""
    stop = StopFlag()

    class SignalledWhileWaiting(FakeQueue):
        def receive(self, *, max_messages: int, wait_seconds: int) -> Sequence[Mapping[str, Any]]:
            super().receive(max_messages=max_messages, wait_seconds=wait_seconds)
            stop.handle_signal(signal.SIGTERM, None)
            raise AssertionError("the signal handler should have ended the receive")

    function = ScriptedFunction()
    assert make_runner(SignalledWhileWaiting("a"), function).run(stop) == 0
    assert function.events == []


def test_a_failed_receive_is_reported_and_retried() -> None:
    """An SQS outage does not end the runner: it reports and polls again."""
    stop = StopFlag()
    lines = Lines()

    class Unreachable(FakeQueue):
        def receive(self, *, max_messages: int, wait_seconds: int) -> Sequence[Mapping[str, Any]]:
            super().receive(max_messages=max_messages, wait_seconds=wait_seconds)
            if len(self.receive_calls) == 2:
                stop.set()
            raise QueueUnavailable("EndpointConnectionError: could not connect")

    queue = Unreachable()
    Runner(queue=queue, function=ScriptedFunction(), report=lines, retry_seconds=0).run(stop)
    assert len(queue.receive_calls) == 2
    assert lines.lines == ["receive failed: EndpointConnectionError: could not connect"] * 2


def test_the_summary_line() -> None:
    """One line per batch: received, ok, failed, deleted, milliseconds."""
    summary = BatchSummary(number=3, received=10, ok=9, failed=1, deleted=9, duration_ms=12.4)
    assert summary.line() == "batch 3: received 10, ok 9, failed 1, deleted 9 in 12 ms"


# ------------------------------------------------------------------ the HTTP function


class Canned(http.server.BaseHTTPRequestHandler):
    """Answers every POST with the server's canned status, headers and body."""

    server: CannedServer

    def do_POST(self) -> None:
        length = int(self.headers["Content-Length"])
        self.server.requests.append(json.loads(self.rfile.read(length)))
        status, headers, body = self.server.answer
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


class CannedServer(http.server.ThreadingHTTPServer):
    answer: tuple[int, dict[str, str], bytes]
    requests: list[Any]


@pytest.fixture
def server() -> Iterator[CannedServer]:
    with CannedServer(("127.0.0.1", 0), Canned) as running:
        running.requests = []
        running.answer = (200, {}, b"{}")
        thread = threading.Thread(target=running.serve_forever, args=(0.01,), daemon=True)
        thread.start()
        yield running
        running.shutdown()
        thread.join()


def url(server: CannedServer) -> str:
    host, port = server.server_address[:2]
    return f"http://{host!s}:{port}/2015-03-31/functions/function/invocations"


def test_the_http_function_posts_the_event_and_returns_the_response(server: CannedServer) -> None:
    """The event is POSTed as JSON; the JSON answer is the response."""
    server.answer = (200, {}, b'{"batchItemFailures": [{"itemIdentifier": "msg-1"}]}')
    response = HttpFunction(url(server)).invoke({"Records": []}, budget_seconds=5)
    assert response == {"batchItemFailures": [{"itemIdentifier": "msg-1"}]}
    assert server.requests == [{"Records": []}]


@pytest.mark.parametrize(
    "answer",
    [
        (200, {}, b'{"errorMessage": "boom", "errorType": "RuntimeError", "stackTrace": []}'),
        (200, {"X-Amz-Function-Error": "Unhandled"}, b'"boom"'),
        (500, {}, b"{}"),
        (200, {}, b"<html>"),
    ],
    ids=["error-payload", "error-header", "http-500", "not-json"],
)
def test_the_http_function_reports_a_failed_invocation(
    server: CannedServer, answer: tuple[int, dict[str, str], bytes]
) -> None:
    """A function error (the runtime's error payload or header), an HTTP error or a non-JSON
    answer is a failed invocation: the whole batch will be retried."""
    server.answer = answer
    with pytest.raises(InvokeFailed):
        HttpFunction(url(server)).invoke({"Records": []}, budget_seconds=5)


def test_the_http_function_reports_an_unreachable_url() -> None:
    """Nothing listening is a failed invocation, not a crash."""
    with CannedServer(("127.0.0.1", 0), Canned) as closed:
        address = url(closed)
    with pytest.raises(InvokeFailed, match="cannot invoke"):
        HttpFunction(address).invoke({"Records": []}, budget_seconds=1)


def test_the_http_function_accepts_only_http_urls() -> None:
    """No file:// or other schemes."""
    with pytest.raises(ValueError, match="http"):
        HttpFunction("file:///etc/passwd")
