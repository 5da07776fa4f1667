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


_ADDRESS = re.compile(r"""[^\s<>"'(),;:\[\]]+@[^\s<>"'(),;:\[\]]+""")


def redact(text: str) -> str:
    """Mask every address-like token in free text (error messages from AWS or validation)."""
    return _ADDRESS.sub(lambda m: mask_address(m[0]), text)
