"""The `TemplateStore` port on S3 (NOTIFIER_TEMPLATES=s3://bucket/prefix), and a cache in
front of it that keeps what it read for a bounded time per execution environment.

Layout under the prefix: `TEMPLATE/template.json` (`{"default_locale": "en"}`) and
`TEMPLATE/LOCALE/subject.txt`, `text.txt`, `html.html`.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError

from notifier.adapters.outbound.aws import LazyClient, error_code
from notifier.domain.errors import DependencyUnavailable, InvalidMessage
from notifier.domain.templates import TemplateFiles, TemplateStore

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

# The function may read the prefix's objects (s3:GetObject) but not list it: S3 then answers
# a missing key with 403, not 404. Either way the file is absent.
_ABSENT = frozenset({"404", "NoSuchKey", "NotFound", "403", "AccessDenied", "Forbidden"})
TEMPLATE_CACHE_SECONDS = 60.0
MAX_TEMPLATE_FILE_BYTES = 512 * 1024


def parse_s3_url(url: str) -> tuple[str, str]:
    """`s3://bucket/prefix` -> (bucket, prefix without slashes at either end)."""
    if not url.startswith("s3://"):
        raise ValueError(f"expected s3://bucket/prefix, got {url!r}")
    bucket, _, prefix = url.removeprefix("s3://").partition("/")
    if not bucket:
        raise ValueError(f"expected s3://bucket/prefix, got {url!r}")
    return bucket, prefix.strip("/")


class S3TemplateStore:
    """Reads template files from one bucket and prefix; the client is made on first use."""

    def __init__(self, client_factory: Callable[[], S3Client], url: str) -> None:
        self._lazy = LazyClient(client_factory)
        self.bucket, self.prefix = parse_s3_url(url)

    @property
    def _client(self) -> S3Client:
        return self._lazy.get()

    def default_locale(self, name: str) -> str | None:
        found = self._read(f"{name}/template.json")
        if found is None:
            return None
        try:
            locale = json.loads(found[0])["default_locale"]
        except (ValueError, KeyError, TypeError):
            locale = None
        if not isinstance(locale, str) or not locale:
            raise InvalidMessage.one(
                "template", f"template {name!r}: its template.json has no default_locale"
            )
        return locale

    def fetch(self, name: str, locale: str) -> TemplateFiles | None:
        subject = self._read(f"{name}/{locale}/subject.txt")
        if subject is None:
            return None
        text = self._read(f"{name}/{locale}/text.txt")
        html = self._read(f"{name}/{locale}/html.html")
        versions = [("subject.txt", subject[1])]
        versions += [("text.txt", text[1])] if text else []
        versions += [("html.html", html[1])] if html else []
        return TemplateFiles(
            name=name,
            locale=locale,
            subject=subject[0],
            text=text[0] if text else None,
            html=html[0] if html else None,
            versions=tuple(versions),
        )

    def _read(self, path: str) -> tuple[str, str] | None:
        """(content, version id or ETag), or None when absent."""
        key = f"{self.prefix}/{path}" if self.prefix else path
        try:
            got = self._client.get_object(Bucket=self.bucket, Key=key)
            body = got["Body"].read(MAX_TEMPLATE_FILE_BYTES + 1)
        except ClientError as exc:
            if error_code(exc) in _ABSENT:
                return None
            raise DependencyUnavailable(f"templates: s3://{self.bucket}/{key}: {exc}") from exc
        except BotoCoreError as exc:
            raise DependencyUnavailable(f"templates: s3://{self.bucket}/{key}: {exc}") from exc
        if len(body) > MAX_TEMPLATE_FILE_BYTES:
            raise InvalidMessage.one("template", f"{key} is over {MAX_TEMPLATE_FILE_BYTES} bytes")
        version = got.get("VersionId") or got.get("ETag", "").strip('"')
        return body.decode("utf-8", "replace"), version


class CachedTemplateStore:
    """Keeps each answer (absence too) of the store behind it for `seconds`: a template
    changed in S3 is used by every execution environment within that time."""

    def __init__(
        self,
        store: TemplateStore,
        *,
        seconds: float = TEMPLATE_CACHE_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._store = store
        self._seconds = seconds
        self._clock = clock
        self._kept: dict[tuple[str, ...], tuple[float, Any]] = {}
        self._lock = threading.Lock()

    def default_locale(self, name: str) -> str | None:
        result: str | None = self._cached(
            ("default", name), lambda: self._store.default_locale(name)
        )
        return result

    def fetch(self, name: str, locale: str) -> TemplateFiles | None:
        result: TemplateFiles | None = self._cached(
            ("files", name, locale), lambda: self._store.fetch(name, locale)
        )
        return result

    def _cached(self, key: tuple[str, ...], load: Callable[[], Any]) -> Any:
        now = self._clock()
        with self._lock:
            kept = self._kept.get(key)
        if kept is not None and now - kept[0] < self._seconds:
            return kept[1]
        value = load()
        with self._lock:
            self._kept[key] = (now, value)
        return value
