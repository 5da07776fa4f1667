"""The SES delivery options of a message, checked against SES's own rules: the idempotency
key, the configuration set, message tags, List-Unsubscribe and the priority lane."""

from __future__ import annotations

import re
import urllib.parse

from notifier.domain.model import Priority
from notifier.domain.problems import Problems

MAX_IDEMPOTENCY_KEY_CHARS = 256
MAX_TAGS = 50
_SES_NAME = re.compile(r"[A-Za-z0-9_-]{1,64}")  # configuration set names
_SES_TAG = re.compile(r"[A-Za-z0-9_-]{1,256}")  # message tag names and values


def idempotency_key(problems: Problems, key: str | None) -> None:
    """The producer's own key: one header-safe line of at most 256 characters."""
    if key is None or not problems.text_ok("idempotency_key", key, header=True):
        return
    if not key.strip():
        problems.add("idempotency_key", "must not be empty")
    elif len(key) > MAX_IDEMPOTENCY_KEY_CHARS:
        problems.add("idempotency_key", f"must be at most {MAX_IDEMPOTENCY_KEY_CHARS} characters")


def configuration_set(problems: Problems, name: str | None) -> str | None:
    """A configuration set name, as SES allows them."""
    if name is None:
        return None
    if not _SES_NAME.fullmatch(name):
        problems.add(
            "configuration_set", "must be 1 to 64 ASCII letters, digits, '_' or '-' (SES's rule)"
        )
        return None
    return name


def tags(problems: Problems, tags: dict[str, str]) -> tuple[tuple[str, str], ...]:
    """SES message tags, sorted by name."""
    if len(tags) > MAX_TAGS:
        problems.add("tags", f"at most {MAX_TAGS} tags")
        return ()
    good = []
    for name, value in sorted(tags.items()):
        if not _SES_TAG.fullmatch(name):
            # The bad name is echoed in the field: short, and encodable (a JSON key may hold a
            # lone surrogate, which Lambda could not serialise into the response).
            shown = name[:40].encode("utf-8", "backslashreplace").decode("utf-8")
            problems.add(
                f"tags.{shown}", "a tag name must be 1 to 256 ASCII letters, digits, '_' or '-'"
            )
        elif not _SES_TAG.fullmatch(value):
            problems.add(
                f"tags.{name}", "a tag value must be 1 to 256 ASCII letters, digits, '_' or '-'"
            )
        else:
            good.append((name, value))
    return tuple(good)


def list_unsubscribe(problems: Problems, uris: tuple[str, ...]) -> tuple[str, ...]:
    """At most one https URL (RFC 8058 one-click) and one mailto: URI."""
    good: dict[str, str] = {}
    for index, uri in enumerate(uris):
        field = f"list_unsubscribe[{index}]"
        if not problems.text_ok(field, uri, header=True):
            continue
        parsed = urllib.parse.urlsplit(uri)
        scheme = parsed.scheme.lower()
        if scheme == "https" and parsed.netloc and uri.isascii() and not set(uri) & set("<> "):
            kind = "https"
        elif (
            scheme == "mailto"
            and "@" in parsed.path
            and uri.isascii()
            and not set(uri) & set("<> ")
        ):
            kind = "mailto"
        else:
            problems.add(field, "must be an https:// URL or a mailto: URI (ASCII, no spaces or <>)")
            continue
        if kind in good:
            problems.add(field, f"at most one {kind} URI")
        else:
            good[kind] = uri
    return tuple(good[k] for k in ("https", "mailto") if k in good)


def priority(problems: Problems, value: str) -> Priority:
    """The lane: `transactional` (the default) or `bulk`."""
    try:
        return Priority(value)
    except ValueError:
        choices = " or ".join(repr(p.value) for p in Priority)
        problems.add("priority", f"must be {choices}")
        return Priority.TRANSACTIONAL
