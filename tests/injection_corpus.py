"""Header-injection corpus: hostile subjects, display names and recipient strings (data only).

Each case puts one hostile `value` into one field of the producers' sample message and says
which outcomes are correct:

- `refuse`: a 400 whose only error is on that field, and nothing sent;
- `keep`: sent, to exactly the intended envelope recipients, with the header parsed back from
  the raw bytes exactly as given (`Subject` text, or the one mailbox's name and address);
- `either`: one of the two, both done correctly. Used where the README leaves the choice open
  (no documented limit on display names, an encoded-word-looking text) so that the test
  says what is unsafe without choosing the fix.

tests/unit/test_injection.py runs every case; its ids are the case ids.
"""

from __future__ import annotations

import base64

import attrs

INTENDED = "alice@example.com"  # the one recipient a case means to reach
SMUGGLED = "bob@example.org"  # an address an attacker tries to add
HIDDEN = "carol@example.net"  # a Bcc an attacker tries to add
SENDER = "noreply@acubeapi.com"  # the sample message's sender (allowed by the unit settings)


@attrs.frozen
class Subject:
    """Sent, with this `Subject` once decoded."""

    text: str


@attrs.frozen
class Mailbox:
    """Sent, with exactly this one mailbox in the field's header (and envelope)."""

    display_name: str
    addr_spec: str


@attrs.frozen
class Case:
    id: str
    field: str  # subject, sender, recipients, cc, bcc or reply_to
    value: str
    may_refuse: bool
    sent: Subject | Mailbox | None  # None: it must be refused

    @property
    def error_field(self) -> str:
        """The field a refusal must name: list fields are checked per item."""
        return self.field if self.field in {"subject", "sender"} else f"{self.field}[0]"


def refuse(case_id: str, field: str, value: str) -> Case:
    return Case(case_id, field, value, may_refuse=True, sent=None)


def keep(case_id: str, field: str, value: str, sent: Subject | Mailbox) -> Case:
    return Case(case_id, field, value, may_refuse=False, sent=sent)


def either(case_id: str, field: str, value: str, sent: Subject | Mailbox) -> Case:
    return Case(case_id, field, value, may_refuse=True, sent=sent)


def _b64_word(text: str) -> str:
    return "=?utf-8?b?" + base64.b64encode(text.encode()).decode() + "?="


def _domain(length: int) -> str:
    """A syntactically valid domain of exactly `length` characters (labels of at most 63)."""
    labels, left = [], length - len(".com")
    while left > 0:
        size = min(63, left if left <= 63 else left - 2)  # keep room for "." + a label
        labels.append("d" * size)
        left -= size + 1
    domain = ".".join(labels) + ".com"
    assert len(domain) == length, (len(domain), length)
    return domain


_BCC_LINE = f"Bcc: {HIDDEN}"

