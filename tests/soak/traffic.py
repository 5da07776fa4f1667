"""The soak's input: N producer messages, some invalid, some sent twice, each traceable.

Every message carries a token of its own in its subject (and in its recipient's address and
its body), so the email SES sent for it, its DLQ copy and its log lines can all be found again.
A duplicate is the same content as an earlier message, queued again: another SQS message id,
the same token, the same idempotency key (the content hash).
"""

from __future__ import annotations

import enum
import json
import random
from collections.abc import Callable
from typing import Any

import attrs

from tests.support.privacy import ADDRESS, PrivateData

BUCKET = "acube-invoices"
SAMPLE_KEY = "invoices/12345.pdf"  # what provision(sample_attachment=True) uploads


class Kind(enum.Enum):
    VALID = "valid"
    DUPLICATE = "duplicate"  # the second copy of a VALID message
    INVALID = "invalid"


@attrs.frozen(kw_only=True)
class SoakInput:
    """One message the soak queues; `message_id` is SQS's once it is queued."""

    index: int
    kind: Kind
    token: str
    body: str
    problem: str = ""  # for INVALID: what is wrong with it
    message_id: str = ""


def _valid(run: str, token: str, index: int) -> dict[str, Any]:
    message: dict[str, Any] = {
        "sender": f"Soak {run} <soak-{run}@acubeapi.com>",
        "recipients": [f"Client {token} <client-{token}@example.com>"],
        "subject": f"soak {run} {token}",
        "text_content": f"BODY-{token}: la facture #{index} est disponible pour téléchargement.",
    }
    if index % 7 == 0:
        message["cc"] = [f"cc-{token}@example.org"]
    if index % 5 == 0:
        message["html_content"] = f"<h1>Facture</h1><p>HTML-{token} #{index} disponible.</p>"
    if index % 50 == 0:
        message["bucket_name"] = BUCKET
        message["attachments"] = [{"key": SAMPLE_KEY, "filename": f"facture-{index}.pdf"}]
    return message


def _invalid_cases(run: str, token: str) -> list[tuple[str, Callable[[dict[str, Any]], Any]]]:
    """(problem, how to spoil a valid message): each a permanent, field-level refusal."""
    return [
        ("not JSON", lambda m: f"to: client-{token}@example.com, BODY-{token}, not JSON"),
        ("no subject", lambda m: {k: v for k, v in m.items() if k != "subject"}),
        ("bad address", lambda m: {**m, "recipients": [f"client-{token}@@example.com"]}),
        ("sender not allowed", lambda m: {**m, "sender": f"soak-{run}@evil.example"}),
        (
            "bucket not allowed",
            lambda m: {
                **m,
                "bucket_name": "someone-elses-bucket",
                "attachments": [{"key": "payroll/2026.pdf"}],
            },
        ),
        ("header injection", lambda m: {**m, "subject": f"soak {token}\r\nBcc: x@evil.example"}),
        ("unknown field", lambda m: {**m, "recipient": m["recipients"]}),
        ("no body", lambda m: {k: v for k, v in m.items() if not k.endswith("_content")}),
    ]


def build(
    *, messages: int, run: str, seed: int, invalid: float, duplicates: float
) -> list[SoakInput]:
    """`messages` inputs in a shuffled order, with those shares of invalid and duplicates."""
    rng = random.Random(seed)  # noqa: S311 - a reproducible mix, not cryptography
    n_invalid = round(messages * invalid)
    n_duplicates = round(messages * duplicates)
    n_valid = messages - n_invalid - n_duplicates
    if n_duplicates > n_valid:
        raise ValueError("more duplicates than messages to duplicate")
    inputs: list[SoakInput] = []
    for index in range(n_valid):
        token = f"v{index:05d}x{rng.randrange(16**6):06x}"
        body = json.dumps(_valid(run, token, index), ensure_ascii=False)
        inputs.append(SoakInput(index=len(inputs), kind=Kind.VALID, token=token, body=body))
    for original in rng.sample(inputs, n_duplicates):
        inputs.append(
            SoakInput(
                index=len(inputs), kind=Kind.DUPLICATE, token=original.token, body=original.body
            )
        )
    for number in range(n_invalid):
        token = f"i{number:05d}x{rng.randrange(16**6):06x}"
        problem, spoil = _invalid_cases(run, token)[number % 8]
        spoiled = spoil(_valid(run, token, n_valid + number))
        body = spoiled if isinstance(spoiled, str) else json.dumps(spoiled, ensure_ascii=False)
        inputs.append(
            SoakInput(index=len(inputs), kind=Kind.INVALID, token=token, body=body, problem=problem)
        )
    rng.shuffle(inputs)
    return inputs


def private_data(inputs: list[SoakInput]) -> PrivateData:
    """The addresses and bodies of every input: none may reach the runner's logs."""
    private = PrivateData()
    for item in inputs:
        try:
            message = json.loads(item.body)
        except ValueError:
            private.add_content(item.body)  # the non-JSON body, address and all
            private.addresses.update(ADDRESS.findall(item.body))
            continue
        private.add_message(message)
    return private
