"""Show the mail LocalStack's SES has "sent": a few lines per email, printed as it arrives."""

from __future__ import annotations

import threading
from email.message import EmailMessage, MIMEPart

from devtools.console import say
from devtools.ses_outbox import SentEmail, SesOutbox

POLL_INTERVAL_S = 0.25


def describe(email: SentEmail, number: int) -> list[str]:
    """What a reader of the email would see first: addresses, subject, MIME parts, files."""
    message = email.message
    lines = [
        f"email {number} in the SES outbox (message id {email.message_id})",
        f"  from        {message.get('From', '')}",
        f"  to          {message.get('To', '')}",
    ]
    lines += [
        f"  {name.lower():<11} {message[name]}" for name in ("Cc", "Reply-To") if name in message
    ]
    lines += [
        f"  subject     {email.subject}",
        f"  parts       {mime_tree(message)}",
    ]
    lines += [
        f"  attachment  {name} ({content_type}, {size} bytes)"
        for name, content_type, size in attachments(message)
    ]
    return lines


def mime_tree(part: MIMEPart) -> str:
    """The content types, nested: `multipart/mixed [multipart/alternative [...], ...]`."""
    if not part.is_multipart():
        return part.get_content_type()
    children = ", ".join(mime_tree(child) for child in part.iter_parts())
    return f"{part.get_content_type()} [{children}]"


def attachments(message: EmailMessage) -> list[tuple[str, str, int]]:
    """(file name, content type, decoded size in bytes) of every attachment."""
    found = []
    for part in message.iter_attachments():
        payload = part.get_payload(decode=True)
        size = len(payload) if isinstance(payload, bytes) else 0
        found.append((part.get_filename() or "(no name)", part.get_content_type(), size))
    return found


class OutboxWatcher:
    """Prints each new email of an SES outbox, from a thread of its own, until stopped."""

    def __init__(self, outbox: SesOutbox) -> None:
        self._outbox = outbox
        self._seen: set[str] = set()
        self._shown = threading.Condition()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, name="ses-outbox", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        """Stop watching; returns once the thread has ended (at most one poll later)."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=10)

    def wait_for(self, count: int, *, timeout_s: float) -> bool:
        """Wait until `count` emails have been shown in all; False on timeout or stop."""
        with self._shown:
            self._shown.wait_for(
                lambda: len(self._seen) >= count or self._stop.is_set(), timeout=timeout_s
            )
            return len(self._seen) >= count

    def _watch(self) -> None:
        while not self._stop.is_set():
            try:
                emails = self._outbox.messages()
            except (OSError, ValueError):  # LocalStack busy or going away: try again
                emails = []
            for email in emails:
                if email.message_id not in self._seen:
                    say("\n".join(describe(email, len(self._seen) + 1)))
                    with self._shown:
                        self._seen.add(email.message_id)
                        self._shown.notify_all()
            self._stop.wait(POLL_INTERVAL_S)
        with self._shown:
            self._shown.notify_all()