SUBJECTS = [
    # Line breaks of every kind end the header and start a new one: refused, never escaped.
    refuse("subject-crlf-bcc", "subject", f"Votre facture\r\n{_BCC_LINE}"),
    refuse("subject-lf-bcc", "subject", f"Votre facture\n{_BCC_LINE}"),
    refuse("subject-bare-cr-bcc", "subject", f"Votre facture\r{_BCC_LINE}"),
    refuse("subject-crlf-crlf-fake-body", "subject", "Votre facture\r\n\r\nCliquez ici"),
    refuse("subject-crlf-space-fold", "subject", "Votre facture\r\n continued"),
    refuse("subject-line-separator", "subject", f"Votre facture\u2028{_BCC_LINE}"),
    refuse("subject-paragraph-separator", "subject", f"Votre facture\u2029{_BCC_LINE}"),
    refuse("subject-nel", "subject", f"Votre facture\x85{_BCC_LINE}"),
    refuse("subject-nul", "subject", "Votre facture\x00"),
    refuse("subject-tab", "subject", "Votre\tfacture"),
    refuse("subject-vertical-tab", "subject", "Votre\x0bfacture"),
    refuse("subject-form-feed", "subject", "Votre\x0cfacture"),
    refuse("subject-escape", "subject", "\x1b[31mVotre facture"),
    refuse("subject-del", "subject", "Votre facture\x7f"),
    # Encoded-word look-alikes given literally must come back literally, not decoded into a
    # line break, a Bcc or other text (or be refused).
    either(
        "subject-encoded-word-q-crlf-bcc",
        "subject",
        "=?utf-8?q?Votre_facture=0D=0ABcc:_carol@example.net?=",
        Subject("=?utf-8?q?Votre_facture=0D=0ABcc:_carol@example.net?="),
    ),
    either(
        "subject-encoded-word-b-crlf-bcc",
        "subject",
        _b64_word(f"Votre facture\r\n{_BCC_LINE}"),
        Subject(_b64_word(f"Votre facture\r\n{_BCC_LINE}")),
    ),
    either(
        "subject-encoded-word-line-separator",
        "subject",
        "=?utf-8?q?Facture=E2=80=A8pr=C3=AAte?=",
        Subject("=?utf-8?q?Facture=E2=80=A8pr=C3=AAte?="),
    ),
    either(
        "subject-encoded-word-inside-text",
        "subject",
        "Re: =?iso-8859-1?q?Caf=E9?= au lait",
        Subject("Re: =?iso-8859-1?q?Caf=E9?= au lait"),
    ),
    either(
        "subject-encoded-word-with-non-ascii",
        "subject",
        "Facture prête =?utf-8?q?=0D=0ABcc:_x?=",
        Subject("Facture prête =?utf-8?q?=0D=0ABcc:_x?="),
    ),
    either(
        "subject-encoded-word-long",
        "subject",
        "=?utf-8?q?" + "x" * 70 + "?=",
        Subject("=?utf-8?q?" + "x" * 70 + "?="),
    ),
    keep("subject-bcc-as-text", "subject", _BCC_LINE, Subject(_BCC_LINE)),
    # RFC 5322's line limit is 998 characters; the subject limit is the same number.
    keep("subject-998-ascii", "subject", "x" * 998, Subject("x" * 998)),
    keep("subject-998-words", "subject", "a " * 498 + "ab", Subject("a " * 498 + "ab")),
    keep("subject-998-non-ascii", "subject", "é" * 998, Subject("é" * 998)),
    refuse("subject-999", "subject", "x" * 999),
    refuse("subject-100k", "subject", "x" * 100_000),
]

