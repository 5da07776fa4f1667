"""A fault-injecting HTTP proxy between notifier and LocalStack: AWS misbehaving, on demand.

Point one service at it (`AWS_ENDPOINT_URL_SES=proxy.endpoint_url`) or every service
(`AWS_ENDPOINT_URL`); it forwards each request to the upstream (LocalStack) and relays the
answer, except for the requests a test tells it to spoil:

| fault | what the client sees | has upstream seen the request? |
| --- | --- | --- |
| `latency_s` | the answer, that much later | yes |
| `reset` | the connection reset before any answer | no |
| `error_500`, `error_503` | HTTP 500 `InternalFailure`, 503 `ServiceUnavailable` | no |
| `throttle` | HTTP 400 `Throttling`, "Maximum sending rate exceeded." (SES's error) | no |
| `rate_limit` | the same, for a `SendRawEmail` over the sending rate (below) | no |
| `lose_response` | the connection reset instead of the answer | yes: ambiguous |
| outage (`start_outage`) | every connection reset until `end_outage` | see `start_outage` |

Faults apply to the requests whose action is in `Faults.actions` (by default only SES's
`SendRawEmail`; `None`: every request), each with its probability, drawn from a seeded random
generator. `max_per_request` bounds the faults one request body gets (a retry sends the same
bytes), modelling a throttling burst that clears rather than a request doomed forever.

`rate_limit` is SES's maximum sending rate, in recipients per second, and is not random: each
`SendRawEmail` takes one token per recipient (its `Destinations.member.N`, as SES counts) from
a bucket holding one second's worth (`max(rate, 1)`, full at `set`) and refilling at the rate;
a request that does not fit is throttled, its tokens left in the bucket. (A request with more
recipients than the bucket holds never fits.) `forwarded_sends()` lists every `SendRawEmail`
forwarded: when it was let through, to whom, and what the upstream answered.

The action is read as AWS's protocols carry it: the `X-Amz-Target` header (JSON protocol:
SQS, DynamoDB), or `Action=` in a form body (query protocol: SES, SNS). Everything the test
changes (`set`, `start_outage`, `end_outage`) takes effect for the next request; `counts()`
says what happened so far. A request held by `latency_s` whose client has gone meanwhile (the
process was killed) is dropped, not forwarded: it never left that process.

    with FaultProxy(localstack.endpoint_url) as proxy:
        proxy.set(Faults(throttle=0.4))
        ...
        with proxy.outage():
            ...
"""

from __future__ import annotations

import base64
import collections
import contextlib
import email.parser
import email.utils
import hashlib
import http.client
import http.server
import json
import random
import re
import select
import socket
import struct
import sys
import threading
import time
import urllib.parse
import uuid
from collections.abc import Callable, Iterator
from types import TracebackType
from typing import Any

import attrs

SEND_RAW_EMAIL = "SendRawEmail"
UPSTREAM_TIMEOUT_S = 60.0  # longer than any SQS long poll (20 s)
# Hop-by-hop headers (RFC 9110 7.6.1) are the proxy's own business; the body is re-framed.
_HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-connection",
        "proxy-authenticate",
        "proxy-authorization",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
        "expect",  # the proxy answers 100-continue itself; http.client would not
        "content-length",
    }
)
_QUERY_ACTION = re.compile(rb"(?:^|&)Action=([A-Za-z0-9]+)")
_DESTINATION = re.compile(r"Destinations\.member\.\d+")

# An AWS query-protocol error (SES, SNS); with Sender, Throttling and "Maximum sending rate
# exceeded." it is what SES answers, with HTTP 400, when the account's sending rate is exceeded.
QUERY_ERROR_XML = """<ErrorResponse xmlns="http://ses.amazonaws.com/doc/2010-12-01/">
  <Error>
    <Type>{kind}</Type>
    <Code>{code}</Code>
    <Message>{message}</Message>
  </Error>
  <RequestId>{request_id}</RequestId>
</ErrorResponse>
"""


class Outcome:
    """What the proxy did with one request (the keys of `FaultProxy.counts()`)."""

    FORWARDED = "forwarded"
    RESET = "reset"
    ERROR_500 = "error_500"
    ERROR_503 = "error_503"
    THROTTLED = "throttled"
    RATE_LIMITED = "rate_limited"  # a SendRawEmail over `rate_limit`: SES's Throttling error
    RESPONSE_LOST = "response_lost"
    OUTAGE = "outage"  # reset because an outage was on (or began while it was held)
    CLIENT_GONE = "client_gone"  # held, and its client disconnected: never forwarded
    UPSTREAM_DOWN = "upstream_down"  # the upstream refused or dropped it: reset


