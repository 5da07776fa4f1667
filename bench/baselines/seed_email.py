"""The seed's `build_email()`, shared by both baselines so they compose exactly alike.

`MIMEMultipart("alternative")` with one `MIMEText` part per body, wrapped in
`MIMEMultipart("mixed")` with a `MIMEApplication` part per attachment; `as_bytes()` by the
caller. No validation, no header encoding beyond what `email.mime` does by itself.
"""

from __future__ import annotations

from collections.abc import Sequence
from email.mime.application import MIMEApplication
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from typing import Any


def build_email(
    message: dict[str, Any], attachments: Sequence[tuple[str, bytes]] = ()
) -> MIMEMultipart:
    """The message as the seed builds it: bodies, then attachments, then three headers."""
    body = MIMEMultipart("alternative")
    if message.get("text_content"):
        body.attach(MIMEText(message["text_content"], "plain", "utf-8"))
    if message.get("html_content"):
        body.attach(MIMEText(message["html_content"], "html", "utf-8"))
    root = body
    if attachments:
        root = MIMEMultipart("mixed")
        root.attach(body)
        for filename, data in attachments:
            part = MIMEApplication(data)
            part.add_header("Content-Disposition", "attachment", filename=filename)
            root.attach(part)
    root["Subject"] = message["subject"]
    root["From"] = message["sender"]
    root["To"] = ", ".join(message["recipients"])
    return root


def attachment_name(attachment: dict[str, Any]) -> str:
    """The file name the seed gives an attachment: its own, or the key's last segment."""
    return str(attachment.get("filename") or attachment["key"].rsplit("/", 1)[-1])
