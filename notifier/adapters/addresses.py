"""Address parsing with email-validator: syntax only, never DNS at run time."""

from __future__ import annotations

import functools

from email_validator import EmailNotValidError, validate_email

from notifier.domain.model import Mailbox


class EmailValidatorAddresses:
    """`AddressParser` port: RFC 5322 syntax, IDN domains to punycode, ASCII local parts only.

    SES v1 cannot deliver to non-ASCII local parts (SMTPUTF8), so they are rejected.
    """

    def parse(self, text: str, *, allow_display_name: bool) -> Mailbox:
        return _parse(text, allow_display_name)


# Most messages of a sender repeat its address: the parse (about 50 µs) is cached. Only valid
# addresses are kept (an exception is not cached), so the cache cannot grow with bad input.
@functools.lru_cache(maxsize=4096)
def _parse(text: str, allow_display_name: bool) -> Mailbox:
    try:
        valid = validate_email(
            _quote_utf8_display_name(text) if allow_display_name else text,
            check_deliverability=False,
            allow_smtputf8=False,
            allow_display_name=allow_display_name,
            strict=True,  # also enforces RFC 5321's 64-octet local part
        )
    except EmailNotValidError as exc:
        raise ValueError(f"{_describe(text)} is not a valid address: {exc}") from None
    return Mailbox(
        local_part=valid.local_part,
        ascii_domain=valid.ascii_domain,
        display_name=valid.display_name or "",
    )


# `Zoé <z@example.fr>`: RFC 6532 allows UTF-8 in an unquoted display name, email-validator only
# in a quoted one, so such a name (with no quote, backslash or angle bracket of its own) is
# quoted first. String operations, not a regex: linear in the input, whatever its length.
def _quote_utf8_display_name(text: str) -> str:
    if not text.endswith(">"):
        return text
    name, bracket, address = text.rpartition("<")
    if not bracket or name.isascii() or any(c in name for c in '"\\<>'):
        return text
    return f'"{name.strip()}" <{address}'


def _describe(text: str) -> str:
    """Name the value without echoing a whole (possibly huge) string back into errors and logs."""
    return repr(text) if len(text) <= 80 else f"{text[:40]!r}... ({len(text)} characters)"