_ERRORS = {  # outcome -> (HTTP status, error type, code, message)
    Outcome.THROTTLED: (400, "Sender", "Throttling", "Maximum sending rate exceeded."),
    Outcome.RATE_LIMITED: (400, "Sender", "Throttling", "Maximum sending rate exceeded."),
    Outcome.ERROR_500: (500, "Receiver", "InternalFailure", "An internal error occurred."),
    Outcome.ERROR_503: (503, "Receiver", "ServiceUnavailable", "Service is unavailable."),
}


def _fraction(_instance: object, attribute: attrs.Attribute[float], value: float) -> None:
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"{attribute.name} must be a fraction in [0, 1], got {value}")


@attrs.frozen(kw_only=True)
class Faults:
    """What to do to the targeted requests; the fractions are exclusive and add up to <= 1."""

    latency_s: float = attrs.field(default=0.0, validator=attrs.validators.ge(0.0))
    reset: float = attrs.field(default=0.0, validator=_fraction)
    error_500: float = attrs.field(default=0.0, validator=_fraction)
    error_503: float = attrs.field(default=0.0, validator=_fraction)
    throttle: float = attrs.field(default=0.0, validator=_fraction)
    lose_response: float = attrs.field(default=0.0, validator=_fraction)
    actions: frozenset[str] | None = frozenset({SEND_RAW_EMAIL})
    max_per_request: int | None = None
    # SES's maximum sending rate, recipients per second, for every SendRawEmail whatever
    # `actions` says; None: unlimited.
    rate_limit: float | None = attrs.field(
        default=None, validator=attrs.validators.optional(attrs.validators.gt(0.0))
    )

    def __attrs_post_init__(self) -> None:
        if sum(p for _outcome, p in self._table()) > 1.0 + 1e-9:
            raise ValueError("the fault fractions add up to more than 1")

    def _table(self) -> list[tuple[str, float]]:
        return [
            (Outcome.RESET, self.reset),
            (Outcome.ERROR_500, self.error_500),
            (Outcome.ERROR_503, self.error_503),
            (Outcome.THROTTLED, self.throttle),
            (Outcome.RESPONSE_LOST, self.lose_response),
        ]

    def targets(self, action: str) -> bool:
        return self.actions is None or action in self.actions

    def draw(self, rng: random.Random) -> str:
        """One outcome for a targeted request."""
        point = rng.random()
        for outcome, probability in self._table():
            if point < probability:
                return outcome
            point -= probability
        return Outcome.FORWARDED


@attrs.frozen(kw_only=True)
class ForwardedSend:
    """One `SendRawEmail` the proxy let through: when (the proxy's clock), to whom, and the
    upstream's HTTP status (200: SES took it; recorded even if the answer was then lost)."""

    at: float
    recipients: tuple[str, ...]
    status: int


class TokenBucket:
    """`rate` tokens a second, at most `capacity`, full at first. Not thread-safe: the proxy
    calls it under its lock."""

    def __init__(self, *, rate: float, capacity: float, now: float) -> None:
        self.rate = rate
        self.capacity = capacity
        self._tokens = capacity
        self._at = now

    def take(self, tokens: float, now: float) -> bool:
        """Take `tokens` if they are there now; False (and take none) if not."""
        self._tokens = min(self.capacity, self._tokens + max(now - self._at, 0.0) * self.rate)
        self._at = max(now, self._at)
        if tokens > self._tokens:
            return False
        self._tokens -= tokens
        return True


