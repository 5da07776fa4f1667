"""The quota soak, shortened (`make soak.quota` runs 5,000 bulk and 200 transactional):
tests/soak/quota.py. It needs issue 14's function (the `priority` field, the bulk lane,
NOTIFIER_PRODUCER_LIMITS): until then the bulk messages are refused and dead-lettered."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.soak.producers import A, B
from tests.soak.quota import QuotaConfig, run_quota_soak
from tests.soak.quota_account import B_P95_BOUND_S
from tests.support.localstack import LocalStack
from tests.support.moto import MotoServer

pytestmark = pytest.mark.timeout(120)
BULK, TRANSACTIONAL = 300, 30


def test_a_bulk_flood_leaves_a_fair_share_of_ses_to_a_transactional_producer(
    localstack: LocalStack, moto: MotoServer, tmp_path: Path
) -> None:
    """GIVEN producer A (tenant campaigns, limit 10/s) queueing 300 bulk messages at once, a
    tenth of them on the transactional queue, and producer B (tenant auth, limit 4/s) sending
    30 transactional ones at 2 a second from 3 s in, through an SES taking 14 recipients a
    second, two runners on the transactional queue and one on the bulk queue
    WHEN the queues have drained
    THEN every message was sent exactly once and none dead-lettered or left queued; B's 95th
    percentile from enqueue to SES is within 5 s; A never sent more in a 1, 10 or 60 s window
    than its limit allows; the runners' logs hold no private data."""
    result = run_quota_soak(
        QuotaConfig(bulk=BULK, transactional=TRANSACTIONAL, timeout_s=80),
        localstack_url=localstack.endpoint_url,
        moto_url=moto.endpoint_url,
        workdir=tmp_path,
    )

    print(result.report())  # shown with -rP, or when the test fails
    account = result.account
    assert result.drained, result.report()
    assert (account.lost, account.sent_twice, account.still_queued) == ((), (), ()), result.report()
    assert account.dead == 0, result.report()
    assert dict(account.sent) == {A.name: BULK, B.name: TRANSACTIONAL}, result.report()
    assert result.b_latency.p95 <= B_P95_BOUND_S, result.report()
    assert all(most <= allowed for _w, most, allowed in result.a_windows), result.report()
    assert result.leaks == ()
    assert result.ok, result.report()
