"""Where did every input go? Exactly one place each, or the soak fails.

The places, and the evidence for each:

- **sent**: the runner logged `email.processed` with `outcome=sent` for the input's SQS message
  id, and the SES message id it logged is in LocalStack's outbox, on an email whose subject
  carries the input's token;
- **duplicate suppressed**: it logged `outcome=duplicate`, with the SES message id of an email
  in the outbox carrying the same token (sent for the other copy);
- **dead-lettered**: the input's message id is in the dead-letter queue; its reason is the one
  the runner logged for its last failed attempt.

An input in none of them is lost; in two (sent, then dead-lettered) is a bug as well; a token
on two emails in the outbox was sent twice.
"""

from __future__ import annotations

import collections
from collections.abc import Iterable, Mapping
from typing import Any

import attrs

from tests.soak.traffic import Kind, SoakInput

SENT, DUPLICATE, DEAD_LETTERED = "sent", "duplicate suppressed", "dead-lettered"


@attrs.frozen(kw_only=True)
class Reconciliation:
    inputs: int
    kinds: Mapping[Kind, int]
    places: Mapping[str, int]
    dead_letter_reasons: Mapping[str, int]
    lost: tuple[SoakInput, ...]
    sent_twice: tuple[str, ...]  # tokens
    in_two_places: tuple[SoakInput, ...]
    misplaced: tuple[str, ...]  # an invalid input sent, a valid one dead-lettered...
    strays: int  # emails of this run in the outbox, or dead letters, that belong to no input
    retried: Mapping[str, int]  # attempts that failed and were left to SQS, by reason
    put_back: int = 0  # times a message was put back on the queue to wait (a fresh copy)

    @property
    def ok(self) -> bool:
        return not (
            self.lost or self.sent_twice or self.in_two_places or self.misplaced or self.strays
        )

    def table(self) -> str:
        kinds = self.kinds
        rows = [
            ("input messages", self.inputs),
            (
                f"  of which valid {kinds.get(Kind.VALID, 0)}, second copies"
                f" {kinds.get(Kind.DUPLICATE, 0)}, invalid {kinds.get(Kind.INVALID, 0)}",
                None,
            ),
            ("sent (exactly once, found in /_aws/ses)", self.places.get(SENT, 0)),
            ("dead-lettered (in the DLQ)", self.places.get(DEAD_LETTERED, 0)),
            *(
                (f"  reason {reason}", count)
                for reason, count in sorted(self.dead_letter_reasons.items())
            ),
            ("duplicates suppressed", self.places.get(DUPLICATE, 0)),
            ("lost", len(self.lost)),
            ("sent twice", len(self.sent_twice)),
            ("in two places", len(self.in_two_places)),
            ("in the wrong place", len(self.misplaced)),
            ("emails or dead letters matching no input", self.strays),
            ("put back to wait (throttled past the retries; not failures)", self.put_back),
            (
                "attempts failed and retried by SQS: "
                + (", ".join(f"{r} {n}" for r, n in sorted(self.retried.items())) or "none"),
                None,
            ),
        ]
        width = max(len(label) for label, _ in rows)
        lines = [
            f"{label:<{width}}  {'' if count is None else f'{count:>6}'}".rstrip()
            for label, count in rows
        ]
        details = [
            *(f"LOST: {item.kind.value} {item.token} ({item.message_id})" for item in self.lost),
            *(f"SENT TWICE: {token}" for token in self.sent_twice),
            *(f"IN TWO PLACES: {item.token} ({item.message_id})" for item in self.in_two_places),
            *(f"WRONG PLACE: {text}" for text in self.misplaced),
        ]
        return "\n".join(lines + details[:50])


