"""The fault proxy's rate limit: SES's maximum sending rate, counted in recipients.

The proxy (tests/support/faultproxy.py) stands in front of a canned SES here, with a clock
the test moves, and is called through a real boto3 SES client: the form fields it counts
(`Destinations.member.N`) and the error it answers are the ones botocore writes and reads.
"""

from __future__ import annotations

import base64
import http.server
import random
import threading
import urllib.parse
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from tests.support.faultproxy import (
    SEND_RAW_EMAIL,
    FaultProxy,
    Faults,
    ForwardedSend,
    Outcome,
    TokenBucket,
    send_recipients,
)


class FakeSes(http.server.BaseHTTPRequestHandler):
    """Answers every query-protocol request as SES would a success, and notes its action."""

    server: FakeSesServer
    protocol_version = "HTTP/1.1"

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        action = dict(urllib.parse.parse_qsl(body.decode()))["Action"]
        self.server.actions.append(action)
        result = "<MessageId>m-1</MessageId>" if action == SEND_RAW_EMAIL else ""
        answer = (
            f"<{action}Response><{action}Result>{result}</{action}Result>"
            f"<ResponseMetadata><RequestId>r-1</RequestId></ResponseMetadata></{action}Response>"
        ).encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/xml")
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    def log_message(self, format: str, *args: Any) -> None:
        pass


class FakeSesServer(http.server.ThreadingHTTPServer):
    daemon_threads = True
    actions: list[str]


class Clock:
    """The proxy's clock: stands still until the test moves it."""

    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def upstream() -> Iterator[FakeSesServer]:
    with FakeSesServer(("127.0.0.1", 0), FakeSes) as running:
        running.actions = []
        thread = threading.Thread(target=running.serve_forever, args=(0.01,), daemon=True)
        thread.start()
        yield running
        running.shutdown()
        thread.join()


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def proxy(upstream: FakeSesServer, clock: Clock) -> Iterator[FaultProxy]:
    host, port = upstream.server_address[:2]
    with FaultProxy(f"http://{host!s}:{port}", clock=clock) as running:
        yield running


@pytest.fixture
def ses(proxy: FaultProxy) -> Any:
    """An SES client through the proxy that tries once: what the proxy answers, unretried."""
    return boto3.client(
        "ses",
        endpoint_url=proxy.endpoint_url,
        region_name="us-east-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",
        config=Config(retries={"mode": "standard", "total_max_attempts": 1}),
    )


def send(ses: Any, *recipients: str) -> str:
    """One SendRawEmail to `recipients`: "sent", or the SES error code and message."""
    try:
        ses.send_raw_email(
            Source="noreply@acubeapi.com",
            Destinations=list(recipients),
            RawMessage={"Data": b"Subject: hello\r\n\r\nhello\r\n"},
        )
    except ClientError as exc:
        error = exc.response["Error"]
        status = exc.response["ResponseMetadata"]["HTTPStatusCode"]
        return f"{status} {error['Code']}: {error['Message']}"
    return "sent"


THROTTLED = "400 Throttling: Maximum sending rate exceeded."


def test_sends_over_the_rate_are_throttled_as_ses_does_and_not_forwarded(
    proxy: FaultProxy, ses: Any, upstream: FakeSesServer, clock: Clock
) -> None:
    """GIVEN a rate limit of 2 recipients a second (a bucket of 2, full) and a clock standing
    still WHEN three one-recipient sends arrive THEN two go through and the third gets SES's
    Throttling error without reaching SES; half a second later one more fits, not two."""
    proxy.set(Faults(rate_limit=2.0))

    first = [send(ses, f"r{n}@example.com") for n in range(3)]
    clock.now += 0.5
    later = [send(ses, "r3@example.com"), send(ses, "r4@example.com")]

    assert first == ["sent", "sent", THROTTLED]
    assert later == ["sent", THROTTLED]
    assert upstream.actions == [SEND_RAW_EMAIL] * 3
    assert proxy.counts(SEND_RAW_EMAIL) == {Outcome.FORWARDED: 3, Outcome.RATE_LIMITED: 2}


def test_each_recipient_takes_a_token(proxy: FaultProxy, ses: Any, clock: Clock) -> None:
    """GIVEN a rate of 3 recipients a second WHEN a send to 2 arrives, then another to 2
    THEN the second does not fit (1 token left) and takes nothing: a send to 1 still fits;
    `forwarded_sends()` says when each forwarded send went, to whom, and SES's status."""
    proxy.set(Faults(rate_limit=3.0))
    sent_at = clock.now

    outcomes = [
        send(ses, "a@example.com", "b@example.com"),
        send(ses, "c@example.com", "d@example.com"),
        send(ses, "e@example.com"),
    ]

    assert outcomes == ["sent", THROTTLED, "sent"]
    assert proxy.forwarded_sends() == [
        ForwardedSend(at=sent_at, recipients=("a@example.com", "b@example.com"), status=200),
        ForwardedSend(at=sent_at, recipients=("e@example.com",), status=200),
    ]


