"""The mail viewer without a browser: its pages escape every email value, its routes serve the
HTML part under a sandboxing policy and attachments with their bytes, type and name intact."""

from __future__ import annotations

import urllib.error
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from http import HTTPStatus

import pytest

from devtools.ses_outbox import SentEmail
from devtools.viewer import pages
from devtools.viewer.server import Running, content_disposition, respond, start

SCRIPT = "<script>alert('subject')</script>"
PDF = b"%PDF-1.4\n\x00\x01\x02\xff binary \r\n bytes\n%%EOF\n"


def sent(
    *,
    message_id: str = "msg-1",
    subject: str = "Hello",
    sender: str = "noreply@acubeapi.com",
    text: str | None = "plain text",
    html: str | None = None,
    attachment: tuple[str, bytes, str] | None = None,
    at: datetime = datetime(2026, 12, 3, 9, 0, tzinfo=UTC),
) -> SentEmail:
    """An email as LocalStack's outbox gives it: parsed back from its bytes."""
    message = EmailMessage()
    message["From"] = sender
    message["To"] = "user@example.com"
    message["Subject"] = subject
    if text is not None:
        message.set_content(text)
    if html is not None:
        if text is None:
            message.set_content(html, subtype="html")
        else:
            message.add_alternative(html, subtype="html")
    if attachment is not None:
        name, content, content_type = attachment
        maintype, subtype = content_type.split("/")
        message.add_attachment(content, maintype=maintype, subtype=subtype, filename=name)
    raw = message.as_bytes(policy=policy.SMTP)
    parsed = BytesParser(_class=EmailMessage, policy=policy.default).parsebytes(raw)
    return SentEmail(
        message_id=message_id,
        source=sender,
        recipients=("user@example.com",),
        region="us-east-1",
        sent_at=at,
        message=parsed,
        raw=raw,
    )


class ListOutbox:
    def __init__(self, *emails: SentEmail) -> None:
        self.emails = list(emails)

    def messages(self) -> list[SentEmail]:
        return self.emails


def test_a_script_in_the_subject_is_text_on_the_list_and_on_the_message_page() -> None:
    """GIVEN a subject, a display name and a text part holding markup WHEN the pages are built
    THEN each appears escaped, never as markup."""
    email = sent(
        subject=SCRIPT,
        sender='"<img src=x onerror=alert(1)>" <noreply@acubeapi.com>',
        text="</pre><script>alert('text')</script>",
    )

    for page in (pages.list_page([email]), pages.message_page(email)):
        assert "<script>alert" not in page
        assert "<img src=x" not in page
        assert "&lt;script&gt;alert(&#x27;subject&#x27;)&lt;/script&gt;" in page
    assert "&lt;/pre&gt;&lt;script&gt;alert(&#x27;text&#x27;)" in pages.message_page(email)


def test_a_message_id_with_markup_is_escaped_and_quoted_in_links() -> None:
    """The message id is LocalStack's, but the viewer trusts nothing it did not write."""
    email = sent(message_id='x"><script>1</script>')

    page = pages.list_page([email])

    assert "<script>1" not in page
    assert 'href="/messages/x%22%3E%3Cscript%3E1%3C%2Fscript%3E"' in page


def test_the_html_part_is_never_inlined_but_framed_with_a_sandbox_without_scripts() -> None:
    email = sent(html="<p>Hi</p><script>document.title='ran'</script>")

    page = pages.message_page(email)

    assert "<script>document.title" not in page
    assert "&lt;script&gt;document.title" in page  # in the HTML source section, as text
    assert '<iframe id="html-frame"' in page
    assert 'sandbox="allow-popups allow-popups-to-escape-sandbox"' in page
    assert "allow-scripts" not in page
    assert "allow-same-origin" not in page
    assert 'src="/messages/msg-1/html"' in page


def test_the_list_is_newest_first_and_shows_from_to_subject_time_and_size() -> None:
    older = sent(message_id="old", subject="older", at=datetime(2026, 12, 3, 9, 0, tzinfo=UTC))
    newer = sent(message_id="new", subject="newer", at=datetime(2026, 12, 3, 9, 5, tzinfo=UTC))
    same_second = sent(message_id="tie", subject="tie", at=datetime(2026, 12, 3, 9, 5, tzinfo=UTC))

    page = pages.list_page([older, newer, same_second])

    assert page.index("tie") < page.index("newer") < page.index("older")
    assert "noreply@acubeapi.com" in page
    assert "user@example.com" in page
    assert "2026-12-03 09:05:00" in page
    assert f"{older.size} B" in page


