"""The reconciliation soak, shortened to 200 messages (`make soak` runs 5,000): tests/soak."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.soak import SoakConfig, run_soak
from tests.soak.reconcile import DEAD_LETTERED, DUPLICATE, SENT
from tests.support.localstack import LocalStack
from tests.support.moto import MotoServer

pytestmark = pytest.mark.timeout(90)
MESSAGES = 200


def test_every_soaked_message_is_in_exactly_one_place(
    localstack: LocalStack, moto: MotoServer, tmp_path: Path
) -> None:
    """GIVEN 200 messages, 10 % invalid and 5 % second copies of others, queued at once, and
    20 % of SES calls throttled
    WHEN the runner has drained the queue
    THEN each valid message was sent exactly once, each copy recognised as a duplicate, each
    invalid one dead-lettered with the reason `invalid`: lost 0, sent twice 0;
    AND the runner's memory grew less than 10 %, and its logs hold no private data."""
    result = run_soak(
        SoakConfig(messages=MESSAGES, timeout_s=60),
        localstack_url=localstack.endpoint_url,
        moto_url=moto.endpoint_url,
        workdir=tmp_path,
    )

    print(result.report())  # shown with -rP, or when the test fails
    account = result.reconciliation
    assert result.drained, result.report()
    assert (account.lost, account.sent_twice, account.in_two_places) == ((), (), ())
    assert dict(account.places) == {SENT: 170, DUPLICATE: 10, DEAD_LETTERED: 20}
    assert all(reason.startswith("invalid") for reason in account.dead_letter_reasons)
    assert account.misplaced == ()
    assert result.ses_calls["throttled"] > 0
    assert result.leaks == ()
    assert result.memory.end <= result.memory.start * 1.10, result.memory.line()
    assert result.ok
