"""MIME composition's shortcuts write exactly the bytes the `email` package's longer way writes.

notifier/domain/mime.py skips work that cannot change the output: compat32's folding of a
header line that needs none, `Header`'s line splitting for a text that fits one encoded word,
and MIMEText's re-parsing of its own Content-Type. Each is held here to the long way.
"""

from __future__ import annotations

import email.policy
from collections.abc import Callable
from email.header import Header
from email.mime.text import MIMEText

from hypothesis import given, settings
from hypothesis import strategies as st

from notifier.domain.mime import GENERATOR_POLICY, _text_header, _text_part

COMPAT32 = email.policy.compat32.clone(linesep="\r\n", max_line_length=78)
HEADER_NAMES = st.sampled_from(["Subject", "From", "To", "Content-Type", "X-" + "Long-Name" * 6])
# Spaces, tabs, specials and encoded-word look-alikes around the lengths where folding starts.
ASCII_VALUES = st.text(st.characters(max_codepoint=127), max_size=120) | st.text(
    st.sampled_from(" \tab=?:;,\"'"), max_size=90
)


def outcome(fold: Callable[[str, str], bytes], name: str, value: str) -> bytes | type:
    """The folded bytes, or the type of the error folding raised."""
    try:
        return fold(name, value)
    except Exception as exc:  # noqa: BLE001 - the error's type is the outcome compared
        return type(exc)


@settings(max_examples=1000, deadline=None)
@given(name=HEADER_NAMES, value=ASCII_VALUES | st.text(max_size=120))
def test_the_generator_policy_folds_as_compat32(name: str, value: str) -> None:
    """Every header value, foldable or not, becomes the bytes compat32 writes for it (or
    raises what compat32 raises: a value with an embedded header line)."""
    assert outcome(GENERATOR_POLICY.fold_binary, name, value) == outcome(
        COMPAT32.fold_binary, name, value
    )


@settings(max_examples=1000, deadline=None)
@given(text=st.text(min_size=1, max_size=120) | st.sampled_from(["Votre facture est prête", "=?x"]))
def test_a_text_header_is_written_as_header_writes_it(text: str) -> None:
    """A subject that fits one encoded word is that word: the line `Header` would write."""
    expected = COMPAT32.fold_binary("Subject", Header(text, "utf-8", header_name="Subject"))
    if text.isascii() and len(text) <= 60 and "=?" not in text:
        expected = COMPAT32.fold_binary("Subject", text)  # short ASCII stays plain text
    assert GENERATOR_POLICY.fold_binary("Subject", _text_header("Subject", text)) == expected


@settings(max_examples=300, deadline=None)
@given(
    text=st.text(st.characters(exclude_categories=("Cs",)), min_size=1, max_size=3000),
    subtype=st.sampled_from(["plain", "html"]),
    top_level=st.booleans(),
)
def test_a_text_part_is_written_as_mimetext_writes_it(
    text: str, subtype: str, *, top_level: bool
) -> None:
    """Headers and base64 body, byte for byte (bodies in MIME canonical form, CRLF)."""
    canonical = text.replace("\r\n", "\n").replace("\r", "\n").replace("\n", "\r\n")
    expected = MIMEText(canonical, subtype, "utf-8")
    if not top_level:
        del expected["MIME-Version"]
    part = _text_part(subtype, text, top_level=top_level)
    assert part.as_bytes(policy=GENERATOR_POLICY) == expected.as_bytes(policy=COMPAT32)
