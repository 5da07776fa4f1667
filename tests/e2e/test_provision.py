"""`provision` creates the local stand-in for the stack, and a second run changes nothing."""

from __future__ import annotations

import json
import uuid
from typing import Any

import attrs
import boto3
import pytest

from devtools.cli import main
from devtools.provision import (
    SAMPLE_ATTACHMENT_KEY,
    ProvisionConfig,
    provision,
    sample_pdf,
)
from notifier.adapters.outbound.aws import aws_session

pytestmark = pytest.mark.timeout(60)


def fresh(**settings: Any) -> ProvisionConfig:
    """A configuration whose queues (the bulk lane's too) and topic no other test uses."""
    name = f"e2e-{uuid.uuid4().hex[:12]}"
    return ProvisionConfig(
        **{
            "queue_name": name,
            "dead_letter_queue_name": f"{name}-dlq",
            "bulk_queue_name": f"{name}-bulk",
            "bulk_dead_letter_queue_name": f"{name}-bulk-dlq",
            "topic_name": name,
            **settings,
        }
    )


def test_provisioning_creates_everything_and_a_second_run_changes_nothing() -> None:
    """GIVEN nothing WHEN provisioned THEN the queue redrives to its DLQ after 3 receives, the
    topic feeds the queue through the filter channel=email, SES knows the sender domain and
    the bucket holds the sample invoice; the same call again changes nothing."""
    bucket = f"e2e-{uuid.uuid4().hex[:12]}"
    config = fresh(
        visibility_timeout=5,
        sender_domains=("acubeapi.com", "example.org"),
        bucket=bucket,
        sample_attachment=True,
    )

    first = provision(aws_session(), config=config)
    again = provision(aws_session(), config=config)

    assert first.changes
    assert again.changes == ()
    assert again == attrs.evolve(first, changes=())
    sqs, sns, s3 = boto3.client("sqs"), boto3.client("sns"), boto3.client("s3")
    attributes = sqs.get_queue_attributes(QueueUrl=first.queue_url, AttributeNames=["All"])[
        "Attributes"
    ]
    assert attributes["VisibilityTimeout"] == "5"
    redrive = json.loads(attributes["RedrivePolicy"])
    assert redrive["deadLetterTargetArn"] == first.dead_letter_queue_arn
    assert int(redrive["maxReceiveCount"]) == 3
    (statement,) = json.loads(attributes["Policy"])["Statement"]
    assert statement["Condition"] == {
        "ArnEquals": {"aws:SourceArn": [first.topic_arn, first.feedback_topic_arn]}
    }
    subscription = sns.get_subscription_attributes(SubscriptionArn=first.subscription_arn)
    assert subscription["Attributes"]["Endpoint"] == first.queue_arn
    assert json.loads(subscription["Attributes"]["FilterPolicy"]) == {"channel": ["email"]}
    assert subscription["Attributes"]["FilterPolicyScope"] == "MessageAttributes"
    domains = boto3.client("ses").list_identities(IdentityType="Domain")["Identities"]
    assert {"acubeapi.com", "example.org"} <= set(domains)
    pdf = s3.get_object(Bucket=bucket, Key=SAMPLE_ATTACHMENT_KEY)
    assert pdf["ContentType"] == "application/pdf"
    assert pdf["Body"].read() == sample_pdf()


def test_a_changed_setting_is_corrected_in_place() -> None:
    """Provisioning with another visibility timeout updates the queue instead of failing
    (CreateQueue alone refuses an existing queue with different attributes)."""
    config = fresh(visibility_timeout=5)
    first = provision(aws_session(), config=config)

    changed = provision(aws_session(), config=attrs.evolve(config, visibility_timeout=9))

    assert changed.changes == (
        f"set VisibilityTimeout of queue {config.queue_name}",
        f"set VisibilityTimeout of queue {config.bulk_queue_name}",
    )
    assert changed.queue_url == first.queue_url
    attributes = boto3.client("sqs").get_queue_attributes(
        QueueUrl=first.queue_url, AttributeNames=["VisibilityTimeout"]
    )["Attributes"]
    assert attributes["VisibilityTimeout"] == "9"