def test_other_calls_are_neither_limited_nor_recorded(
    proxy: FaultProxy, ses: Any, upstream: FakeSesServer
) -> None:
    """GIVEN a rate limit of 1 recipient a second, spent WHEN another SES call arrives THEN it
    is forwarded: only sending counts."""
    proxy.set(Faults(rate_limit=1.0))
    assert send(ses, "a@example.com") == "sent"

    ses.get_send_quota()

    assert upstream.actions == [SEND_RAW_EMAIL, "GetSendQuota"]
    assert [s.recipients for s in proxy.forwarded_sends()] == [("a@example.com",)]


def test_without_a_rate_limit_every_send_goes_through_and_is_recorded(
    proxy: FaultProxy, ses: Any
) -> None:
    """No rate limit (the default): nothing throttled, every send still recorded."""
    outcomes = [send(ses, f"r{n}@example.com") for n in range(20)]

    assert outcomes == ["sent"] * 20
    assert len(proxy.forwarded_sends()) == 20


def test_a_new_setting_starts_with_a_full_bucket(proxy: FaultProxy, ses: Any, clock: Clock) -> None:
    """`set` refills the bucket, at the new rate's capacity (at least one recipient)."""
    proxy.set(Faults(rate_limit=1.0))
    assert [send(ses, "a@example.com"), send(ses, "b@example.com")] == ["sent", THROTTLED]

    proxy.set(Faults(rate_limit=0.5))

    assert [send(ses, "c@example.com"), send(ses, "d@example.com")] == ["sent", THROTTLED]
    clock.now += 1.0
    assert send(ses, "d@example.com") == THROTTLED  # half a token back
    clock.now += 1.0
    assert send(ses, "d@example.com") == "sent"


@pytest.mark.parametrize("rate", [0.0, -1.0])
def test_a_rate_limit_must_be_positive(rate: float) -> None:
    """0 would throttle every send forever: say None (unlimited) or a positive rate."""
    with pytest.raises(ValueError, match="rate_limit"):
        Faults(rate_limit=rate)


def test_the_bucket_never_lets_more_through_a_window_than_the_rate_and_one_bucket() -> None:
    """GIVEN requests of 1 to 3 recipients at random times, far more than the rate WHEN each
    takes from a bucket of rate 14 and capacity 14 THEN what was let through in any window of
    W seconds is at most 14 W + 14: the bound the quota soak holds the function's own limit
    to, here for the proxy's."""
    rng = random.Random(14)  # noqa: S311 - reproducible arrivals, not cryptography
    bucket = TokenBucket(rate=14.0, capacity=14.0, now=0.0)
    now, admitted = 0.0, []
    for _ in range(20_000):
        now += rng.expovariate(60.0)  # 60 requests a second, about 120 recipients
        recipients = rng.randint(1, 3)
        if bucket.take(recipients, now):
            admitted.append((now, recipients))

    for window in (0.25, 1.0, 10.0, 60.0):
        most, start, inside = 0, 0, 0
        for end_time, recipients in admitted:
            inside += recipients
            while admitted[start][0] < end_time - window:
                inside -= admitted[start][1]
                start += 1
            most = max(most, inside)
        assert most <= 14 * window + 14, (window, most)
    assert sum(n for _t, n in admitted) >= 14 * now * 0.95  # and the rate is used, not starved


def test_recipients_are_the_destinations_else_the_raw_messages_headers() -> None:
    """SES counts the `Destinations` given; without them, the To, Cc and Bcc of the message."""
    given = urllib.parse.urlencode(
        {
            "Action": SEND_RAW_EMAIL,
            "Destinations.member.2": "b@example.com",
            "Destinations.member.1": "a@example.com",
            "RawMessage.Data": base64.b64encode(b"To: x@example.com\r\n\r\nhi").decode(),
        }
    ).encode()
    raw = b"To: A <a@example.com>, b@example.com\r\nCc: c@example.org\r\nBcc: d@x.example\r\n\r\n"
    headers_only = urllib.parse.urlencode(
        {"Action": SEND_RAW_EMAIL, "RawMessage.Data": base64.b64encode(raw).decode()}
    ).encode()

    assert send_recipients(given) == ("a@example.com", "b@example.com")
    assert send_recipients(headers_only) == (
        "a@example.com",
        "b@example.com",
        "c@example.org",
        "d@x.example",
    )
