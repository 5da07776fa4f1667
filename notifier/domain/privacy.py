"""Personal data in logs: addresses are masked, never written in full."""

from __future__ import annotations

import re


def mask_address(address: str) -> str:
    """`user@example.com` -> `u***@example.com`; anything unparseable -> `***`."""
    local, at, domain = address.strip().rpartition("@")
    if not at or not local or not domain:
        return "***"
    local = local.rsplit("<", 1)[-1].strip().strip('"')
    domain = domain.rstrip(">").strip()
    return f"{local[:1]}***@{domain}" if local and domain else "***"


# Bounded repetitions keep every pattern linear in the text's length (a log line may carry an
# attacker's 256 KB string); only the text around an "@" is ever examined.
_AT = re.compile("@")
_QUOTED_LOCAL = re.compile(r'"[^"\r\n]{0,128}"@')
_LOCAL = re.compile(r"""[^\s<>"'(),;:\[\]]{1,128}$""")
_DOMAIN = re.compile(r"""\[[^\]\s]{0,128}\]|[^\s<>"'(),;:\[\]@]{1,255}""")


def redact(text: str) -> str:
    """Mask every address in free text (error messages from AWS or validation), quoted local
    parts and IP-literal domains included: only the local part's first character is kept."""
    if "@" not in text:
        return text
    out: list[str] = []
    position = 0
    for match in _AT.finditer(text):
        at = match.start()
        if at < position:
            continue  # inside an address already masked
        quoted = _QUOTED_LOCAL.search(text, max(position, at - 130), at + 1)
        if quoted is not None and quoted.end() == at + 1:
            start = quoted.start()
        else:
            local = _LOCAL.search(text, max(position, at - 128), at)
            if local is None:
                continue
            start = local.start()
        domain = _DOMAIN.match(text, at + 1)
        if domain is None:
            continue
        out += [text[position:start], mask_address(text[start : domain.end()])]
        position = domain.end()
    out.append(text[position:])
    return "".join(out)
