"""Allowlists and attachment limits against LocalStack: refused for good, clearly worded,
nothing sent, and S3 never asked for anything outside the allowed buckets.

The app is built exactly as in Lambda (settings from NOTIFIER_* variables, real SES and S3
adapters). Its S3 client talks to LocalStack through a recording HTTP relay
(`AWS_ENDPOINT_URL_S3`), so the tests see every request S3 was sent, not what our code says
it did.
"""

from __future__ import annotations

import http.client
import threading
import urllib.parse
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import attrs
import boto3
import pytest
from structlog.testing import capture_logs

from devtools.invoice import invoice_message
from notifier.entrypoints.app import App
from notifier.entrypoints.bootstrap import bootstrap
from notifier.entrypoints.settings import Settings
from tests.fakes import FakeContext
from tests.support.localstack import LocalStack
from tests.support.ses_outbox import SesOutbox

SENDER = "noreply@acubeapi.com"
ALLOWED_BUCKET = "notifier-allowlist-invoices"
PRIVATE_BUCKET = "notifier-allowlist-private"  # exists, holds the same key, not allowlisted
ABSENT_BUCKET = "notifier-allowlist-absent"  # never created
INVOICE_KEY = "invoices/12345.pdf"
PDF = b"%PDF-1.4\n1 0 obj<</Type/Catalog>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n"
BIG_KEY = "invoices/big.pdf"
SIZE_CAP = 4096  # NOTIFIER_MAX_MESSAGE_BYTES's lowest allowed value is 1024
HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "content-length", "server", "date"}


@attrs.frozen
class S3Request:
    method: str
    host: str
    path: str

    def mentions(self, bucket: str) -> bool:
        """True if the request is about `bucket`, path-style or virtual-hosted."""
        first_segment = urllib.parse.urlsplit(self.path).path.lstrip("/").split("/", 1)[0]
        return self.host.startswith(f"{bucket}.") or first_segment == bucket


class _Relay(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, upstream: str) -> None:
        super().__init__(("127.0.0.1", 0), _RelayHandler)
        parsed = urllib.parse.urlsplit(upstream)
        self.upstream = (parsed.hostname or "127.0.0.1", parsed.port or 80)
        self.requests: list[S3Request] = []