DISPLAY_NAMES = [
    refuse("name-crlf-bcc", "recipients", f"Alice\r\n{_BCC_LINE} <{INTENDED}>"),
    refuse("name-quoted-crlf-bcc", "recipients", f'"Alice\r\n{_BCC_LINE}" <{INTENDED}>'),
    refuse("name-bare-cr", "recipients", f"Alice\r <{INTENDED}>"),
    refuse("name-line-separator", "recipients", f"Alice\u2028Bcc <{INTENDED}>"),
    refuse("name-paragraph-separator", "recipients", f'"Alice\u2029" <{INTENDED}>'),
    refuse("name-nel", "recipients", f"Alice\x85 <{INTENDED}>"),
    either(
        "name-encoded-word",
        "recipients",
        f"=?utf-8?q?Alice?= <{INTENDED}>",
        Mailbox("=?utf-8?q?Alice?=", INTENDED),
    ),
    either(
        "name-quoted-encoded-word-crlf-bcc",
        "recipients",
        f'"=?utf-8?q?Alice=0D=0ABcc:_carol@example.net?=" <{INTENDED}>',
        Mailbox("=?utf-8?q?Alice=0D=0ABcc:_carol@example.net?=", INTENDED),
    ),
    either(
        "name-unquoted-encoded-word-crlf-bcc",
        "recipients",
        f"=?utf-8?q?Alice=0D=0ABcc:_carol@example.net?= <{INTENDED}>",
        Mailbox("=?utf-8?q?Alice=0D=0ABcc:_carol@example.net?=", INTENDED),
    ),
    keep(
        "name-escaped-quotes",
        "recipients",
        f'"Alice \\"Al\\" Martin" <{INTENDED}>',
        Mailbox('Alice "Al" Martin', INTENDED),
    ),
    keep(
        "name-quoted-comma",
        "recipients",
        f'"Martin, Alice" <{INTENDED}>',
        Mailbox("Martin, Alice", INTENDED),
    ),
    refuse("name-unquoted-comma", "recipients", f"Martin, Alice <{INTENDED}>"),
    keep(
        "name-angle-brackets",
        "recipients",
        f'"<{SMUGGLED}>" <{INTENDED}>',
        Mailbox(f"<{SMUGGLED}>", INTENDED),
    ),
    keep("name-at-sign", "recipients", f'"{SMUGGLED}" <{INTENDED}>', Mailbox(SMUGGLED, INTENDED)),
    refuse("name-unquoted-address", "recipients", f"{SMUGGLED} <{INTENDED}>"),
    keep(
        "name-backslashes",
        "recipients",
        f'"C:\\\\Users\\\\alice" <{INTENDED}>',
        Mailbox("C:\\Users\\alice", INTENDED),
    ),
    keep(
        "name-non-ascii-with-specials",
        "recipients",
        f'"Zoé, \\"la chef\\" <{SMUGGLED}>" <{INTENDED}>',
        Mailbox(f'Zoé, "la chef" <{SMUGGLED}>', INTENDED),
    ),
    # Unquoted, an ASCII name with a comma is refused (name-unquoted-comma); a non-ASCII one is
    # quoted by the address adapter first and accepted. Either is safe: one recipient.
    either(
        "name-non-ascii-unquoted-comma-address",
        "recipients",
        f"Zoé, {SMUGGLED} <{INTENDED}>",
        Mailbox(f"Zoé, {SMUGGLED}", INTENDED),
    ),
    # Display names are capped at 100 characters (written as one encoded word that must fit
    # a 998-octet line): a longer one is refused, on its field.
    refuse(
        "name-long-words",
        "recipients",
        '"' + " ".join(["Alice"] * 300) + f'" <{INTENDED}>',
    ),
    # A plain, if long, business name (one long encoded word today).
    keep(
        "name-long-non-ascii",
        "recipients",
        f"Service Comptabilité et Facturation — Société Générale des Eaux <{INTENDED}>",
        Mailbox("Service Comptabilité et Facturation — Société Générale des Eaux", INTENDED),
    ),
    refuse(
        "name-2000-ascii-no-spaces",
        "recipients",
        '"' + "N" * 2000 + f'" <{INTENDED}>',
    ),
    refuse(
        "name-500-non-ascii",
        "recipients",
        "é" * 500 + f" <{INTENDED}>",
    ),
    # The same tricks in the other address headers.
    refuse("sender-name-crlf-bcc", "sender", f"Acube\r\n{_BCC_LINE} <{SENDER}>"),
    either(
        "sender-name-quoted-encoded-word-reply-to",
        "sender",
        f'"=?utf-8?q?Acube=0D=0AReply-To:_{SMUGGLED}?=" <{SENDER}>',
        Mailbox(f"=?utf-8?q?Acube=0D=0AReply-To:_{SMUGGLED}?=", SENDER),
    ),
    keep(
        "sender-name-quoted-comma",
        "sender",
        f'"Factures, Acube" <{SENDER}>',
        Mailbox("Factures, Acube", SENDER),
    ),
    either(
        "cc-name-b-encoded-word",
        "cc",
        f'"=?utf-8?b?Qm9i?=" <{SMUGGLED}>',
        Mailbox("=?utf-8?b?Qm9i?=", SMUGGLED),
    ),
    refuse("reply_to-name-line-separator", "reply_to", f"Support\u2028 <{SMUGGLED}>"),
    keep(
        "reply_to-name-quoted-comma",
        "reply_to",
        f'"Support, Acube" <{SMUGGLED}>',
        Mailbox("Support, Acube", SMUGGLED),
    ),
]

