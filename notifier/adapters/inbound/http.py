"""API Gateway HTTP API events (payload format 2.0) -> `HttpRequest`, and a request's body and
`Idempotency-Key` header -> `MessageRequest`.

What API Gateway guarantees is not assumed: the same event can come from a direct invocation,
from `sam local start-api` or from `python -m devtools serve --http`, so every field is checked.
Header names arrive in lower case from API Gateway (`sam local generate-event` writes them as
given); both are read.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Mapping
from typing import Any

import attrs

from notifier.adapters.inbound.message import decode_json, parse_message
from notifier.domain.delivery import MAX_IDEMPOTENCY_KEY_CHARS
from notifier.domain.errors import FieldError, InvalidMessage, MessageTooLarge
from notifier.domain.model import MessageRequest

# API Gateway's own payload limit; in AWS a body over Lambda's 6 MB request limit never reaches
# the function (README "The HTTP API").
MAX_BODY_BYTES = 10 * 1024 * 1024
IDEMPOTENCY_HEADER = "idempotency-key"
_TOKEN = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")  # RFC 9110 field names
_UNSAFE_VALUE = re.compile("[\x00-\x08\x0a-\x1f\x7f]")  # CR, LF and the other controls but HTAB
_PRINTABLE_ASCII = re.compile(r"[\x20-\x7e]+")
_TRACKING_PREFIX = "k."  # SES message ids are hex digits and dashes: never a dot


class InvalidRequest(Exception):
    """The HTTP request itself is unusable (not the message it carries): 400."""

    def __init__(self, field: str, message: str) -> None:
        self.errors = (FieldError(field, message),)
        super().__init__(f"{field}: {message}")


class UnsupportedMediaType(Exception):
    """The body is not declared as JSON: 415."""


@attrs.frozen(kw_only=True)
class HttpRequest:
    """One request as the function received it."""

    method: str  # upper case
    path: str  # percent-encoded as sent, without the stage's prefix
    headers: Mapping[str, str]  # names in lower case
    body: str | None = None
    base64_encoded: bool = False
    request_id: str = ""  # API Gateway's requestContext.requestId

    def header(self, name: str) -> str | None:
        """A header's value, by its lower-case name."""
        return self.headers.get(name)


def is_http_event(event: Mapping[str, Any]) -> bool:
    """An API Gateway HTTP API event, payload format 2.0 (`version` and `requestContext.http`)."""
    context = event.get("requestContext")
    return (
        event.get("version") == "2.0"
        and isinstance(context, Mapping)
        and isinstance(context.get("http"), Mapping)
    )


def parse_http_event(event: Mapping[str, Any]) -> HttpRequest:
    """The request in an HTTP API event; `InvalidRequest` if a field has the wrong type."""
    context = event["requestContext"]
    method = context["http"].get("method")
    path = event.get("rawPath", context["http"].get("path"))
    headers = event.get("headers") or {}
    body = event.get("body")
    if not isinstance(method, str) or not isinstance(path, str) or not path.startswith("/"):
        raise InvalidRequest("(event)", "requestContext.http.method and rawPath must be text")
    if not isinstance(headers, Mapping) or not all(
        isinstance(name, str) and isinstance(value, str) for name, value in headers.items()
    ):
        raise InvalidRequest("(event)", "headers must map names to text values")
    if body is not None and not isinstance(body, str):
        raise InvalidRequest("(event)", "body must be text")
    stage = context.get("stage")
    if isinstance(stage, str) and stage != "$default" and path.startswith(f"/{stage}/"):
        path = path[len(stage) + 1 :]  # a named stage's requests carry its name in rawPath
    request_id = context.get("requestId")
    return HttpRequest(
        method=method.upper(),
        path=path,
        headers={name.lower(): value for name, value in headers.items()},
        body=body,
        base64_encoded=event.get("isBase64Encoded") is True,
        request_id=request_id if isinstance(request_id, str) else "",
    )


def check_headers(request: HttpRequest) -> None:
    """Refuse a header whose name is not a token or whose value holds CR, LF or another
    control character (HTAB aside): such a request did not come through a compliant proxy."""
    for name, value in request.headers.items():
        if not _TOKEN.fullmatch(name):
            raise InvalidRequest(f"headers.{_shown(name)}", "is not a valid header name")
        if found := _UNSAFE_VALUE.search(value):
            raise InvalidRequest(
                f"headers.{name}",
                f"must not contain line breaks or control characters (found U+{ord(found[0]):04X})",
            )