class _RelayHandler(BaseHTTPRequestHandler):
    """Forwards each request to LocalStack unchanged (Host too, so signatures hold) and
    records it."""

    server: _Relay

    def _relay(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else None
        self.server.requests.append(S3Request(self.command, self.headers["Host"], self.path))
        upstream = http.client.HTTPConnection(*self.server.upstream, timeout=30)
        try:
            upstream.request(self.command, self.path, body=body, headers=dict(self.headers))
            answer = upstream.getresponse()
            data = answer.read()
        finally:
            upstream.close()
        self.send_response(answer.status)
        for name, value in answer.getheaders():
            if name.lower() not in HOP_BY_HOP:
                self.send_header(name, value)
        length_header = answer.getheader("Content-Length") if self.command == "HEAD" else None
        self.send_header("Content-Length", length_header or str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    # http.server dispatches on these names; the app's S3 adapter only reads.
    do_GET = do_HEAD = _relay  # noqa: N815

    def log_message(self, *args: Any) -> None:
        """Quiet: the test reads `requests` instead."""


@pytest.fixture(scope="module")
def aws(localstack: LocalStack) -> None:
    """A verified sender domain; the allowed bucket and a private one holding the same key."""
    boto3.client("ses", endpoint_url=localstack.endpoint_url).verify_domain_identity(
        Domain="acubeapi.com"
    )
    s3 = boto3.client("s3", endpoint_url=localstack.endpoint_url)
    for bucket in (ALLOWED_BUCKET, PRIVATE_BUCKET):
        s3.create_bucket(Bucket=bucket)
        s3.put_object(Bucket=bucket, Key=INVOICE_KEY, Body=PDF)
    s3.put_object(Bucket=ALLOWED_BUCKET, Key=BIG_KEY, Body=b"%PDF-1.4\n" + b"0" * 5000)


@pytest.fixture
def s3_requests(
    aws: None, localstack: LocalStack, monkeypatch: pytest.MonkeyPatch
) -> Iterator[list[S3Request]]:
    """Every request the app's S3 client sends from now on (SES still goes straight to
    LocalStack)."""
    relay = _Relay(localstack.endpoint_url)
    thread = threading.Thread(target=relay.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", f"http://127.0.0.1:{relay.server_port}")
    try:
        yield relay.requests
    finally:
        relay.shutdown()
        relay.server_close()
        thread.join(timeout=5)


@pytest.fixture
def make_app(s3_requests: list[S3Request]) -> Callable[..., App]:
    """The app as Lambda builds it, from these NOTIFIER_* variables (and no others)."""

    def make(**variables: str) -> App:
        environ = {
            "NOTIFIER_ALLOWED_SENDERS": SENDER,
            "NOTIFIER_ATTACHMENT_BUCKETS": ALLOWED_BUCKET,
            "NOTIFIER_METRICS_MODE": "off",
            **variables,
        }
        return bootstrap(Settings.from_env(environ), configure_logs=False)

    return make


def message(**changes: Any) -> dict[str, Any]:
    body = invoice_message(
        sender=SENDER,
        html_content=None,
        bucket_name=ALLOWED_BUCKET,
        attachments=[{"key": INVOICE_KEY, "filename": "facture-12345.pdf"}],
    )
    body.update(changes)
    return body


def refused(app: App, body: dict[str, Any]) -> tuple[dict[str, str], dict[str, Any]]:
    """Invoke; return the single field error of the 400 and the canonical log line."""
    with capture_logs() as logs:
        response = app.handle(body, FakeContext())
    assert response["statusCode"] == 400, response
    (error,) = response["errors"]
    (line,) = [entry for entry in logs if entry["event"] == "email.processed"]
    return error, line


def assert_permanent(line: dict[str, Any]) -> None:
    """The canonical line says the message is invalid and a retry cannot help."""
    assert (line["outcome"], line["reason"], line["retryable"]) == ("failed", "invalid", False)


def test_the_allowed_sender_and_bucket_are_sent(
    make_app: Callable[..., App], ses_outbox: SesOutbox, s3_requests: list[S3Request]
) -> None:
    """Control: inside both allowlists the invoice is read (through the relay) and sent."""
    response = make_app().handle(message(), FakeContext())
    assert response["statusCode"] == 200, response
    (sent,) = ses_outbox.wait_for(1)
    (attachment,) = sent.message.iter_attachments()
    assert attachment.get_payload(decode=True) == PDF
    assert {r.method for r in s3_requests} == {"HEAD", "GET"}
    assert all(r.mentions(ALLOWED_BUCKET) for r in s3_requests)


@pytest.mark.parametrize(
    "sender",
    [
        "billing@acubeapi.com",  # verified in SES, so only our allowlist stops it
        f'"{SENDER}" <billing@acubeapi.com>',  # the allowed address as a display name
        "noreply@mail.acubeapi.com",  # a subdomain of the allowed one
        "noreply@acubeapi.com.evil.example",
    ],
    ids=["other-address-same-domain", "allowed-address-as-name", "subdomain", "suffix-domain"],
)
def test_a_sender_outside_the_allowlist_is_refused_before_ses(
    make_app: Callable[..., App],
    ses_outbox: SesOutbox,
    s3_requests: list[S3Request],
    sender: str,
) -> None:
    """GIVEN NOTIFIER_ALLOWED_SENDERS=noreply@acubeapi.com WHEN another sender is used
    THEN a permanent 400 on `sender` naming the setting; nothing read, nothing sent."""
    error, line = refused(make_app(), message(sender=sender))
    assert error["field"] == "sender"
    assert "is not an allowed sender" in error["message"]
    assert "NOTIFIER_ALLOWED_SENDERS" in error["message"]
    assert_permanent(line)
    assert s3_requests == []
    assert ses_outbox.messages() == []


@pytest.mark.parametrize(
    "bucket",
    [
        PRIVATE_BUCKET,
        ABSENT_BUCKET,
        ALLOWED_BUCKET.upper(),
        f"{ALLOWED_BUCKET}/../{PRIVATE_BUCKET}",
    ],
    ids=["existing-private-bucket", "absent-bucket", "case-variant", "path-trick"],
)
def test_a_bucket_outside_the_allowlist_is_never_read(
    make_app: Callable[..., App],
    ses_outbox: SesOutbox,
    s3_requests: list[S3Request],
    bucket: str,
) -> None:
    """GIVEN the invoice also exists in a bucket that is not in NOTIFIER_ATTACHMENT_BUCKETS
    WHEN a message names that bucket THEN a permanent 400 on `bucket_name` (the allowlist
    error, not a missing object) and S3 is not sent a single request; nothing is sent."""
    error, line = refused(make_app(), message(bucket_name=bucket))
    assert error["field"] == "bucket_name"
    assert "is not allowed for attachments" in error["message"]
    assert "NOTIFIER_ATTACHMENT_BUCKETS" in error["message"]
    assert_permanent(line)
    assert s3_requests == []
    assert ses_outbox.messages() == []


def test_a_missing_key_is_a_permanent_error_naming_it(
    make_app: Callable[..., App], ses_outbox: SesOutbox, s3_requests: list[S3Request]
) -> None:
    """An allowed bucket without that key: a 400 on `attachments[0].key` saying the key does
    not exist in that bucket; S3 was only asked for its metadata, nothing is sent."""
    key = "invoices/does-not-exist.pdf"
    error, line = refused(make_app(), message(attachments=[{"key": key}]))
    assert error == {
        "field": "attachments[0].key",
        "message": f"attachment {key!r} does not exist in bucket {ALLOWED_BUCKET!r}",
    }
    assert_permanent(line)
    assert [(r.method, r.mentions(ALLOWED_BUCKET)) for r in s3_requests] == [("HEAD", True)]
    assert ses_outbox.messages() == []


def test_an_attachment_over_the_size_cap_is_refused_before_download(
    make_app: Callable[..., App], ses_outbox: SesOutbox, s3_requests: list[S3Request]
) -> None:
    """GIVEN NOTIFIER_MAX_MESSAGE_BYTES=4096 and a 5 KB object WHEN it is attached
    THEN a 400 on `attachments` giving its size and the limit, decided from S3's metadata:
    the object is never downloaded, nothing is sent."""
    app = make_app(NOTIFIER_MAX_MESSAGE_BYTES=str(SIZE_CAP))
    error, line = refused(app, message(attachments=[{"key": BIG_KEY}]))
    assert error["field"] == "attachments"
    assert "attachments total 5009 bytes" in error["message"]
    assert f"over the {SIZE_CAP}-byte message limit" in error["message"]
    assert_permanent(line)
    assert [r.method for r in s3_requests] == ["HEAD"]
    assert ses_outbox.messages() == []
