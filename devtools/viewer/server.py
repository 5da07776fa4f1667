"""The viewer's HTTP server: stdlib `http.server` on 127.0.0.1, reading the outbox per request.

Routes (every email value escaped, see `pages.py`):

- `/`: the list; `/static/refresh.js` polls `/api/messages` and reloads it when mail arrives.
- `/messages/ID`: one email; `?remote=1` lets its HTML load remote images.
- `/messages/ID/html`: the HTML part alone (inline `cid:` images as `data:` URLs), for the
  page's `<iframe sandbox>`, under a Content-Security-Policy that itself sandboxes it (no
  scripts, no forms, no plugins) and allows no remote resource unless `?remote=1` (images
  only, then).
- `/messages/ID/attachments/N`: attachment N's bytes as sent, as a download.
- `/messages/ID/raw`: the whole message as an `.eml` download.
"""

from __future__ import annotations

import json
import threading
import urllib.parse
from collections.abc import Callable
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from typing import Protocol

import attrs

from devtools.ses_outbox import SentEmail
from devtools.viewer import pages

DEFAULT_PORT = 8025  # Mailpit's and MailHog's web port: where developers look first
HOST = "127.0.0.1"

# Our own pages: our script and style only, nothing inline, nothing remote.
PAGE_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self';"
    " frame-src 'self'; img-src 'self'; base-uri 'none'; form-action 'none';"
    " frame-ancestors 'none'"
)
# The email's HTML: sandboxed by the header as well as by the iframe, so that opening the
# route directly runs no script either. Inline styles are the norm in email; remote images are
# tracking pixels until the user asks for them.
EMAIL_CSP = (
    "sandbox allow-popups allow-popups-to-escape-sandbox; default-src 'none';"
    " style-src 'unsafe-inline'; img-src data:{remote}; font-src data:; base-uri 'none';"
    " form-action 'none'; frame-ancestors 'self'"
)
LINKS_OUTSIDE = '<base target="_blank">\n'
DOWNLOAD_CSP = "sandbox; default-src 'none'"
STATIC = {"viewer.css": "text/css; charset=utf-8", "refresh.js": "text/javascript; charset=utf-8"}


class Outbox(Protocol):
    """Where the emails come from: `devtools.ses_outbox.SesOutbox`, or a test's list."""

    def messages(self) -> list[SentEmail]:
        """Every email sent so far, oldest first."""
        ...


@attrs.frozen
class Response:
    status: HTTPStatus
    content_type: str
    body: bytes
    headers: dict[str, str] = attrs.field(factory=dict)


def respond(outbox: Callable[[], list[SentEmail]], path: str) -> Response:
    """The response to GET `path` (with its query): a pure function of the outbox's emails."""
    url = urllib.parse.urlsplit(path)
    query = urllib.parse.parse_qs(url.query)
    segments = [urllib.parse.unquote(segment) for segment in url.path.split("/")[1:]]
    match segments:
        case [""]:
            return _page(pages.list_page(outbox()))
        case ["api", "messages"]:
            ids = [email.message_id for email in outbox()]
            return Response(HTTPStatus.OK, "application/json", json.dumps(ids).encode())
        case ["static", name] if name in STATIC:
            text = resources.files("devtools.viewer").joinpath("static", name).read_bytes()
            return Response(HTTPStatus.OK, STATIC[name], text, {"Cache-Control": "no-cache"})
        case ["messages", message_id, *rest]:
            email = _find(outbox(), message_id)
            if email is None:
                return _page(pages.not_found_page(f"No email {message_id}"), HTTPStatus.NOT_FOUND)
            return _message_route(email, rest, remote_images=query.get("remote") == ["1"])
    return _page(pages.not_found_page(f"Nothing at {url.path}"), HTTPStatus.NOT_FOUND)


