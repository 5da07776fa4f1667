"""Read the mail that LocalStack's SES has "sent", from its endpoint `/_aws/ses`.

The tests assert on it; `make run` prints it (`devtools.mailview`).

What LocalStack 2026.3.0 answers (measured against send_raw_email):

`GET {endpoint}/_aws/ses` gives 200 and `{"messages": [record, ...]}`, in send order, for every
account and region of that LocalStack. A send_raw_email record has exactly five keys::

    {
      "Id": "gipklkcprglnnhhr-lgspireq-pdci-imet-srql-zsgrrsqpcdmr-ixzfij",
      "Region": "us-east-1",
      "Source": "noreply@acubeapi.com",
      "RawData": "From: noreply@acubeapi.com\\nTo: user@example.com\\nSubject: ...",
      "Timestamp": "2026-11-28T04:12:10"
    }

- `Id` is the very string send_raw_email returned as `MessageId`.
- `RawData` is the MIME message exactly as sent (headers, Bcc included), decoded as UTF-8.
- `Source` is the `Source` argument; without one, LocalStack copies the first line of the
  message containing "From:", display name and all (`Acube <noreply@acubeapi.com>`).
- `Timestamp` is UTC without a zone, to the second.
- There is no `Destination`: the `Destinations` argument is not kept, so a recipient passed only
  there cannot be seen. `SentEmail.recipients` is therefore read from the To, Cc and Bcc headers.
- A send_email (not raw) record has `Destination`, `Subject` and `Body` instead of `RawData`;
  the notifier only sends raw MIME, and this reader refuses such records.

`GET ...?id=ID` and `GET ...?email=SOURCE` (exact match on `Source`) filter. `DELETE
{endpoint}/_aws/ses` empties the outbox (204); `DELETE ...?id=ID` removes one message, and an
unknown id answers 500.
"""

from __future__ import annotations

import json
import time
import urllib.request
from collections.abc import Callable
from datetime import UTC, datetime
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from typing import Any

import attrs

OUTBOX_PATH = "/_aws/ses"
HTTP_TIMEOUT_S = 5.0
POLL_INTERVAL_S = 0.1


@attrs.frozen
class SentEmail:
    """One message that LocalStack's SES accepted through send_raw_email."""

    message_id: str
    source: str
    recipients: tuple[str, ...]
    region: str
    sent_at: datetime
    message: EmailMessage
    raw: bytes = attrs.field(default=b"", repr=False)  # RawData as LocalStack keeps it, UTF-8

    @property
    def size(self) -> int:
        """Bytes of the raw message."""
        return len(self.raw)

    @property
    def subject(self) -> str:
        """The decoded Subject header, or "" when there is none."""
        return str(self.message.get("Subject", ""))


def _every_message(_: SentEmail) -> bool:
    return True


@attrs.frozen
class SesOutbox:
    """The SES outbox of one LocalStack, read over HTTP.

    `endpoint_url` is the http URL of a LocalStack the caller started (hence the S310 noqas).
    """

    endpoint_url: str

    def messages(self) -> list[SentEmail]:
        """Every message sent since the outbox was last cleared, oldest first."""
        with urllib.request.urlopen(self._url(), timeout=HTTP_TIMEOUT_S) as response:  # noqa: S310
            body: dict[str, list[dict[str, Any]]] = json.load(response)
        return [_sent_email(record) for record in body["messages"]]

    def clear(self) -> None:
        """Forget every message sent so far."""
        request = urllib.request.Request(self._url(), method="DELETE")  # noqa: S310
        with urllib.request.urlopen(request, timeout=HTTP_TIMEOUT_S):  # noqa: S310
            pass

    def wait_for(
        self,
        count: int = 1,
        *,
        matching: Callable[[SentEmail], bool] = _every_message,
        timeout_s: float = 10.0,
    ) -> list[SentEmail]:
        """Poll until at least `count` messages satisfy `matching`; return all that do.

        Raises AssertionError after `timeout_s`, listing what was in the outbox.
        """
        deadline = time.monotonic() + timeout_s
        while True:
            sent = self.messages()
            found = [email for email in sent if matching(email)]
            if len(found) >= count:
                return found
            if time.monotonic() >= deadline:
                seen = "\n".join(f"  {_summary(email)}" for email in sent) or "  (empty)"
                raise AssertionError(
                    f"expected {count} matching message(s) within {timeout_s} s, found "
                    f"{len(found)}; the outbox holds:\n{seen}"
                )
            time.sleep(POLL_INTERVAL_S)

    def _url(self) -> str:
        return self.endpoint_url.rstrip("/") + OUTBOX_PATH


def _sent_email(record: dict[str, Any]) -> SentEmail:
    if "RawData" not in record:
        raise ValueError(f"SES message {record.get('Id')} was not sent with send_raw_email")
    raw = record["RawData"].encode("utf-8")
    message = BytesParser(_class=EmailMessage, policy=policy.default).parsebytes(raw)
    return SentEmail(
        message_id=record["Id"],
        source=record["Source"],
        recipients=_header_recipients(message),
        region=record["Region"],
        sent_at=datetime.fromisoformat(record["Timestamp"]).replace(tzinfo=UTC),
        message=message,
        raw=raw,
    )


def _header_recipients(message: EmailMessage) -> tuple[str, ...]:
    return tuple(
        address.addr_spec
        for name in ("To", "Cc", "Bcc")
        for header in message.get_all(name, [])
        for address in header.addresses
    )


def _summary(email: SentEmail) -> str:
    recipients = ", ".join(email.recipients)
    return f"{email.message_id}: {email.source} -> {recipients}: {email.subject!r}"