class FaultProxy:
    """The proxy, serving on a free port of 127.0.0.1 from a thread of this process.

    `clock` times the rate limit and `forwarded_sends()`: the wall clock by default, so that a
    test can set those times beside its own `time.time()` (when it queued each message).
    """

    def __init__(
        self, upstream: str, *, seed: int = 0, clock: Callable[[], float] = time.time
    ) -> None:
        parts = urllib.parse.urlsplit(upstream)
        if parts.scheme != "http" or parts.hostname is None:
            raise ValueError(f"the upstream must be an http:// URL, got {upstream!r}")
        self.upstream = (parts.hostname, parts.port or 80)
        self._lock = threading.Lock()
        self._rng = random.Random(seed)  # noqa: S311 - reproducible faults, not cryptography
        self._faults = Faults(actions=None)
        self._clock = clock
        self._bucket: TokenBucket | None = None
        self._sends: list[ForwardedSend] = []
        self._per_request: collections.Counter[str] = collections.Counter()
        self._counts: collections.Counter[tuple[str, str]] = collections.Counter()
        self._outage = threading.Event()
        # Requests being held (latency) and requests upstream is working on, by action.
        self._calls = threading.Condition()
        self._held: collections.Counter[str] = collections.Counter()
        self._with_upstream_now: set[socket.socket] = set()
        self._server = _Server(self)
        self._thread: threading.Thread | None = None

    @property
    def endpoint_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> FaultProxy:
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(0.05,), name="fault-proxy", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and reset every open connection."""
        self._server.shutdown()
        self._server.abort_all()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> FaultProxy:
        return self.start()

    def __exit__(
        self,
        _type: type[BaseException] | None,
        _value: BaseException | None,
        _traceback: TracebackType | None,
    ) -> None:
        self.stop()

    def set(self, faults: Faults) -> None:
        """Apply `faults` from the next request on (and forget the per-request tallies; a
        rate limit starts with a full bucket)."""
        with self._lock:
            self._faults = faults
            self._per_request.clear()
            self._bucket = (
                None
                if faults.rate_limit is None
                else TokenBucket(
                    rate=faults.rate_limit,
                    capacity=max(faults.rate_limit, 1.0),
                    now=self._clock(),
                )
            )

    def clear(self) -> None:
        """Forward everything untouched again."""
        self.set(Faults(actions=None))

    def start_outage(self, *, between_calls: bool = False) -> None:
        """Reset every connection from now until `end_outage`.

        New connections are reset on arrival, idle ones on their next request, held ones
        (`latency_s`) at once, never forwarded; a request the upstream is carrying out loses
        its answer (as with `lose_response`), unless `between_calls`: then the outage begins
        only once no request is with the upstream, so that none is left ambiguous.
        """
        with self._calls:
            if between_calls:
                self._calls.wait_for(lambda: not self._with_upstream_now, timeout=30)
            self._outage.set()
            cut = list(self._with_upstream_now)
        for sock in cut:
            self._server.abort(sock)

    def end_outage(self) -> None:
        self._outage.clear()

    @contextlib.contextmanager
    def outage(self) -> Iterator[None]:
        self.start_outage()
        try:
            yield
        finally:
            self.end_outage()

    @property
    def in_outage(self) -> bool:
        return self._outage.is_set()

    def holding(self, action: str) -> int:
        """How many `action` requests are being held (by `latency_s`) right now."""
        with self._calls:
            return self._held[action]

    def wait_until_holding(self, action: str, timeout_s: float = 20.0) -> None:
        """Until an `action` request is being held: its caller is blocked on it."""
        with self._calls:
            if not self._calls.wait_for(lambda: self._held[action] > 0, timeout=timeout_s):
                raise AssertionError(f"no {action} request held within {timeout_s} s")

    def counts(self, action: str | None = None) -> collections.Counter[str]:
        """How many requests (of `action`, or of any) had each outcome so far."""
        with self._lock:
            found: collections.Counter[str] = collections.Counter()
            for (seen, outcome), n in self._counts.items():
                if action is None or seen == action:
                    found[outcome] += n
            return found

    def forwarded_sends(self) -> list[ForwardedSend]:
        """Every `SendRawEmail` forwarded so far, in the order the proxy let them through."""
        with self._lock:
            return sorted(self._sends, key=lambda send: send.at)

    # -- used by the request handler -----------------------------------------------------

    def _admit(self, recipients: int) -> float | None:
        """The time a `SendRawEmail` to that many recipients is let through, or None if it is
        over the rate limit."""
        with self._lock:
            now = self._clock()
            if self._bucket is None or self._bucket.take(recipients, now):
                return now
            return None

    def _record(self, send: ForwardedSend) -> None:
        with self._lock:
            self._sends.append(send)

    def _decide(self, action: str, body: bytes) -> tuple[str, float]:
        """The outcome for one request, and how long to hold it first."""
        with self._lock:
            faults = self._faults
            if not faults.targets(action):
                return Outcome.FORWARDED, 0.0
            outcome = faults.draw(self._rng)
            if outcome != Outcome.FORWARDED and faults.max_per_request is not None:
                key = hashlib.sha256(body).hexdigest()
                if self._per_request[key] >= faults.max_per_request:
                    outcome = Outcome.FORWARDED
                else:
                    self._per_request[key] += 1
            return outcome, faults.latency_s

    def _count(self, action: str, outcome: str) -> None:
        with self._lock:
            self._counts[action, outcome] += 1

    def _hold(self, action: str, seconds: float) -> bool:
        """Hold a request; True if an outage began meanwhile."""
        with self._calls:
            self._held[action] += 1
            self._calls.notify_all()
        try:
            return self._outage.wait(seconds)
        finally:
            with self._calls:
                self._held[action] -= 1

    @contextlib.contextmanager
    def _with_upstream(self, sock: socket.socket) -> Iterator[bool]:
        """From forwarding a request to relaying its answer; False if an outage is on."""
        with self._calls:
            going = not self._outage.is_set()
            if going:
                self._with_upstream_now.add(sock)
        if not going:
            yield False
            return
        try:
            yield True
        finally:
            with self._calls:
                self._with_upstream_now.discard(sock)
                self._calls.notify_all()


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False

    def __init__(self, proxy: FaultProxy) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.proxy = proxy
        self._open: set[socket.socket] = set()
        self._aborted: set[socket.socket] = set()
        self._sockets = threading.Lock()

    def track(self, sock: socket.socket) -> None:
        with self._sockets:
            self._open.add(sock)

    def abort(self, sock: socket.socket) -> None:
        """Make the close of `sock` a reset (RST), and wake a thread blocked reading it."""
        with self._sockets:
            self._aborted.add(sock)
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            sock.shutdown(socket.SHUT_RD)

    def aborted(self, sock: socket.socket) -> bool:
        with self._sockets:
            return sock in self._aborted

    def abort_all(self) -> None:
        with self._sockets:
            connections = list(self._open)
        for sock in connections:
            self.abort(sock)

    def shutdown_request(self, request: Any) -> None:
        with self._sockets:
            self._open.discard(request)
            aborted = request in self._aborted
            self._aborted.discard(request)
        if aborted:  # no FIN first: close at once, which the linger setting turns into a RST
            self.close_request(request)
        else:
            super().shutdown_request(request)


class _Abort(Exception):
    """Reset the client's connection (the outcome is already counted)."""