def _message_route(email: SentEmail, rest: list[str], *, remote_images: bool) -> Response:
    match rest:
        case []:
            return _page(pages.message_page(email, remote_images=remote_images))
        case ["html"]:
            html = pages.body(email.message, "html")
            if html is None:
                return _page(pages.not_found_page("This email has no HTML part"), HTTPStatus(404))
            remote = " https: http:" if remote_images else ""
            return Response(
                HTTPStatus.OK,
                "text/html; charset=utf-8",
                # Links open in a new tab, as Mailpit's do, not inside the frame.
                (LINKS_OUTSIDE + pages.with_inline_images(email.message, html)).encode("utf-8"),
                {"Content-Security-Policy": EMAIL_CSP.format(remote=remote)},
            )
        case ["attachments", index] if index.isdigit():
            found = pages.attachments(email.message)
            if int(index) >= len(found):
                return _page(pages.not_found_page("No such attachment"), HTTPStatus.NOT_FOUND)
            item = found[int(index)]
            return _download(item.content, item.content_type, item.filename)
        case ["raw"]:
            return _download(email.raw, "message/rfc822", f"{email.message_id}.eml")
    return _page(pages.not_found_page("No such page of this email"), HTTPStatus.NOT_FOUND)


def content_disposition(filename: str) -> str:
    """`attachment` with an ASCII fallback name and the exact name in RFC 5987's `filename*`
    (RFC 6266): the name is the sender's, so quotes, backslashes and controls never pass."""
    fallback = "".join(
        char if char.isascii() and char.isprintable() and char not in '"\\' else "_"
        for char in filename
    )
    exact = urllib.parse.quote(filename, safe="")
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{exact}"


def _download(content: bytes, content_type: str, filename: str) -> Response:
    # The type is the sender's: a download never renders here (attachment, nosniff, sandbox).
    return Response(
        HTTPStatus.OK,
        content_type,
        content,
        {
            "Content-Disposition": content_disposition(filename),
            "Content-Security-Policy": DOWNLOAD_CSP,
        },
    )


def _page(text: str, status: HTTPStatus = HTTPStatus.OK) -> Response:
    return Response(
        status, "text/html; charset=utf-8", text.encode(), {"Content-Security-Policy": PAGE_CSP}
    )


def _find(emails: list[SentEmail], message_id: str) -> SentEmail | None:
    return next((email for email in emails if email.message_id == message_id), None)


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def do_GET(self) -> None:
        try:
            response = respond(self.server.outbox.messages, self.path)
        except (OSError, ValueError) as exc:  # LocalStack gone or busy: say so, keep serving
            response = Response(
                HTTPStatus.BAD_GATEWAY,
                "text/plain; charset=utf-8",
                f"cannot read the SES outbox: {exc}".encode(),
            )
        self.send_response(response.status)
        self.send_header("Content-Type", response.content_type)
        self.send_header("Content-Length", str(len(response.body)))
        self.send_header("X-Content-Type-Options", "nosniff")
        self.send_header("Referrer-Policy", "no-referrer")
        self.send_header("Cache-Control", "no-store")
        for name, value in response.headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(response.body)

    def log_message(self, format: str, *args: object) -> None:
        """Quiet: `make run`'s terminal is for the mail itself."""


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, port: int, outbox: Outbox) -> None:
        super().__init__((HOST, port), _Handler)
        self.outbox = outbox


@attrs.define
class Running:
    """A viewer serving on a thread of its own; `stop()` ends it."""

    url: str
    _server: _Server
    _thread: threading.Thread

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


def start(outbox: Outbox, *, port: int = DEFAULT_PORT) -> Running:
    """Serve the viewer of `outbox` on 127.0.0.1:`port` (0: any free port). Raises OSError
    when the port is taken."""
    server = _Server(port, outbox)
    thread = threading.Thread(target=server.serve_forever, name="mail-viewer", daemon=True)
    thread.start()
    return Running(url=f"http://{HOST}:{server.server_address[1]}", server=server, thread=thread)
