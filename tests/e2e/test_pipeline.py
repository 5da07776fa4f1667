"""Producer -> SQS or SNS -> `serve` -> handler -> SES, all real, against LocalStack."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import boto3
import pytest

from devtools.cli import main
from devtools.provision import Provisioned, sample_pdf
from devtools.runner.invokers import InProcessFunction
from devtools.runner.poller import Runner, StopFlag
from devtools.runner.queue import SqsQueue
from notifier.entrypoints.bootstrap import bootstrap
from tests.e2e.conftest import SENDER, VISIBILITY_TIMEOUT, BackgroundRunner, message, wait_until
from tests.support.ses_outbox import SentEmail, SesOutbox
from tests.support.sqs import queue_depth

pytestmark = pytest.mark.timeout(60)
ROOT = Path(__file__).parent.parent.parent


def about(token: str) -> Callable[[SentEmail], bool]:
    """Matches the emails whose subject carries `token`."""
    return lambda email: token in email.subject


def test_a_message_queued_by_a_producer_is_sent_through_ses(
    stack: Provisioned,
    runner: BackgroundRunner,
    ses_outbox: SesOutbox,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """GIVEN the runner serving the email queue
    WHEN a producer queues a message with `send --via sqs` (text, HTML and an S3 attachment)
    THEN SES sends exactly that email, once, and the message leaves the queue."""
    token = uuid.uuid4().hex[:8]
    html = tmp_path / "body.html"
    html.write_text("<h1>Facture Prête</h1><p>Facture #12345 disponible.</p>", encoding="utf-8")

    status = main(
        [
            "send",
            "--via=sqs",
            f"--queue-url={stack.queue_url}",
            "--to=user@example.com",
            "--to=accounting@example.com",
            f"--subject=Votre facture est prête {token}",
            "--text=La facture #12345 est disponible pour téléchargement.",
            f"--html-file={html}",
            "--attach=invoices/12345.pdf",
        ]
    )

    assert status == 0
    assert capsys.readouterr().out.startswith(f"queued on {stack.queue_url}: message id ")
    (sent,) = ses_outbox.wait_for(1, matching=about(token))
    assert sent.source == SENDER
    assert sent.recipients == ("user@example.com", "accounting@example.com")
    assert sent.subject == f"Votre facture est prête {token}"
    text, html_part = sent.message.get_body(("plain",)), sent.message.get_body(("html",))
    assert text is not None
    assert html_part is not None
    assert text.get_content() == "La facture #12345 est disponible pour téléchargement."
    assert html_part.get_content() == "<h1>Facture Prête</h1><p>Facture #12345 disponible.</p>"
    (attachment,) = sent.message.iter_attachments()
    assert attachment.get_filename() == "12345.pdf"
    assert attachment.get_content_type() == "application/pdf"
    assert attachment.get_payload(decode=True) == sample_pdf()
    wait_until(lambda: queue_depth(stack.queue_url) == (0, 0), timeout_s=5, what="queue empty")
    assert [line.split(" in ")[0] for line in runner.lines] == [
        "batch 1: received 1, ok 1, failed 0, deleted 1"
    ]


def test_only_messages_published_for_the_email_channel_are_sent(
    stack: Provisioned,
    runner: BackgroundRunner,
    ses_outbox: SesOutbox,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """GIVEN the queue subscribed to the topic with the filter `channel = email`
    WHEN producers publish one message with that attribute, one without and one for `sms`
    THEN only the first reaches the queue, and SES sends it (unwrapped from the SNS envelope)."""
    token = uuid.uuid4().hex[:8]
    topic = stack.topic_arn.rsplit(":", 1)[-1]
    for channel, label in (("", "no channel"), ("sms", "sms"), ("email", "email")):
        argv = ["send", "--via=sns", f"--topic-name={topic}", f"--channel={channel}"]
        argv += ["--to=user@example.com", f"--subject={token} {label}", "--text=Facture"]
        assert main(argv) == 0
    assert capsys.readouterr().out.count(f"published to {stack.topic_arn}: message id ") == 3

    (sent,) = ses_outbox.wait_for(1, matching=about(token))
    assert sent.subject == f"{token} email"
    # Give a wrongly delivered message time to arrive and be sent: nothing more may show up.
    wait_until(lambda: queue_depth(stack.queue_url) == (0, 0), timeout_s=5, what="queue empty")
    time.sleep(VISIBILITY_TIMEOUT / 2)
    assert [email.subject for email in ses_outbox.messages() if token in email.subject] == [
        f"{token} email"
    ]
    assert queue_depth(stack.queue_url) == (0, 0)


def test_a_poison_message_goes_to_the_dead_letter_queue_and_nothing_else_is_lost(
    stack: Provisioned, runner: BackgroundRunner, ses_outbox: SesOutbox
) -> None:
    """GIVEN a batch of two valid messages and one that can never be sent
    WHEN the runner handles it
    THEN the valid ones are sent once; the bad one fails on each of its 3 receives, then SQS
    moves it to the dead-letter queue; the queue ends empty."""
    token = uuid.uuid4().hex[:8]
    poison = json.dumps(message(f"{token} poison", recipient=["typo@example.com"]))
    bodies = [json.dumps(message(f"{token} one")), poison, json.dumps(message(f"{token} two"))]
    boto3.client("sqs").send_message_batch(
        QueueUrl=stack.queue_url,
        Entries=[{"Id": str(n), "MessageBody": body} for n, body in enumerate(bodies)],
    )

    wait_until(
        lambda: queue_depth(stack.dead_letter_queue_url)[0] == 1,
        timeout_s=(stack.max_receive_count + 2) * VISIBILITY_TIMEOUT + 5,
        what="the poison message in the dead-letter queue",
    )

    (dead,) = boto3.client("sqs").receive_message(
        QueueUrl=stack.dead_letter_queue_url, MessageSystemAttributeNames=["All"]
    )["Messages"]
    assert dead["Body"] == poison
    assert dead["Attributes"]["DeadLetterQueueSourceArn"] == stack.queue_arn
    assert queue_depth(stack.queue_url) == (0, 0)
    assert sorted(email.subject for email in ses_outbox.messages()) == [
        f"{token} one",
        f"{token} two",
    ]
    failures = [int(re.findall(r"failed (\d+)", line)[0]) for line in runner.lines]
    assert sum(failures) == stack.max_receive_count


def test_the_handler_gets_lambdas_sqs_event_built_from_what_sqs_returned(
    stack: Provisioned, ses_outbox: SesOutbox
) -> None:
    """A batch of one real SQS message reaches the handler in Lambda's shape: the system
    attributes, the message attributes in lower-camel form, the queue's ARN and region."""

    class Recording:
        """The real in-process handler, keeping each event it was given."""

        def __init__(self) -> None:
            self.inner = InProcessFunction(bootstrap(configure_logs=False))
            self.events: list[Mapping[str, Any]] = []

        def invoke(self, event: Mapping[str, Any], *, budget_seconds: float) -> Any:
            self.events.append(event)
            return self.inner.invoke(event, budget_seconds=budget_seconds)

    token = uuid.uuid4().hex[:8]
    body = json.dumps(message(token))
    sent = boto3.client("sqs").send_message(
        QueueUrl=stack.queue_url,
        MessageBody=body,
        MessageAttributes={"tenant": {"DataType": "String", "StringValue": "acube"}},
    )
    function = Recording()
    queue = SqsQueue.connect(boto3.client("sqs"), url=stack.queue_url)
    lines: list[str] = []
    Runner(queue=queue, function=function, wait_seconds=1, report=lines.append).run(
        StopFlag(), max_batches=1
    )

    (record,) = function.events[0]["Records"]
    assert record["messageId"] == sent["MessageId"]
    assert record["body"] == body
    assert record["md5OfBody"] == sent["MD5OfMessageBody"]
    assert record["eventSource"] == "aws:sqs"
    assert record["eventSourceARN"] == stack.queue_arn
    assert record["awsRegion"] == "us-east-1"
    assert record["attributes"]["ApproximateReceiveCount"] == "1"
    assert {"SentTimestamp", "SenderId", "ApproximateFirstReceiveTimestamp"} <= set(
        record["attributes"]
    )
    assert record["messageAttributes"] == {
        "tenant": {
            "stringValue": "acube",
            "stringListValues": [],
            "binaryListValues": [],
            "dataType": "String",
        }
    }
    assert ses_outbox.wait_for(1, matching=about(token))
    assert lines[0].startswith("batch 1: received 1, ok 1, failed 0, deleted 1 in ")


def test_send_direct_calls_the_handler_and_prints_its_response(
    stack: Provisioned, ses_outbox: SesOutbox
) -> None:
    """`python -m devtools send --via direct` invokes the handler in its own process and prints
    the direct invocation's response, whose message id is SES's."""
    token = uuid.uuid4().hex[:8]
    result = subprocess.run(
        [
            *(sys.executable, "-m", "devtools", "send", "--via=direct"),
            *("--to=user@example.com", f"--subject={token}", "--text=Facture"),
        ],
        capture_output=True,
        text=True,
        check=False,
        cwd=ROOT,
        timeout=30,
    )
    assert result.returncode == 0, result.stderr
    response = json.loads(result.stdout[result.stdout.index("{\n") :])
    (sent,) = ses_outbox.wait_for(1, matching=about(token))
    assert response == {"statusCode": 200, "messageId": sent.message_id}