class _Handler(http.server.BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"  # keep-alive, as botocore's connection pool expects
    upstream: http.client.HTTPConnection | None = None

    def setup(self) -> None:
        super().setup()
        self.server.track(self.connection)

    def handle(self) -> None:
        try:
            super().handle()
        except _Abort:
            self.server.abort(self.connection)
        except OSError:  # the client went away, or an outage aborted the socket under us
            self.server.abort(self.connection)
        finally:
            if self.upstream is not None:
                self.upstream.close()

    def log_message(self, format: str, *args: Any) -> None:
        pass  # the tests read counts(), not an access log

    def _proxy(self) -> None:
        proxy = self.server.proxy
        body = self._read_body()
        action = _action(self.headers, body)
        if proxy.in_outage:
            self._give_up(action, Outcome.OUTAGE)
        outcome, latency = proxy._decide(action, body)
        if latency > 0 and proxy._hold(action, latency):
            self._give_up(action, Outcome.OUTAGE)  # the outage began while it was held
        if latency > 0 and _client_gone(self.connection):
            self._give_up(action, Outcome.CLIENT_GONE)
        if outcome == Outcome.RESET:
            self._give_up(action, outcome)
        if outcome in (Outcome.ERROR_500, Outcome.ERROR_503, Outcome.THROTTLED):
            proxy._count(action, outcome)
            self._reply_error(outcome)
            return
        with proxy._with_upstream(self.connection) as going:
            if not going:
                self._give_up(action, Outcome.OUTAGE)
            recipients = send_recipients(body) if action == SEND_RAW_EMAIL else None
            admitted = None if recipients is None else proxy._admit(len(recipients))
            if recipients is not None and admitted is None:
                proxy._count(action, Outcome.RATE_LIMITED)
                self._reply_error(Outcome.RATE_LIMITED)
                return
            status, reason, headers, payload = self._forward(action, body)
            if recipients is not None and admitted is not None:
                proxy._record(ForwardedSend(at=admitted, recipients=recipients, status=status))
            if self.server.aborted(self.connection):  # the outage began meanwhile
                self._give_up(action, Outcome.OUTAGE)
            if outcome == Outcome.RESPONSE_LOST:
                self._give_up(action, outcome)
            proxy._count(action, Outcome.FORWARDED)
            self.send_response_only(status, reason)
            for name, value in headers:
                self.send_header(name, value)
            if self.command != "HEAD":
                self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(payload)

    def _give_up(self, action: str, outcome: str) -> None:
        self.server.proxy._count(action, outcome)
        self.close_connection = True
        raise _Abort

    def _read_body(self) -> bytes:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            chunks = []
            while size := int(self.rfile.readline().split(b";")[0].strip() or b"0", 16):
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
            while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                pass  # trailers
            return b"".join(chunks)
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _forward(self, action: str, body: bytes) -> tuple[int, str, list[tuple[str, str]], bytes]:
        """Send the request upstream on this connection's own upstream connection."""
        for attempt in range(2):
            reused = self.upstream is not None
            if self.upstream is None:
                self.upstream = http.client.HTTPConnection(
                    *self.server.proxy.upstream, timeout=UPSTREAM_TIMEOUT_S
                )
            try:
                self.upstream.putrequest(
                    self.command, self.path, skip_host=True, skip_accept_encoding=True
                )
                for name, value in self.headers.items():
                    if name.lower() not in _HOP_BY_HOP:
                        self.upstream.putheader(name, value)
                if body or self.command in ("POST", "PUT", "PATCH"):
                    self.upstream.putheader("Content-Length", str(len(body)))
                self.upstream.endheaders(body or None)
                response = self.upstream.getresponse()
                payload = response.read()
            except (http.client.HTTPException, OSError):
                self.upstream.close()
                self.upstream = None
                # An idle keep-alive connection the upstream had closed (it closes only idle
                # ones, so the request was not carried out): try a fresh one, once.
                if reused and attempt == 0:
                    continue
                self._give_up(action, Outcome.UPSTREAM_DOWN)
            headers = [
                (name, value)
                for name, value in response.getheaders()
                if name.lower() not in _HOP_BY_HOP
            ]
            if self.command == "HEAD" and response.getheader("Content-Length") is not None:
                headers.append(("Content-Length", str(response.getheader("Content-Length"))))
            return response.status, response.reason, headers, payload
        raise AssertionError("unreachable")

    def _reply_error(self, outcome: str) -> None:
        request_id = str(uuid.uuid4())
        status, kind, code, message = _ERRORS[outcome]
        if "X-Amz-Target" in self.headers:  # JSON protocol (SQS, DynamoDB)
            name = "ThrottlingException" if code == "Throttling" else code
            body = json.dumps({"__type": name, "message": message}).encode()
            content_type = "application/x-amz-json-1.0"
        else:
            body = QUERY_ERROR_XML.format(
                kind=kind, code=code, message=message, request_id=request_id
            ).encode()
            content_type = "text/xml"
        self.send_response_only(status)
        self.send_header("Content-Type", content_type)
        self.send_header("x-amzn-RequestId", request_id)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    # http.server dispatches on these names.
    do_GET = do_HEAD = do_POST = do_PUT = do_DELETE = do_PATCH = _proxy  # noqa: N815


def _action(headers: Any, body: bytes) -> str:
    """`SendRawEmail`, `ReceiveMessage`, `PutItem`...; "" when the protocol does not say."""
    target = headers.get("X-Amz-Target")
    if target:
        return str(target).rsplit(".", 1)[-1]
    found = _QUERY_ACTION.search(body[:4096])
    return found[1].decode() if found else ""


def send_recipients(body: bytes) -> tuple[str, ...]:
    """The recipients of a `SendRawEmail` form body: its `Destinations.member.N`, in order, or
    (none given, as SES then does) the To, Cc and Bcc of the raw message."""
    fields = urllib.parse.parse_qsl(body.decode("utf-8", errors="replace"))
    members = sorted(
        (int(name.rsplit(".", 1)[1]), value)
        for name, value in fields
        if _DESTINATION.fullmatch(name)
    )
    if members:
        return tuple(value for _n, value in members)
    raw = next((value for name, value in fields if name == "RawMessage.Data"), "")
    try:
        headers = email.parser.BytesHeaderParser().parsebytes(base64.b64decode(raw))
    except ValueError:
        return ()
    found = email.utils.getaddresses(
        [str(value) for name in ("To", "Cc", "Bcc") for value in headers.get_all(name, [])]
    )
    return tuple(address for _name, address in found if address)


def _client_gone(sock: socket.socket) -> bool:
    """Whether the client closed its end (its process died) while its request was held."""
    try:
        readable, _, _ = select.select([sock], [], [], 0)
        return bool(readable) and sock.recv(1, socket.MSG_PEEK) == b""
    except OSError:
        return True


def main() -> None:
    """Run by hand: `python -m tests.support.faultproxy UPSTREAM [THROTTLE]`; Ctrl-C stops."""
    upstream = sys.argv[1] if len(sys.argv) > 1 else "http://127.0.0.1:4566"
    with FaultProxy(upstream) as proxy:
        throttle = float(sys.argv[2]) if len(sys.argv) > 2 else 0.0
        proxy.set(Faults(throttle=throttle))
        print(f"{proxy.endpoint_url} -> {upstream}, SendRawEmail throttled: {throttle:.0%}")
        with contextlib.suppress(KeyboardInterrupt):
            while True:
                time.sleep(60)
                print(dict(proxy.counts()), flush=True)


if __name__ == "__main__":
    main()
