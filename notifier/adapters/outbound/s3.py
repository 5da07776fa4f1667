"""Attachments from S3: size from metadata first, content only after the size check."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from botocore.exceptions import BotoCoreError, ClientError

from notifier.adapters.outbound.aws import LazyClient, error_code
from notifier.domain.errors import AttachmentUnavailable, DependencyUnavailable

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

_MISSING = frozenset({"404", "NoSuchKey", "NotFound", "NoSuchBucket"})
_DENIED = frozenset({"403", "AccessDenied", "Forbidden"})


class S3AttachmentStore:
    """`AttachmentStore` port on S3 (botocore's own retries cover S3's transient errors).

    The client is made on first use, once, from `client_factory`."""

    def __init__(self, client_factory: Callable[[], S3Client]) -> None:
        self._lazy = LazyClient(client_factory)

    @property
    def _client(self) -> S3Client:
        return self._lazy.get()

    def size(self, bucket: str, key: str) -> int:
        try:
            return self._client.head_object(Bucket=bucket, Key=key)["ContentLength"]
        except (ClientError, BotoCoreError) as exc:
            raise _translate(exc, bucket, key) from exc

    def read(self, bucket: str, key: str) -> bytes:
        try:
            return self._client.get_object(Bucket=bucket, Key=key)["Body"].read()
        except (ClientError, BotoCoreError) as exc:
            raise _translate(exc, bucket, key) from exc


def _translate(
    exc: ClientError | BotoCoreError, bucket: str, key: str
) -> AttachmentUnavailable | DependencyUnavailable:
    if isinstance(exc, ClientError):
        code = error_code(exc)
        if code in _MISSING:
            return AttachmentUnavailable(key, f"does not exist in bucket {bucket!r}")
        if code in _DENIED:
            return AttachmentUnavailable(
                key, f"cannot be read from bucket {bucket!r} (access denied)"
            )
    return DependencyUnavailable(f"S3 failed reading an attachment: {type(exc).__name__}")