SMUGGLED_ADDRESSES = [
    refuse("recipients-comma", "recipients", f"{INTENDED}, {SMUGGLED}"),
    refuse("recipients-crlf-bcc", "recipients", f"{INTENDED}\r\n{_BCC_LINE}"),
    refuse("recipients-lf-bcc", "recipients", f"{INTENDED}\n{_BCC_LINE}"),
    refuse("recipients-semicolon", "recipients", f"{INTENDED};{SMUGGLED}"),
    refuse("recipients-two-angle-addrs", "recipients", f"<{INTENDED}> <{SMUGGLED}>"),
    refuse("recipients-space", "recipients", f"{INTENDED} {SMUGGLED}"),
    refuse("recipients-two-mailboxes", "recipients", f'"Alice" <{INTENDED}>, "Bob" <{SMUGGLED}>'),
    refuse("recipients-trailing-address", "recipients", f"Alice <{INTENDED}>, {SMUGGLED}"),
    refuse("recipients-comment", "recipients", f"{INTENDED} ({SMUGGLED})"),
    refuse("recipients-group", "recipients", f"friends: {INTENDED}, {SMUGGLED};"),
    refuse("recipients-broken-angles", "recipients", f"{INTENDED}>, <{SMUGGLED}"),
    refuse(
        "recipients-encoded-word", "recipients", "=?utf-8?q?alice@example.com,_bob@example.org?="
    ),
    refuse("recipients-line-separator", "recipients", f"{INTENDED}\u2028{SMUGGLED}"),
    refuse("recipients-nul", "recipients", f"{INTENDED}\x00{SMUGGLED}"),
    refuse("cc-comma", "cc", f"{SMUGGLED}, {HIDDEN}"),
    refuse("bcc-crlf-to", "bcc", f"{HIDDEN}\r\nTo: {SMUGGLED}"),
    refuse("reply_to-semicolon", "reply_to", f"{SMUGGLED};{HIDDEN}"),
    refuse("sender-comma", "sender", f"{SENDER}, {SMUGGLED}"),
    refuse("sender-two-angle-addrs", "sender", f"<{SENDER}> <{SMUGGLED}>"),
    keep("cc-plain", "cc", SMUGGLED, Mailbox("", SMUGGLED)),
    keep("bcc-plain-never-in-a-header", "bcc", HIDDEN, Mailbox("", HIDDEN)),
    keep(
        "recipients-idn-domain",
        "recipients",
        "alice@münchen.de",
        Mailbox("", "alice@xn--mnchen-3ya.de"),
    ),
]

QUOTED_LOCAL_PARTS_AND_IP_LITERALS = [
    refuse("quoted-local-part-space", "recipients", '"alice martin"@example.com'),
    refuse("quoted-local-part-address", "recipients", f'"{SMUGGLED}"@example.com'),
    refuse("quoted-local-part-escaped-quote", "recipients", '"alice\\"x"@example.com'),
    refuse("quoted-local-part-with-name", "recipients", 'Alice <"alice martin"@example.com>'),
    refuse("quoted-local-part-sender", "sender", '"noreply"@acubeapi.com'),
    refuse("ip-literal-v4", "recipients", "alice@[192.0.2.1]"),
    refuse("ip-literal-v6", "recipients", "alice@[IPv6:2001:db8::1]"),
    refuse("ip-literal-with-name", "recipients", "Alice <alice@[192.0.2.1]>"),
    refuse("bare-ip-domain", "recipients", "alice@192.0.2.1"),
]

OVERLONG_ADDRESSES = [
    keep(
        "local-part-64",
        "recipients",
        "a" * 64 + "@example.com",
        Mailbox("", "a" * 64 + "@example.com"),
    ),
    # RFC 5321 4.5.3.1.1 limits a local part to 64 octets; email-validator enforces that only in
    # its strict mode. Sent to that one address, or refused: either is safe.
    either(
        "local-part-65",
        "recipients",
        "a" * 65 + "@example.com",
        Mailbox("", "a" * 65 + "@example.com"),
    ),
    keep("address-254", "recipients", "a@" + _domain(252), Mailbox("", "a@" + _domain(252))),
    refuse("domain-254", "recipients", "a@" + _domain(254)),
    refuse("address-255", "recipients", "a" * 64 + "@" + _domain(190)),
    refuse("domain-label-64", "recipients", "a@" + "d" * 64 + ".com"),
    refuse("address-10k", "recipients", "a" * 10_000 + "@example.com"),
]

CASES: tuple[Case, ...] = (
    *SUBJECTS,
    *DISPLAY_NAMES,
    *SMUGGLED_ADDRESSES,
    *QUOTED_LOCAL_PARTS_AND_IP_LITERALS,
    *OVERLONG_ADDRESSES,
)
assert len({case.id for case in CASES}) == len(CASES), "case ids must be unique"
