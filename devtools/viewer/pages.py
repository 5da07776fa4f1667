"""The viewer's pages, as strings: pure functions of the outbox, every email value escaped.

An email is untrusted input. Every value from it goes through `html.escape` (quotes too) or,
in a URL, `urllib.parse.quote`; its HTML part is never inlined in these pages but served on
a route of its own (`server.py`) inside `<iframe sandbox>` without `allow-scripts`.
"""

from __future__ import annotations

import base64
import re
import urllib.parse
from email.message import EmailMessage, MIMEPart
from html import escape

import attrs

from devtools.mailview import mime_tree
from devtools.ses_outbox import SentEmail

# What Mailpit shows above a message (List-Unsubscribe is its "Unsubscribe" row).
SUMMARY_HEADERS = (
    "From",
    "To",
    "Cc",
    "Bcc",
    "Reply-To",
    "Return-Path",
    "Subject",
    "Date",
    "List-Unsubscribe",
)
SECTIONS = (
    ("attachments", "Attachments"),
    ("html", "HTML"),
    ("html-source", "HTML source"),
    ("text", "Text"),
    ("headers", "Headers"),
    ("raw", "Raw"),
)


@attrs.frozen
class Attachment:
    """One attachment of an email: its place among the parts, name, type and bytes."""

    index: int
    filename: str
    content_type: str
    content: bytes


def attachments(message: EmailMessage) -> list[Attachment]:
    """Every attachment, numbered from 0 in MIME order (the download route's numbering)."""
    found = []
    for index, part in enumerate(message.iter_attachments()):
        payload = part.get_payload(decode=True)
        found.append(
            Attachment(
                index=index,
                filename=part.get_filename() or f"attachment-{index}",
                content_type=part.get_content_type(),
                content=payload if isinstance(payload, bytes) else b"",
            )
        )
    return found


def body(message: EmailMessage, subtype: str) -> str | None:
    """The decoded text of the message's `text/<subtype>` body, or None without one."""
    part = message.get_body(preferencelist=(subtype,))
    if part is None or part.get_content_type() != f"text/{subtype}":
        return None
    content = part.get_content()
    return content if isinstance(content, str) else None


CID_REFERENCE = re.compile(r"cid:([^\"'\s)>]+)", re.IGNORECASE)


def with_inline_images(message: EmailMessage, html: str) -> str:
    """`html` with each `cid:` reference to an image part of the message made a `data:` URL,
    as Mailpit shows inline images: the frame's policy allows `data:` images and nothing
    remote. A reference to no such part is left as it is (and loads nothing)."""
    images: dict[str, str] = {}
    for part in message.walk():
        content_id = str(part.get("Content-ID", "")).strip().strip("<>")
        payload = part.get_payload(decode=True)
        if content_id and part.get_content_maintype() == "image" and isinstance(payload, bytes):
            # get_content_type() is a lower-case token/token: nothing in it can end the URL.
            encoded = base64.b64encode(payload).decode("ascii")
            images[content_id] = f"data:{part.get_content_type()};base64,{encoded}"

    def inline(found: re.Match[str]) -> str:
        return images.get(urllib.parse.unquote(found.group(1)), found.group(0))

    return CID_REFERENCE.sub(inline, html) if images else html


def message_path(email: SentEmail) -> str:
    return "/messages/" + urllib.parse.quote(email.message_id, safe="")


def list_page(emails: list[SentEmail]) -> str:
    """Every email, newest first: from, to, subject, time, size; each opens its page."""
    # The outbox is in send order and its times are to the second: the later sent wins a tie.
    newest_first = sorted(enumerate(emails), key=lambda pair: (pair[1].sent_at, pair[0]))
    rows = "\n".join(_row(email) for _, email in reversed(newest_first))
    if not rows:
        rows = '<tr><td colspan="5" class="empty">No email yet: send one, it shows here.</td></tr>'
    return _page(
        "Outbox",
        f"""<header><h1>SES outbox</h1>
<p class="count" id="count">{len(emails)} email(s); newest first, refreshed as they arrive.</p>
</header>
<table class="messages" id="messages">
<thead><tr><th>From</th><th>To</th><th>Subject</th><th>Time (UTC)</th><th>Size</th></tr></thead>
<tbody>
{rows}
</tbody>
</table>""",
        script="/static/refresh.js",
    )