def test_the_bulk_lane_has_the_email_queues_settings_and_dead_letters_of_its_own() -> None:
    """GIVEN a bulk queue name WHEN provisioned THEN the bulk queue has the email queue's
    visibility timeout and retention and redrives to its own dead-letter queue after the same
    3 receives; no topic feeds it. GIVEN no bulk queue name THEN there is no bulk lane."""
    config = fresh(visibility_timeout=5)

    done = provision(aws_session(), config=config)
    without = provision(aws_session(), config=fresh(bulk_queue_name=""))

    sqs = boto3.client("sqs")
    attributes = sqs.get_queue_attributes(QueueUrl=done.bulk_queue_url, AttributeNames=["All"])[
        "Attributes"
    ]
    assert attributes["QueueArn"] == done.bulk_queue_arn
    assert attributes["VisibilityTimeout"] == "5"
    assert attributes["MessageRetentionPeriod"] == "345600"
    assert "Policy" not in attributes
    redrive = json.loads(attributes["RedrivePolicy"])
    assert redrive["deadLetterTargetArn"] == done.bulk_dead_letter_queue_arn
    assert redrive["deadLetterTargetArn"] != done.dead_letter_queue_arn
    assert int(redrive["maxReceiveCount"]) == 3
    dead = sqs.get_queue_attributes(
        QueueUrl=done.bulk_dead_letter_queue_url, AttributeNames=["MessageRetentionPeriod"]
    )["Attributes"]
    assert dead["MessageRetentionPeriod"] == "1209600"
    assert f"bulk queue    {done.bulk_queue_url}" in done.lines()
    assert (without.bulk_queue_url, without.bulk_dead_letter_queue_url) == ("", "")
    assert "bulk queue    (none)" in without.lines()


def test_the_provision_command_prints_what_it_provisioned(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """`python -m devtools provision` prints the queue URLs, the topic ARN and the bucket, then
    what it changed; the second run says everything was already in place."""
    config = fresh()
    argv = [
        "provision",
        f"--queue-name={config.queue_name}",
        f"--dead-letter-queue-name={config.dead_letter_queue_name}",
        f"--topic-name={config.topic_name}",
        "--visibility-timeout=5",
    ]

    assert main(argv) == 0
    first = capsys.readouterr().out
    assert main(argv) == 0
    second = capsys.readouterr().out

    queue_url = boto3.client("sqs").get_queue_url(QueueName=config.queue_name)["QueueUrl"]
    assert f"queue         {queue_url}\n" in first
    assert f":{config.topic_name}\n" in first
    assert "bucket        s3://acube-invoices\n" in first
    assert f"changed       created queue {config.queue_name}\n" in first
    assert second.endswith("unchanged     everything was already in place\n")


def test_the_provision_command_makes_the_state_table_the_handler_reads(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """GIVEN NOTIFIER_STATE_TABLE names a table WHEN `provision` runs without --state-table
    THEN it makes that table (it used to make `notifier-state` whatever the variable said,
    and the handler then failed every message), and says so."""
    config = fresh()
    table = f"{config.queue_name}-state"
    monkeypatch.setenv("NOTIFIER_STATE_TABLE", table)

    assert (
        main(
            [
                "provision",
                f"--queue-name={config.queue_name}",
                f"--dead-letter-queue-name={config.dead_letter_queue_name}",
                f"--topic-name={config.topic_name}",
            ]
        )
        == 0
    )

    out = capsys.readouterr().out
    assert f"state table   {table} (key pk, TTL on ttl)\n" in out
    described = boto3.client("dynamodb").describe_table(TableName=table)["Table"]
    assert described["KeySchema"] == [{"AttributeName": "pk", "KeyType": "HASH"}]


def test_provisioning_publishes_every_ses_event_type_to_the_feedback_topic() -> None:
    """GIVEN a configuration set name WHEN provisioned THEN SES publishes every v1 event type
    of that set to the feedback topic (the statuses' source), and a second run changes
    nothing."""
    name = f"e2e-{uuid.uuid4().hex[:12]}"
    config = fresh(feedback_topic_name=f"{name}-feedback", configuration_set=f"{name}-events")

    first = provision(aws_session(), config=config)
    again = provision(aws_session(), config=config)

    destinations = boto3.client("ses").describe_configuration_set(
        ConfigurationSetName=config.configuration_set,
        ConfigurationSetAttributeNames=["eventDestinations"],
    )["EventDestinations"]
    assert [
        (d["Name"], d["Enabled"], sorted(d["MatchingEventTypes"]), d["SNSDestination"]["TopicARN"])
        for d in destinations
    ] == [
        (
            f"{name}-events-feedback",
            True,
            sorted(
                [
                    "send",
                    "reject",
                    "bounce",
                    "complaint",
                    "delivery",
                    "open",
                    "click",
                    "renderingFailure",
                ]
            ),
            first.feedback_topic_arn,
        )
    ]
    assert first.configuration_set == config.configuration_set
    assert again.changes == ()
