"""Per-producer limits: the NOTIFIER_PRODUCER_LIMITS grammar, and who a message counts against."""

from __future__ import annotations

from typing import Any

import pytest

from notifier.domain.limits import Limit, LimitTable, parse_limits, producer_of
from notifier.domain.model import Mailbox, SendEmail


def command(sender_domain: str = "Billing.Example.com", **changes: Any) -> SendEmail:
    """A validated message from noreply@`sender_domain` to one recipient."""
    fields: dict[str, Any] = {
        "idempotency_key": "noreply@billing.example.com#key:k1",
        "content_hash": "h1",
        "sender": Mailbox(local_part="noreply", ascii_domain=sender_domain),
        "to": (Mailbox(local_part="user", ascii_domain="example.org"),),
        "subject": "Invoice",
        "text": "Hello",
    }
    return SendEmail(**{**fields, **changes})


# parse_limits


def test_every_part_of_the_grammar() -> None:
    """GIVEN a rate and a daily limit, a daily limit alone, a rate alone with a fraction, and
    a default, with spaces and capitals anywhere WHEN parsed THEN each producer has its limit,
    named lower-case, and `*` is the default."""
    table = parse_limits(
        " billing = 20/s , 50000/d ;News.Example.COM=5000/d;  *=0.5 / S ; ops=.25/s,10/D "
    )

    assert table == LimitTable(
        by_producer={
            "billing": Limit(per_second=20.0, per_day=50_000),
            "news.example.com": Limit(per_day=5000),
            "ops": Limit(per_second=0.25, per_day=10),
        },
        default=Limit(per_second=0.5),
    )


@pytest.mark.parametrize("text", ["", "   ", ";", " ; ; "])
def test_no_text_means_no_limits(text: str) -> None:
    """An empty setting (or only separators) limits no producer."""
    table = parse_limits(text)

    assert table.empty
    assert table.for_producer("billing") is None


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("billing", "entry 'billing' is not NAME=RATE/s,DAY/d"),
        ("=10/s", "entry '=10/s' is not NAME=RATE/s,DAY/d"),
        ("my team=10/s", "entry 'my team=10/s' is not NAME=RATE/s,DAY/d"),
        (
            "a=b=10/s",
            "entry 'a=b=10/s': 'b=10/s' is neither RATE/s (recipients a second, a number)"
            " nor DAY/d (recipients a UTC day, a whole number)",
        ),
        (
            "billing=",
            "entry 'billing=': '' is neither RATE/s (recipients a second, a number)"
            " nor DAY/d (recipients a UTC day, a whole number)",
        ),
        (
            "billing=10/m",
            "entry 'billing=10/m': '10/m' is neither RATE/s (recipients a second, a number)"
            " nor DAY/d (recipients a UTC day, a whole number)",
        ),
        (
            "billing=1.5/d",
            "entry 'billing=1.5/d': '1.5/d' is neither RATE/s (recipients a second, a number)"
            " nor DAY/d (recipients a UTC day, a whole number)",
        ),
        (
            "billing=-1/s",
            "entry 'billing=-1/s': '-1/s' is neither RATE/s (recipients a second, a number)"
            " nor DAY/d (recipients a UTC day, a whole number)",
        ),
        (
            "billing=10/s,",
            "entry 'billing=10/s,': '' is neither RATE/s (recipients a second, a number)"
            " nor DAY/d (recipients a UTC day, a whole number)",
        ),
        ("billing=0/s", "entry 'billing=0/s': the rate must be above 0 recipients/s"),
        ("billing=0.0/s", "entry 'billing=0.0/s': the rate must be above 0 recipients/s"),
        ("billing=0/d", "entry 'billing=0/d': the daily limit must be at least 1 recipient"),
        ("billing=1/s,2/s", "entry 'billing=1/s,2/s' gives a rate (/s) twice"),
        ("billing=1/d,2/d", "entry 'billing=1/d,2/d' gives a daily limit (/d) twice"),
        ("billing=1/s; Billing=2/s", "entry 'Billing=2/s': billing is given more than once"),
        ("*=1/s; * = 2/s", "entry '* = 2/s': * is given more than once"),
    ],
)
def test_bad_entries_are_named_in_the_error(text: str, message: str) -> None:
    """GIVEN a setting with one bad entry WHEN parsed THEN one ValueError names that entry and
    says what is wrong with it."""
    with pytest.raises(ValueError, match=r"^entry ") as raised:
        parse_limits(f"ok=1/s; {text}")

    assert str(raised.value) == message


# LimitTable


def test_a_producer_not_named_takes_the_default() -> None:
    """GIVEN a named producer and a default WHEN producers are looked up THEN the named one
    has its own limit (whatever the case asked for) and any other the default."""
    table = parse_limits("billing=20/s; *=5/s")

    assert table.for_producer("Billing") == Limit(per_second=20.0)
    assert table.for_producer("news.example.com") == Limit(per_second=5.0)


def test_without_a_default_a_producer_not_named_is_unlimited() -> None:
    """GIVEN no `*` entry WHEN a producer not named is looked up THEN it has no limit."""
    table = parse_limits("billing=20/s")

    assert not table.empty
    assert table.for_producer("news.example.com") is None


@pytest.mark.parametrize(
    ("limit", "capacity"),
    [(Limit(per_second=20.0), 20.0), (Limit(per_second=0.2), 1.0), (Limit(per_day=9), 1.0)],
)
def test_the_burst_is_one_second_s_worth_and_at_least_one(limit: Limit, capacity: float) -> None:
    """The bucket holds one second of the rate, and at least one recipient so that a rate
    under 1/s can still send a message."""
    assert limit.capacity == capacity


# producer_of


def test_the_tenant_tag_names_the_producer() -> None:
    """GIVEN a `tenant` tag WHEN the producer is asked for THEN it is the tag, lower-case."""
    tagged = command(tags=(("campaign", "x"), ("tenant", "Billing")))

    assert producer_of(tagged) == "billing"


@pytest.mark.parametrize("tags", [(), (("campaign", "x"),), (("tenant", ""),), (("tenant", " "),)])
def test_without_a_tenant_the_sender_s_domain_names_the_producer(
    tags: tuple[tuple[str, str], ...],
) -> None:
    """GIVEN no `tenant` tag, or an empty one WHEN the producer is asked for THEN it is the
    sender's domain (ASCII), lower-case."""
    assert producer_of(command(tags=tags)) == "billing.example.com"