def reconcile(
    inputs: Iterable[SoakInput],
    *,
    outbox: Mapping[str, str],
    dead_letters: Iterable[str],
    log_records: Iterable[Mapping[str, Any]],
) -> Reconciliation:
    """`outbox`: SES message id -> token of this run's emails; `dead_letters`: the message ids
    in the DLQ (the warm-up's left out); `log_records`: the runner's decoded JSON log lines."""
    inputs = list(inputs)
    dead = set(dead_letters)
    by_id: dict[str, list[Mapping[str, Any]]] = collections.defaultdict(list)
    successor: dict[str, str] = {}  # a message put back or forwarded -> its copy
    for record in log_records:
        if record.get("event") == "email.processed" and record.get("message_id"):
            by_id[record["message_id"]].append(record)
            if record.get("copy_message_id"):
                successor[record["message_id"]] = record["copy_message_id"]
    # What happened to an input is what happened to it and to each copy it went on as.
    lineage = {item.message_id: _lineage(item.message_id, successor) for item in inputs}
    outcomes = {
        first: [record for message_id in ids for record in by_id.get(message_id, [])]
        for first, ids in lineage.items()
    }
    emails_per_token = collections.Counter(outbox.values())
    known_tokens = {item.token for item in inputs}

    places: collections.Counter[str] = collections.Counter()
    reasons: collections.Counter[str] = collections.Counter()
    lost, two_places, misplaced = [], [], []
    placed_by_token: dict[str, list[str]] = collections.defaultdict(list)
    for item in inputs:
        found = _places(item, outcomes.get(item.message_id, []), outbox, dead, lineage)
        if not found:
            lost.append(item)
            continue
        if len(found) > 1:
            two_places.append(item)
        for place in found:
            places[place] += 1
            placed_by_token[item.token].append(place)
        if DEAD_LETTERED in found:
            reasons[_reason(item, outcomes.get(item.message_id, []))] += 1
            if item.kind is not Kind.INVALID:
                misplaced.append(f"{item.kind.value} {item.token} dead-lettered")
        elif item.kind is Kind.INVALID:
            misplaced.append(f"invalid {item.token} ({item.problem}) was {found[0]}")
    for token, placed in placed_by_token.items():
        if DUPLICATE in placed and placed.count(SENT) != 1:
            misplaced.append(f"{token}: recognised as a duplicate of nothing sent once")
    return Reconciliation(
        inputs=len(inputs),
        kinds=collections.Counter(item.kind for item in inputs),
        places=places,
        dead_letter_reasons=reasons,
        lost=tuple(lost),
        sent_twice=tuple(sorted(t for t, n in emails_per_token.items() if n > 1)),
        in_two_places=tuple(two_places),
        misplaced=tuple(misplaced),
        strays=sum(n for token, n in emails_per_token.items() if token not in known_tokens)
        + len(dead - {message_id for ids in lineage.values() for message_id in ids}),
        retried=collections.Counter(
            str(record.get("reason"))
            for records in outcomes.values()
            for record in records
            if record.get("outcome") == "failed" and record.get("retryable")
        ),
        put_back=sum(
            1
            for records in outcomes.values()
            for record in records
            if record.get("outcome") == "deferred"
        ),
    )


def _lineage(message_id: str, successor: Mapping[str, str]) -> list[str]:
    """The message's queue id, then its copy's, its copy's copy's..."""
    ids = [message_id]
    while ids[-1] in successor and successor[ids[-1]] not in ids:
        ids.append(successor[ids[-1]])
    return ids


def _places(
    item: SoakInput,
    outcomes: list[Mapping[str, Any]],
    outbox: Mapping[str, str],
    dead: set[str],
    lineage: Mapping[str, list[str]],
) -> list[str]:
    found = []
    sent = [o for o in outcomes if o.get("outcome") == "sent"]
    duplicate = [o for o in outcomes if o.get("outcome") == "duplicate"]
    if any(outbox.get(o.get("ses_message_id", "")) == item.token for o in sent):
        found.append(SENT)
    elif any(outbox.get(o.get("ses_message_id", "")) == item.token for o in duplicate):
        found.append(DUPLICATE)
    if dead.intersection(lineage.get(item.message_id, [item.message_id])):
        found.append(DEAD_LETTERED)
    return found


def _reason(item: SoakInput, outcomes: list[Mapping[str, Any]]) -> str:
    failed = [o for o in outcomes if o.get("outcome") == "failed"]
    if not failed:
        return "(not logged)"
    last = failed[-1]
    fields = ", ".join(last.get("invalid_fields") or [])
    why = f"{last.get('reason')} [{fields}]" if fields else str(last.get("reason"))
    return f"{why} <- {item.problem}" if item.problem else why