def json_body(request: HttpRequest) -> Any:
    """The decoded JSON body: 415 unless declared `application/json` (UTF-8), 413 over
    `MAX_BODY_BYTES` (a base64-encoded body is measured decoded), 400 if it is not JSON."""
    media_type, _, parameters = (request.header("content-type") or "").partition(";")
    if media_type.strip().lower() != "application/json":
        raise UnsupportedMediaType("send the message as Content-Type: application/json")
    for parameter in filter(None, (p.strip() for p in parameters.split(";"))):
        name, _, value = parameter.partition("=")
        if name.strip().lower() == "charset" and value.strip().strip('"').lower() != "utf-8":
            raise UnsupportedMediaType("the only charset accepted is utf-8")
    text = request.body or ""
    if request.base64_encoded:
        _check_size(len(text) // 4 * 3 - text[-2:].count("="))
        try:
            data = base64.b64decode(text, validate=True)
        except (binascii.Error, ValueError):
            raise InvalidRequest("(body)", "isBase64Encoded is set, but it is not base64") from None
    else:
        _check_size(len(text))  # a character is at least a byte: refuse before encoding
        data = text.encode("utf-8", "surrogatepass")
        _check_size(len(data))
    try:
        decoded = data.decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidMessage.one("(body)", "is not UTF-8 text") from None
    if not decoded.strip():
        raise InvalidMessage.one("(body)", "is empty: send the message as a JSON object")
    return decode_json(decoded)


def message_request(request: HttpRequest) -> MessageRequest:
    """The message a request carries; its `Idempotency-Key` header is the message's
    `idempotency_key` (when the body has one too, the two must be equal)."""
    header = request.header(IDEMPOTENCY_HEADER)
    key = idempotency_header(header) if header is not None else None
    message = parse_message(json_body(request))
    if key is None:
        return message
    if message.idempotency_key is None:
        return attrs.evolve(message, idempotency_key=key)
    if message.idempotency_key != key:
        raise InvalidMessage.one(
            "Idempotency-Key", "must equal the body's idempotency_key when both are given"
        )
    return message


def idempotency_header(value: str) -> str:
    """The key in an `Idempotency-Key` header: a token or an RFC 8941 string (the IETF draft's
    form, `"..."`), 1 to 256 printable ASCII characters."""
    text = value.strip(" \t")
    if len(text) >= 2 and text[0] == text[-1] == '"':
        text = _sf_string(text[1:-1])
    elif '"' in text:
        text = ""
    if not text or not _PRINTABLE_ASCII.fullmatch(text) or not text.strip():
        raise InvalidMessage.one(
            "Idempotency-Key", "must be 1 to 256 printable ASCII characters, or a quoted string"
        )
    if len(text) > MAX_IDEMPOTENCY_KEY_CHARS:
        raise InvalidMessage.one(
            "Idempotency-Key", f"must be at most {MAX_IDEMPOTENCY_KEY_CHARS} characters"
        )
    return text


def tracking_id(scoped_key: str) -> str:
    """What a producer tracks a queued message by: its sender-scoped idempotency key, in a form
    fit for a URL path (and never mistaken for an SES message id)."""
    encoded = base64.urlsafe_b64encode(scoped_key.encode("utf-8", "surrogatepass"))
    return _TRACKING_PREFIX + encoded.decode("ascii").rstrip("=")


def scoped_key_of(tracking: str) -> str | None:
    """The scoped idempotency key inside a tracking id; None when it is not one."""
    if not tracking.startswith(_TRACKING_PREFIX):
        return None
    encoded = tracking[len(_TRACKING_PREFIX) :]
    try:
        raw = base64.b64decode(encoded + "=" * (-len(encoded) % 4), altchars=b"-_", validate=True)
        return raw.decode("utf-8")
    except (binascii.Error, ValueError):
        return None


def _check_size(size: int) -> None:
    if size > MAX_BODY_BYTES:
        raise MessageTooLarge.one(
            "(body)", f"is over the {MAX_BODY_BYTES}-byte limit of a request body"
        )


def _sf_string(inner: str) -> str:
    """The value of an RFC 8941 sf-string's inside; "" when it is not one."""
    out = []
    escaped = False
    for char in inner:
        if escaped:
            if char not in '"\\':
                return ""
            out.append(char)
            escaped = False
        elif char == "\\":
            escaped = True
        elif char == '"':
            return ""
        else:
            out.append(char)
    return "" if escaped else "".join(out)


def _shown(name: str) -> str:
    return name[:64].encode("ascii", "backslashreplace").decode("ascii")