def message_page(email: SentEmail, *, remote_images: bool = False) -> str:
    """One email, as Mailpit shows it: the summary headers, its attachments, its HTML
    (sandboxed) and the HTML's source, its text, every header, the MIME structure and the raw
    source; a bar of links to each section stands in for Mailpit's tabs."""
    message = email.message
    path = message_path(email)
    summary = "\n".join(
        f"<tr><th>{escape(name)}</th><td>{escape(str(message[name]))}</td></tr>"
        for name in SUMMARY_HEADERS
        if name in message
    )
    html_part = body(message, "html")
    text_part = body(message, "plain")
    return _page(
        email.subject or "(no subject)",
        f"""<nav><a href="/">&larr; Outbox</a></nav>
<header><h1 id="subject">{escape(email.subject) or "(no subject)"}</h1>
<table class="summary">
{summary}
<tr><th>Sent</th><td>{_time(email)} UTC</td></tr>
<tr><th>Size</th><td>{_size(email.size)}</td></tr>
<tr><th>Message id</th><td>{escape(email.message_id)}</td></tr>
</table></header>
<nav class="sections">{_section_links(email)}</nav>
{_attachments_section(email)}
{_html_section(path, html_part, remote_images=remote_images)}
<section id="html-source"><h2>HTML source</h2>
{_source(html_part, "No HTML part.")}
</section>
<section id="text"><h2>Text</h2>
{_text(text_part)}
</section>
<section id="headers"><h2>Headers</h2>
<table class="headers">
{_headers(message)}
</table>
<p>MIME structure: <code>{escape(mime_tree(message))}</code></p></section>
<section id="raw"><h2>Raw</h2>
<p><a href="{path}/raw" download>Download the raw message (.eml)</a></p>
{_source(email.raw.decode("utf-8", "replace"), "Empty.")}
</section>""",
    )


def not_found_page(what: str) -> str:
    return _page("Not found", f'<nav><a href="/">&larr; Outbox</a></nav><p>{escape(what)}</p>')


def _row(email: SentEmail) -> str:
    message = email.message
    count = sum(1 for _ in message.iter_attachments())
    clip = f' <span class="files">{count} attachment(s)</span>' if count else ""
    return (
        f'<tr data-id="{escape(email.message_id)}">'
        f"<td>{escape(str(message.get('From', email.source)))}</td>"
        f"<td>{escape(str(message.get('To', '')))}</td>"
        f'<td><a href="{message_path(email)}">{escape(email.subject) or "(no subject)"}</a>'
        f"{clip}</td>"
        f"<td>{_time(email)}</td><td>{_size(email.size)}</td></tr>"
    )


def _html_section(path: str, html_part: str | None, *, remote_images: bool) -> str:
    if html_part is None:
        return '<section id="html"><h2>HTML</h2><p class="empty">No HTML part.</p></section>'
    if remote_images:
        frame_src, toggle = f"{path}/html?remote=1", f'<a href="{path}">Block remote images</a>'
    else:
        frame_src = f"{path}/html"
        toggle = f'<a href="{path}?remote=1" id="show-remote">Show remote images</a>'
    state = "shown" if remote_images else "blocked"
    # No allow-scripts, no allow-same-origin: the email's HTML runs nothing and reaches
    # nothing of this page; its links open in a new tab (allow-popups).
    return f"""<section id="html"><h2>HTML</h2>
<p class="note">Scripts never run; remote images are {state}. {toggle}</p>
<iframe id="html-frame" title="the email's HTML part" src="{frame_src}"
 sandbox="allow-popups allow-popups-to-escape-sandbox" referrerpolicy="no-referrer"></iframe>
</section>"""


def _attachments_section(email: SentEmail) -> str:
    found = attachments(email.message)
    if not found:
        return ""
    path = message_path(email)
    items = "\n".join(
        f'<li><a href="{path}/attachments/{item.index}" download>{escape(item.filename)}</a>'
        f" <span>{escape(item.content_type)}, {_size(len(item.content))}</span></li>"
        for item in found
    )
    return f'<section id="attachments"><h2>Attachments</h2><ul>\n{items}\n</ul></section>'


def _section_links(email: SentEmail) -> str:
    has_attachments = any(True for _ in email.message.iter_attachments())
    return " ".join(
        f'<a href="#{anchor}">{label}</a>'
        for anchor, label in SECTIONS
        if anchor != "attachments" or has_attachments
    )


def _source(source: str | None, missing: str) -> str:
    if source is None:
        return f'<p class="empty">{missing}</p>'
    return f'<pre class="source">{escape(source)}</pre>'


def _text(text_part: str | None) -> str:
    if text_part is None:
        return '<p class="empty">No text part.</p>'
    return f'<pre id="text-body">{escape(text_part)}</pre>'


def _headers(part: MIMEPart) -> str:
    return "\n".join(
        f"<tr><th>{escape(name)}</th><td>{escape(str(value))}</td></tr>"
        for name, value in part.items()
    )


def _time(email: SentEmail) -> str:
    return email.sent_at.strftime("%Y-%m-%d %H:%M:%S")


def _size(size: int) -> str:
    if size < 1024:
        return f"{size} B"
    if size < 1024 * 1024:
        return f"{size / 1024:.1f} kB"
    return f"{size / 1024 / 1024:.1f} MB"


def _page(title: str, content: str, *, script: str = "") -> str:
    script_tag = f'<script src="{script}"></script>' if script else ""
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="referrer" content="no-referrer">
<title>{escape(title)} - notifier mail viewer</title>
<link rel="stylesheet" href="/static/viewer.css">{script_tag}
</head><body>
{content}
</body></html>
"""
