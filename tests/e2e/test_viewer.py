"""The mail viewer in a real browser: Debian's Chromium driven by Playwright.

Two emails go through the real handler to LocalStack's SES: the sample invoice (text, HTML and
its PDF) and one whose HTML holds a script and a remote image, both aimed at a tracker server of
this test. The viewer lists both, shows one, frames its HTML without scripts or remote images
(until asked), and hands the PDF over byte for byte. The run writes the README's screenshots.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import boto3
import pytest

from devtools.invoice import invoice_message
from devtools.provision import Provisioned
from devtools.runner.invokers import InProcessFunction
from devtools.viewer.server import Running, start
from notifier.entrypoints.bootstrap import bootstrap
from tests.e2e.conftest import BUCKET
from tests.support.localstack import LocalStack
from tests.support.ses_outbox import SesOutbox

playwright = pytest.importorskip("playwright.sync_api")

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
ATTACHMENT_KEY = "invoices/12345.pdf"
TRACKED_SUBJECT = "Votre relevé <script>alert('subject')</script>"
TRACKED_TEXT = "Votre relevé de compte de novembre est disponible."


class Tracker(ThreadingHTTPServer):
    """Records every path asked of it: a remote image or a script's beacon would land here."""

    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _TrackerHandler)
        self.paths: list[str] = []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class _TrackerHandler(BaseHTTPRequestHandler):
    server: Tracker

    def do_GET(self) -> None:
        self.server.paths.append(self.path)
        self.send_response(200)
        self.send_header("Content-Type", "image/gif")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        """Quiet."""


@pytest.fixture
def tracker() -> Iterator[Tracker]:
    server = Tracker()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def viewer(localstack: LocalStack) -> Iterator[Running]:
    running = start(SesOutbox(endpoint_url=localstack.endpoint_url), port=0)
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture
def browser() -> Iterator[object]:
    if not CHROMIUM.exists():
        pytest.skip(f"no {CHROMIUM}: `make init.chromium` as root installs it")
    with playwright.sync_playwright() as driver:
        chromium = driver.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


def test_the_viewer_lists_shows_and_hands_over_the_mail_safely(
    stack: Provisioned,
    ses_outbox: SesOutbox,
    tracker: Tracker,
    viewer: Running,
    browser: playwright.Browser,
) -> None:
    """GIVEN two emails sent through the handler: the invoice with its PDF, and an HTML email
    with a script and a remote image WHEN they are opened in the viewer in Chromium THEN both
    are listed, the HTML one shows its subject as text and its text part, its frame is
    sandboxed without scripts, neither the script nor the image reached the tracker until
    remote images were asked for, and the PDF downloads with its bytes intact; a third email
    appears on the open list by itself."""
    function = InProcessFunction(bootstrap(configure_logs=False))
    invoice = invoice_message(
        bucket_name=BUCKET,
        attachments=[{"key": ATTACHMENT_KEY, "filename": "facture-12345.pdf"}],
    )
    tracked = invoice_message(
        subject=TRACKED_SUBJECT,
        text_content=TRACKED_TEXT,
        html_content=(
            "<h1>Relevé de novembre</h1><p>Votre relevé est disponible.</p>"
            f"<script>fetch('{tracker.url}/script-ran'); document.body.innerHTML = 'pwned'"
            "</script>"
            f'<p><img src="{tracker.url}/pixel.gif" alt="remote pixel" width="40" height="40">'
            "</p>"
        ),
    )
    for message in (invoice, tracked):
        function.invoke(message, budget_seconds=30)
    ses_outbox.wait_for(2)
    pdf = boto3.client("s3").get_object(Bucket=BUCKET, Key=ATTACHMENT_KEY)["Body"].read()
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)

    page = browser.new_page(viewport={"width": 1100, "height": 800}, accept_downloads=True)
    # Chromium's preload scanner may start a request that the policy then blocks: what counts
    # is a response, and the tracker's own record.
    answered: list[str] = []
    page.on("response", lambda response: answered.append(response.url))

    page.goto(viewer.url)
    rows = page.locator("tr[data-id]")
    playwright.expect(rows).to_have_count(2)
    playwright.expect(rows.nth(0)).to_contain_text(TRACKED_SUBJECT)  # newest first
    playwright.expect(rows.nth(1)).to_contain_text("Votre facture est prête")
    playwright.expect(rows.nth(1)).to_contain_text("user@example.com")
    page.screenshot(path=SCREENSHOTS / "viewer-list.png", full_page=True)
    function.invoke(invoice_message(subject="Arrived while watching"), budget_seconds=30)
    playwright.expect(rows).to_have_count(3)  # the page polls: no reload by hand
    playwright.expect(rows.nth(0)).to_contain_text("Arrived while watching")

    rows.nth(1).get_by_role("link").click()
    playwright.expect(page.locator("#subject")).to_have_text(TRACKED_SUBJECT)
    playwright.expect(page.locator("#text-body")).to_contain_text(TRACKED_TEXT)
    frame = page.locator("#html-frame")
    sandbox = frame.get_attribute("sandbox")
    assert sandbox is not None
    assert "allow-scripts" not in sandbox.split()
    assert "allow-same-origin" not in sandbox.split()
    html = page.frame_locator("#html-frame")
    playwright.expect(html.locator("h1")).to_have_text("Relevé de novembre")
    playwright.expect(html.locator("img")).to_have_count(1)  # the script did not rewrite it
    page.wait_for_load_state("networkidle")
    page.screenshot(path=SCREENSHOTS / "viewer-message.png", full_page=True)
    assert tracker.paths == []
    assert not [url for url in answered if url.startswith(tracker.url)]

    page.locator("#show-remote").click()
    playwright.expect(page.locator("#html-frame")).to_have_attribute("src", re.compile("remote=1"))
    page.wait_for_load_state("networkidle")
    html.locator("img").wait_for()
    assert "/pixel.gif" in _eventually(tracker)
    assert "/script-ran" not in tracker.paths

    page.goto(viewer.url)
    rows.nth(2).get_by_role("link").click()
    link = page.locator("#attachments a")
    playwright.expect(link).to_have_text("facture-12345.pdf")
    page.frame_locator("#html-frame").locator("h1").wait_for()
    page.screenshot(path=SCREENSHOTS / "viewer-invoice.png")  # the first screenful
    with page.expect_download() as downloading:
        link.click()
    download = downloading.value
    assert download.suggested_filename == "facture-12345.pdf"
    assert Path(download.path()).read_bytes() == pdf
    served = page.request.get(viewer.url + link.get_attribute("href"))
    assert served.headers["content-type"] == "application/pdf"
    assert served.headers["content-disposition"].startswith('attachment; filename="facture')
    assert served.body() == pdf


def _eventually(tracker: Tracker) -> list[str]:
    """The tracker's paths once it has been asked something (the image loads asynchronously)."""
    for _ in range(50):
        if tracker.paths:
            break
        threading.Event().wait(0.1)
    return tracker.paths
