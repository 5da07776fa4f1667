"""The message body (JSON) -> `MessageRequest`, with cattrs doing the structure and types.

The converter is strict: a string is never split into a list of characters, a number is never
turned into a string, and an unknown field is an error that names it (a typo such as
`recipient` must not silently drop mail).
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from typing import Any

import attrs
from cattrs import Converter
from cattrs.errors import (
    AttributeValidationNote,
    ClassValidationError,
    ForbiddenExtraKeysError,
    IterableValidationError,
    IterableValidationNote,
)

from notifier.domain.errors import FieldError, InvalidMessage
from notifier.domain.model import AttachmentRequest, MessageRequest

_converter = Converter(forbid_extra_keys=True, detailed_validation=True)


def _strict_str(value: Any, _type: type) -> str:
    if not isinstance(value, str):
        raise TypeError(f"must be a string, got {_json_type(value)}")
    return value


def _json_type(value: Any) -> str:
    names = {dict: "an object", list: "a list", str: "a string", bool: "a boolean"}
    if value is None:
        return "null"
    if isinstance(value, int | float) and not isinstance(value, bool):
        return "a number"
    return names.get(type(value), type(value).__name__)


_converter.register_structure_hook(str, _strict_str)
# cattrs would build a tuple from any iterable (a string becomes its characters): wrap its
# own tuple hooks so that only a JSON list is accepted.
_tuple_hooks = {
    t: _converter.get_structure_hook(t) for t in (tuple[str, ...], tuple[AttachmentRequest, ...])
}
_converter.register_structure_hook_func(
    lambda t: t in _tuple_hooks, lambda v, t: _tuple_hooks[t](_require_list(v), t)
)
_tags_hook = _converter.get_structure_hook(dict[str, str])
_converter.register_structure_hook_func(
    lambda t: t == dict[str, str], lambda v, t: _tags_hook(_require_object(v), t)
)
# A template's `data`: any JSON object, kept as decoded (the renderer reads it).
_converter.register_structure_hook_func(
    lambda t: t == dict[str, Any], lambda v, t: dict(_require_object(v))
)
_attachment_hook = _converter.get_structure_hook(AttachmentRequest)
_converter.register_structure_hook(
    AttachmentRequest,
    lambda v, t: _attachment_hook(_require_object(v), t),
)


def _require_list(value: Any) -> list[Any]:
    if not isinstance(value, list):
        raise TypeError(f"must be a list, got {_json_type(value)}")
    return value


def _require_object(value: Any) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise TypeError(f"must be an object, got {_json_type(value)}")
    return value


def decode_json(body: str | bytes) -> Any:
    """The decoded JSON, or `InvalidMessage` on `(body)` saying why it is not JSON."""
    try:
        return json.loads(body)
    except (ValueError, RecursionError) as exc:
        raise InvalidMessage.one("(body)", f"is not valid JSON: {_short(exc)}") from None


def parse_message(data: Any) -> MessageRequest:
    """Structure an already-decoded message; raise `InvalidMessage` naming each bad field."""
    if not isinstance(data, Mapping):
        raise InvalidMessage.one("(body)", f"must be a JSON object, got {_json_type(data)}")
    try:
        return _converter.structure(data, MessageRequest)
    except ClassValidationError as exc:
        raise InvalidMessage(_field_errors(exc, "")) from None


def dump_message(request: MessageRequest) -> str:
    """The message as producers write it, the inverse of `parse_message`: JSON without the
    optional fields left at their defaults, so that it parses back to an equal request."""
    data = _converter.unstructure(request)
    for name, default in _DEFAULTS:
        if getattr(request, name) == default:
            del data[name]
    for attachment in data.get("attachments", ()):
        for name in [name for name, value in attachment.items() if value is None]:
            del attachment[name]
    return json.dumps(data, ensure_ascii=False, separators=(",", ":"))


def _default(field: attrs.Attribute[Any]) -> Any:
    factory = getattr(field.default, "factory", None)  # attrs.Factory(dict), say
    return factory() if callable(factory) else field.default


_DEFAULTS = tuple(
    (field.name, _default(field))
    for field in attrs.fields(MessageRequest)
    if field.default is not attrs.NOTHING
)


def _field_errors(exc: BaseException, path: str) -> Iterator[FieldError]:
    if isinstance(exc, ForbiddenExtraKeysError):
        import difflib  # only for this error message: not worth its import at every cold start

        known = [f.name for f in attrs.fields(exc.cl)]
        for name in sorted(exc.extra_fields):
            close = difflib.get_close_matches(name, known, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            yield FieldError(_join(path, _printable(name)), f"is not a known field{hint}")
    elif isinstance(exc, ClassValidationError | IterableValidationError):
        with_notes, without_notes = exc.group_exceptions()
        for sub, note in with_notes:
            if isinstance(note, IterableValidationNote):
                yield from _field_errors(sub, f"{path}[{_printable(str(note.index))}]")
            elif isinstance(note, AttributeValidationNote):
                yield from _field_errors(sub, _join(path, note.name))
        for sub in without_notes:
            yield from _field_errors(sub, path)
    elif isinstance(exc, KeyError):
        yield FieldError(path, "is required")
    else:
        yield FieldError(path or "(body)", _short(exc))


def _printable(name: str) -> str:
    """A field name fit to echo back: short, and encodable (a JSON key may hold a lone
    surrogate, which Lambda could not serialise into the response)."""
    name = name if len(name) <= 64 else name[:64] + "..."
    return name.encode("utf-8", "backslashreplace").decode("utf-8")


def _join(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


def _short(exc: BaseException) -> str:
    text = str(exc)
    return text if len(text) <= 200 else text[:200] + "..."