def test_the_html_route_is_sandboxed_by_its_own_policy_and_blocks_remote_images() -> None:
    """Opened outside the frame, the HTML part still runs no script; remote images load only
    when asked for."""
    outbox = ListOutbox(sent(html="<img src='https://tracker.example/p.gif'>"))

    blocked = respond(outbox.messages, "/messages/msg-1/html")
    allowed = respond(outbox.messages, "/messages/msg-1/html?remote=1")

    assert blocked.status is HTTPStatus.OK
    assert blocked.body.rstrip() == (
        b"<base target=\"_blank\">\n<img src='https://tracker.example/p.gif'>"
    )
    csp = blocked.headers["Content-Security-Policy"]
    assert csp.startswith("sandbox allow-popups allow-popups-to-escape-sandbox;")
    assert "allow-scripts" not in csp
    assert "img-src data:;" in csp
    assert "img-src data: https: http:;" in allowed.headers["Content-Security-Policy"]
    assert "script-src" not in allowed.headers["Content-Security-Policy"]  # default-src 'none'


def test_an_attachment_is_served_with_its_bytes_type_and_name() -> None:
    outbox = ListOutbox(sent(attachment=("facture-12345.pdf", PDF, "application/pdf")))

    response = respond(outbox.messages, "/messages/msg-1/attachments/0")

    assert response.status is HTTPStatus.OK
    assert response.body == PDF
    assert response.content_type == "application/pdf"
    assert response.headers["Content-Disposition"] == (
        "attachment; filename=\"facture-12345.pdf\"; filename*=UTF-8''facture-12345.pdf"
    )
    assert response.headers["Content-Security-Policy"] == "sandbox; default-src 'none'"


def test_a_file_name_cannot_break_out_of_content_disposition() -> None:
    """Quotes, backslashes, controls and non-ASCII letters: an ASCII fallback, and the exact
    name percent-encoded in filename*."""
    header = content_disposition('fac"ture\\\r\nX: é.pdf')

    assert header == (
        'attachment; filename="fac_ture___X: _.pdf";'
        " filename*=UTF-8''fac%22ture%5C%0D%0AX%3A%20%C3%A9.pdf"
    )


def test_an_html_attachment_is_a_download_never_a_page() -> None:
    outbox = ListOutbox(sent(attachment=("x.html", b"<script>1</script>", "text/html")))

    response = respond(outbox.messages, "/messages/msg-1/attachments/0")

    assert response.headers["Content-Disposition"].startswith("attachment;")
    assert response.headers["Content-Security-Policy"].startswith("sandbox;")


@pytest.mark.parametrize(
    "path",
    ["/messages/nope", "/messages/msg-1/attachments/5", "/messages/msg-1/html", "/elsewhere"],
)
def test_what_does_not_exist_is_a_404_page(path: str) -> None:
    response = respond(ListOutbox(sent()).messages, path)

    assert response.status is HTTPStatus.NOT_FOUND
    assert response.content_type == "text/html; charset=utf-8"


@pytest.fixture
def served() -> SentEmail:
    return sent(subject=SCRIPT, attachment=("a.bin", PDF, "application/octet-stream"))


@pytest.fixture
def viewer(served: SentEmail) -> Iterator[Running]:
    running = start(ListOutbox(served), port=0)
    try:
        yield running
    finally:
        running.stop()


def test_the_server_answers_on_127_0_0_1_with_the_pages_policy(viewer: Running) -> None:
    assert viewer.url.startswith("http://127.0.0.1:")

    with urllib.request.urlopen(viewer.url + "/", timeout=5) as response:
        page = response.read().decode()
        headers = response.headers

    assert "&lt;script&gt;" in page
    assert "<script>alert" not in page
    assert headers["Content-Security-Policy"].startswith("default-src 'none'; script-src 'self';")
    assert headers["X-Content-Type-Options"] == "nosniff"


def test_the_server_sends_the_raw_message_and_attachment_bytes(
    viewer: Running, served: SentEmail
) -> None:
    with urllib.request.urlopen(viewer.url + "/messages/msg-1/attachments/0", timeout=5) as got:
        assert got.read() == PDF
        assert got.headers["Content-Type"] == "application/octet-stream"
    with urllib.request.urlopen(viewer.url + "/messages/msg-1/raw", timeout=5) as got:
        assert got.read() == served.raw
        assert got.headers["Content-Type"] == "message/rfc822"
    with pytest.raises(urllib.error.HTTPError) as missing:
        urllib.request.urlopen(viewer.url + "/messages/other", timeout=5)
    missing.value.close()
    assert missing.value.code == HTTPStatus.NOT_FOUND


def test_inline_images_are_shown_as_data_urls_and_unknown_ones_load_nothing() -> None:
    """As Mailpit does, `cid:` references to image parts of the email are shown; the frame's
    policy allows `data:` images, so they become data URLs."""
    message = EmailMessage()
    message["From"] = "noreply@acubeapi.com"
    message["Subject"] = "logo"
    message.set_content("text")
    message.add_alternative('<img src="cid:logo@acubeapi.com"><img src="cid:missing">', "html")
    html_part = message.get_body(preferencelist=("html",))
    assert html_part is not None
    html_part.add_related(b"\x89PNG", "image", "png", cid="<logo@acubeapi.com>")
    parsed = BytesParser(_class=EmailMessage, policy=policy.default).parsebytes(bytes(message))
    html = pages.body(parsed, "html")
    assert html is not None

    shown = pages.with_inline_images(parsed, html)

    assert '<img src="data:image/png;base64,iVBORw=="><img src="cid:missing">' in shown
