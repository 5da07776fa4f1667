"""Per-producer sending limits: who a message counts against, and how much each may send.

A producer is the message's `tenant` tag when it has one, else its sender's domain. Limits
count recipients (SES's quota does), per second and per UTC day, and are configured as one
string (NOTIFIER_PRODUCER_LIMITS), for example:

    billing=20/s,50000/d; news.example.com=5000/d; *=5/s

Entries are separated by `;`; each names a producer (a tenant or a domain, compared
lower-case) or `*`, the limit of every producer not named. A producer not named, with no `*`,
is not limited. Either part of an entry may be left out: `billing=20/s` has no daily limit.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping

import attrs

from notifier.domain.model import SendEmail
from notifier.domain.tracking import TENANT_TAG

DEFAULT_PRODUCER = "*"
_RATE = re.compile(r"(?P<rate>\d+(?:\.\d*)?|\.\d+)\s*/\s*s", re.IGNORECASE)
_DAY = re.compile(r"(?P<day>\d+)\s*/\s*d", re.IGNORECASE)


def producer_of(command: SendEmail) -> str:
    """The producer a message counts against: its `tenant` tag, else its sender's domain;
    lower-case either way, as limits are configured."""
    tenant = dict(command.tags).get(TENANT_TAG, "").strip()
    return (tenant or command.sender.ascii_domain).lower()


@attrs.frozen
class Limit:
    """How much one producer may send: `per_second` recipients per second (None: no rate
    limit), `per_day` recipients per UTC day (None: no daily limit)."""

    per_second: float | None = None
    per_day: int | None = None

    @property
    def capacity(self) -> float:
        """The burst: one second's worth of recipients, and at least one recipient, so that a
        rate below 1/s can still send."""
        return max(self.per_second or 0.0, 1.0)


@attrs.frozen
class LimitTable:
    """The configured limits, by producer name (lower-case), and the default for the rest."""

    by_producer: Mapping[str, Limit] = attrs.field(factory=dict)
    default: Limit | None = None

    @property
    def empty(self) -> bool:
        """No producer is limited at all."""
        return not self.by_producer and self.default is None

    def for_producer(self, name: str) -> Limit | None:
        """The producer's limit, the default one if it is not named, or None: unlimited."""
        return self.by_producer.get(name.lower(), self.default)


def parse_limits(text: str) -> LimitTable:
    """The table `text` describes (see the module docstring); raise `ValueError` naming the
    first entry that is not understood."""
    by_producer: dict[str, Limit] = {}
    for raw in text.split(";"):
        entry = raw.strip()
        if not entry:
            continue
        name, equals, spec = (part.strip() for part in entry.partition("="))
        name = name.lower()
        if not equals or not name or re.search(r"[\s=,/]", name):
            raise ValueError(f"entry {entry!r} is not NAME=RATE/s,DAY/d")
        if name in by_producer:
            raise ValueError(f"entry {entry!r}: {name} is given more than once")
        by_producer[name] = _limit(entry, spec)
    default = by_producer.pop(DEFAULT_PRODUCER, None)
    return LimitTable(by_producer=by_producer, default=default)


def _limit(entry: str, spec: str) -> Limit:
    per_second: float | None = None
    per_day: int | None = None
    for part in (part.strip() for part in spec.split(",")):
        if rate := _RATE.fullmatch(part):
            if per_second is not None:
                raise ValueError(f"entry {entry!r} gives a rate (/s) twice")
            per_second = float(rate["rate"])
            if not 0 < per_second < math.inf:
                raise ValueError(f"entry {entry!r}: the rate must be above 0 recipients/s")
        elif day := _DAY.fullmatch(part):
            if per_day is not None:
                raise ValueError(f"entry {entry!r} gives a daily limit (/d) twice")
            per_day = int(day["day"])
            if per_day <= 0:
                raise ValueError(f"entry {entry!r}: the daily limit must be at least 1 recipient")
        else:
            raise ValueError(
                f"entry {entry!r}: {part!r} is neither RATE/s (recipients a second, a number)"
                " nor DAY/d (recipients a UTC day, a whole number)"
            )
    return Limit(per_second=per_second, per_day=per_day)
