"""The sample events, sent through LocalStack's SES by the built tree as Lambda would run it.

The function is the tree alone (`devtools.image_tree`), started by the real runtime interface
client with the variables template.yaml sets and AWS_ENDPOINT_URL pointed at the session's
LocalStack, where the sender's domain is verified.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from devtools.execution_env import ExecutionEnvironment, FunctionConfig
from tests.image.conftest import StartFunction
from tests.support.localstack import LocalStack
from tests.support.ses_outbox import SesOutbox

pytestmark = pytest.mark.integration

EVENTS = Path(__file__).parent.parent / "events"
SUBJECT = "Votre facture est prête"


def load_event(name: str) -> Any:
    return json.loads((EVENTS / name).read_text(encoding="utf-8"))


@pytest.fixture
def function(localstack: LocalStack, start_function: StartFunction) -> ExecutionEnvironment:
    """The built tree, configured as in the README's settings, sending through LocalStack."""
    return start_function(
        FunctionConfig(
            variables={
                "AWS_ENDPOINT_URL": localstack.endpoint_url,
                "NOTIFIER_ALLOWED_SENDERS": "@acubeapi.com",
                "NOTIFIER_ATTACHMENT_BUCKETS": "acube-invoices",
                "NOTIFIER_METRICS_MODE": "emf",
            }
        )
    )


def test_the_sample_direct_event_is_sent_through_ses(
    function: ExecutionEnvironment, ses_outbox: SesOutbox
) -> None:
    """GIVEN the built tree behind the runtime interface client, SES in LocalStack
    WHEN tests/events/direct.json is invoked
    THEN the response is 200 with the SES message id, and that email is in the outbox."""
    response = function.invoke(load_event("direct.json"))

    assert set(response) == {"statusCode", "messageId"}, function.output()
    assert response["statusCode"] == 200
    (sent,) = ses_outbox.wait_for(1)
    assert (sent.message_id, sent.subject) == (response["messageId"], SUBJECT)
    assert (sent.source, sent.recipients) == ("noreply@acubeapi.com", ("user@example.com",))


def test_the_sample_sqs_batch_is_sent_with_no_item_failures(
    function: ExecutionEnvironment, ses_outbox: SesOutbox
) -> None:
    """GIVEN the built tree behind the runtime interface client, SES in LocalStack
    WHEN tests/events/sqs.json (two records) is invoked
    THEN no record is reported failed and both emails are in the outbox."""
    response = function.invoke(load_event("sqs.json"))

    assert response == {"batchItemFailures": []}, function.output()
    sent = ses_outbox.wait_for(2)
    assert sorted(email.recipients for email in sent) == [
        ("accounting@example.com",),
        ("user@example.com",),
    ]
    assert {email.subject for email in sent} == {SUBJECT}
