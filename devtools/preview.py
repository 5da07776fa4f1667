"""`python -m devtools preview`: a template rendered as notifier would send it, before it is
sent: the `.eml` (the raw MIME message), its HTML, and a PNG screenshot of that HTML taken by
headless Chromium (Debian's, `make init.chromium`; the function's image has no browser).

Templates come from a local directory (the repository's samples by default) or from S3 (an
`s3://bucket/prefix` such as NOTIFIER_TEMPLATES): the same rendering, fallback and validation
code as the handler's.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import attrs

from devtools.template_files import SAMPLES, MemoryTemplateStore
from notifier.adapters.addresses import EmailValidatorAddresses
from notifier.adapters.outbound.aws import aws_session, client
from notifier.adapters.outbound.s3_templates import S3TemplateStore
from notifier.adapters.rendering import JinjaRenderer
from notifier.domain.errors import NotifierError
from notifier.domain.mime import compose, message_id
from notifier.domain.model import MessageRequest
from notifier.domain.policy import Policy
from notifier.domain.templates import Templates, TemplateStore
from notifier.domain.validation import Validator

CHROMIUM = "/usr/bin/chromium"
SENDER = "Preview <preview@example.com>"
RECIPIENT = "recipient@example.com"
SCREENSHOT_TIMEOUT_SECONDS = 60


class PreviewError(Exception):
    """The preview could not be written (bad template or data, or no browser)."""


@attrs.frozen
class Preview:
    """The files written."""

    eml: Path
    html: Path | None
    png: Path | None
    template_version: str


def store_for(source: str) -> TemplateStore:
    """An `s3://bucket/prefix` store, or the template files under a local directory."""
    if source.startswith("s3://"):
        return S3TemplateStore(lambda: client(aws_session(), "s3", retries=3), source)
    root = Path(source)
    if not root.is_dir():
        raise PreviewError(f"no template directory {root}")
    return MemoryTemplateStore.from_directory(root)


def preview(
    template: str,
    *,
    locale: str | None,
    data: Mapping[str, Any],
    out: Path,
    store: TemplateStore | None = None,
    chromium: str = CHROMIUM,
) -> Preview:
    """Render, validate and compose like the handler; write NAME.eml, NAME.html, NAME.png."""
    validator = Validator(
        Policy(),
        EmailValidatorAddresses(),
        Templates(store or store_for(str(SAMPLES)), JinjaRenderer()),
    )
    request = MessageRequest(
        sender=SENDER, recipients=(RECIPIENT,), template=template, locale=locale, data=dict(data)
    )
    try:
        command = validator.command(request)
    except NotifierError as exc:  # invalid data or template, or S3 out of reach
        raise PreviewError(str(exc)) from None
    raw = compose(
        command,
        date=datetime.now(UTC),
        message_id=message_id(unique=uuid.uuid4().hex, domain=command.sender.ascii_domain),
    )
    out.mkdir(parents=True, exist_ok=True)
    stem = f"{template}.{locale or 'default'}"
    eml = out / f"{stem}.eml"
    eml.write_bytes(raw)
    html = png = None
    if command.html is not None:
        html = out / f"{stem}.html"
        html.write_text(command.html, encoding="utf-8")
        png = screenshot(html, out / f"{stem}.png", chromium=chromium)
    return Preview(eml=eml, html=html, png=png, template_version=command.template_version)


def screenshot(html: Path, png: Path, *, chromium: str = CHROMIUM) -> Path:
    """`html` rendered by headless Chromium in an 800x1000 window, as a PNG. Run as root here,
    hence --no-sandbox; a fresh profile each time, and no network of its own."""
    if shutil.which(chromium) is None:
        raise PreviewError(f"{chromium} not found: install it with `make init.chromium`")
    png.unlink(missing_ok=True)
    with tempfile.TemporaryDirectory(prefix="notifier-chromium-") as profile:
        done = subprocess.run(  # noqa: S603 - fixed arguments, our own paths
            [
                chromium,
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                f"--user-data-dir={profile}",
                f"--screenshot={png.resolve()}",
                "--window-size=800,1000",
                html.resolve().as_uri(),
            ],
            capture_output=True,
            text=True,
            timeout=SCREENSHOT_TIMEOUT_SECONDS,
            check=False,
        )
    if done.returncode != 0 or not png.exists():
        raise PreviewError(f"chromium failed ({done.returncode}): {done.stderr[-500:]}")
    return png
