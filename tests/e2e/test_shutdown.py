"""Stopping `python -m devtools serve` with SIGTERM loses nothing and sends nothing twice."""

from __future__ import annotations

import http.server
import json
import re
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from devtools.provision import Provisioned
from devtools.runner.invokers import InProcessFunction
from notifier.entrypoints.bootstrap import bootstrap
from tests.e2e.conftest import SENDER, VISIBILITY_TIMEOUT, wait_until
from tests.support.ses_outbox import SesOutbox
from tests.support.sqs import queue_depth

pytestmark = pytest.mark.timeout(60)
ROOT = Path(__file__).parent.parent.parent
MESSAGES = 15  # more than one batch of 10: some must still be waiting when the runner stops


class HeldInvocations(http.server.ThreadingHTTPServer):
    """A stand-in for the Lambda Runtime Interface Emulator that runs the real handler, but only
    once the test releases the invocation: the test decides when a batch is "in flight"."""

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _HeldHandler)
        self.arrived = threading.Event()
        self.release = threading.Event()
        self.function = InProcessFunction(bootstrap(configure_logs=False))

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host!s}:{port}/2015-03-31/functions/function/invocations"


class _HeldHandler(http.server.BaseHTTPRequestHandler):
    server: HeldInvocations

    def do_POST(self) -> None:
        started = time.monotonic()
        event = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        self.server.arrived.set()
        self.server.release.wait(timeout=20)
        budget = VISIBILITY_TIMEOUT - (time.monotonic() - started)
        body = json.dumps(self.server.function.invoke(event, budget_seconds=budget)).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


def message(subject: str) -> dict[str, Any]:
    return {
        "sender": SENDER,
        "recipients": ["user@example.com"],
        "subject": subject,
        "text_content": "Facture",
    }


@pytest.fixture
def held() -> Iterator[HeldInvocations]:
    with HeldInvocations() as server:
        thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
        thread.start()
        try:
            yield server
        finally:
            server.release.set()
            server.shutdown()
            thread.join()


@pytest.fixture
def serve() -> Iterator[Callable[..., subprocess.Popen[str]]]:
    """Start `python -m devtools serve ARGS...`; whatever is still running at the end is killed."""
    started: list[subprocess.Popen[str]] = []

    def start(*args: str) -> subprocess.Popen[str]:
        process = subprocess.Popen(
            [sys.executable, "-m", "devtools", "serve", *args],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        started.append(process)
        return process

    yield start
    for process in started:
        if process.poll() is None:
            process.kill()
        process.communicate()


def test_sigterm_mid_batch_finishes_the_batch_and_a_restart_sends_the_rest(
    stack: Provisioned,
    ses_outbox: SesOutbox,
    held: HeldInvocations,
    serve: Callable[..., subprocess.Popen[str]],
) -> None:
    """GIVEN 15 queued messages and `serve` invoking the handler through an RIE-like URL
    WHEN SIGTERM arrives while a batch is inside the handler
    THEN serve finishes that batch (sends and deletes it) and exits 0, the rest wait in the queue;
    AND a restarted serve sends them, and stops at once on SIGTERM while idle:
    every message is sent exactly once, none lost."""
    token = uuid.uuid4().hex[:8]
    subjects = [f"{token} #{n:02d}" for n in range(MESSAGES)]
    sqs = boto3.client("sqs")
    for start in range(0, MESSAGES, 10):
        response = sqs.send_message_batch(
            QueueUrl=stack.queue_url,
            Entries=[
                {"Id": str(n), "MessageBody": json.dumps(message(subject))}
                for n, subject in enumerate(subjects[start : start + 10])
            ],
        )
        assert not response.get("Failed")

    first = serve(f"--queue-url={stack.queue_url}", f"--invoke-url={held.url}", "--wait-seconds=1")
    assert held.arrived.wait(timeout=20), "serve never invoked the function"
    first.send_signal(signal.SIGTERM)
    time.sleep(0.3)
    assert first.poll() is None, "serve exited with a batch in flight"
    held.release.set()
    out, err = first.communicate(timeout=15)

    assert first.returncode == 0, err
    (batch,) = re.findall(r"^batch 1: received (\d+), ok (\d+), failed 0, deleted (\d+)", out, re.M)
    received, ok, deleted = map(int, batch)
    assert received == ok == deleted > 0
    assert "stopped after 1 batch(es)" in out
    assert len(ses_outbox.wait_for(received, matching=lambda e: token in e.subject)) == received
    assert queue_depth(stack.queue_url) == (MESSAGES - received, 0)

    second = serve(f"--queue-url={stack.queue_url}", "--wait-seconds=20")
    ses_outbox.wait_for(MESSAGES, matching=lambda e: token in e.subject, timeout_s=20)
    wait_until(lambda: queue_depth(stack.queue_url) == (0, 0), timeout_s=5, what="queue empty")
    asked = time.monotonic()
    second.send_signal(signal.SIGTERM)  # now in a 20-second long poll on an empty queue
    out, err = second.communicate(timeout=15)

    assert second.returncode == 0, err
    assert time.monotonic() - asked < 5, "SIGTERM did not cut the long poll short"
    assert out.rstrip().endswith("batch(es)")
    sent = sorted(e.subject for e in ses_outbox.messages() if token in e.subject)
    assert sent == subjects
    assert queue_depth(stack.dead_letter_queue_url) == (0, 0)
