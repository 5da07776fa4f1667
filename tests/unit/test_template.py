"""template.yaml gives the function what the code expects and loses no message.

The template is read as data: short tags such as `!Ref X` become their long
forms (`{"Ref": "X"}`), so the assertions look at what CloudFormation sees.
Each assertion states the exact value: a test that accepted any filter or any
receive count would pass on a template that drops or loops mail.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

import pytest

from devtools.provision import (
    DEAD_LETTER_RETENTION_SECONDS,
    FILTER_POLICY,
    QUEUE_RETENTION_SECONDS,
    ProvisionConfig,
)
from notifier.adapters.outbound.dynamodb import state_table
from notifier.entrypoints.context import DEFAULT_TIMEOUT_SECONDS
from notifier.entrypoints.settings import Settings, SettingsError
from tests.support.cloudformation import load_template

# The local stack (`python -m devtools provision`) and the template are held to the same
# figures: read from provisioning, then checked here against the template, and pinned so that
# a change to both at once still shows.
MAX_RECEIVE_COUNT = ProvisionConfig().max_receive_count
EMAIL_FILTER_POLICY = FILTER_POLICY


def test_provisioning_keeps_the_figures_the_template_is_checked_against() -> None:
    """Three receives, then 4 days on the queue and 14 (SQS's maximum) in the dead letters;
    only `channel = email` from the topic."""
    assert MAX_RECEIVE_COUNT == 3
    assert (QUEUE_RETENTION_SECONDS, DEAD_LETTER_RETENTION_SECONDS) == (345_600, 1_209_600)
    assert EMAIL_FILTER_POLICY == {"channel": ["email"]}


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    return load_template()


@pytest.fixture(scope="module")
def function(template: dict[str, Any]) -> dict[str, Any]:
    functions = [
        resource["Properties"]
        for resource in template["Resources"].values()
        if resource["Type"] == "AWS::Serverless::Function"
    ]
    assert len(functions) == 1, "the template declares exactly one function"
    properties: dict[str, Any] = functions[0]
    return properties


def _event(function: dict[str, Any], kind: str, name: str) -> dict[str, Any]:
    """The properties of the function's event `name`, which must be of type `kind`."""
    event = function["Events"][name]
    assert event["Type"] == kind, f"event {name} is {event['Type']}, expected {kind}"
    properties: dict[str, Any] = event["Properties"]
    return properties


def _queue(template: dict[str, Any], arn: Any) -> dict[str, Any]:
    """The AWS::SQS::Queue that `arn` (a `!GetAtt Queue.Arn`) names."""
    assert isinstance(arn, dict), f"expected !GetAtt <queue>.Arn, got {arn!r}"
    assert set(arn) == {"Fn::GetAtt"}, f"expected !GetAtt <queue>.Arn, got {arn!r}"
    name, attribute = arn["Fn::GetAtt"]
    assert attribute == "Arn"
    resource = template["Resources"][name]
    assert resource["Type"] == "AWS::SQS::Queue"
    properties: dict[str, Any] = resource["Properties"]
    return properties


def _possible_values(value: Any, parameters: dict[str, Any]) -> list[str]:
    """What the template can put in a variable: a literal, or a parameter's
    default, allowed values and bounds (`!Join` over a list parameter included)."""
    if isinstance(value, dict) and "Fn::Join" in value:
        value = value["Fn::Join"][1]
    if isinstance(value, dict) and set(value) == {"Ref"} and value["Ref"] not in parameters:
        return []  # a resource's name (the state table), chosen by CloudFormation
    if isinstance(value, dict) and set(value) == {"Ref"}:
        parameter = parameters[value["Ref"]]
        candidates = [parameter.get(key) for key in ("Default", "MinValue", "MaxValue")]
        candidates += parameter.get("AllowedValues", [])
        return [str(c) for c in candidates if c is not None]
    assert isinstance(value, str | int), f"unexpected variable value {value!r}"
    return [str(value)]


def test_every_setting_is_wired_into_the_function_environment(function: dict[str, Any]) -> None:
    """Each variable Settings reads is set on the function, so none silently
    falls back to its default in AWS; a new setting fails here until wired, and a
    NOTIFIER_ variable Settings does not read (a typo, a removed setting) fails too."""
    variables = function["Environment"]["Variables"]

    wired = sorted(name for name in variables if name.startswith("NOTIFIER_"))

    assert wired == sorted(Settings.variables())


def test_each_variable_takes_its_own_parameter_or_fixed_value(function: dict[str, Any]) -> None:
    """Every variable is wired to the parameter or resource meant for it: two variables whose
    parameters both parse (a namespace given the stage name) cannot be crossed unnoticed."""
    variables = function["Environment"]["Variables"]

    assert variables == {
        "NOTIFIER_ALLOWED_SENDERS": {"Fn::Join": [",", {"Ref": "AllowedSenders"}]},
        "NOTIFIER_ATTACHMENT_BUCKETS": {"Fn::Join": [",", {"Ref": "AttachmentBuckets"}]},
        "NOTIFIER_TEMPLATES": {"Ref": "Templates"},
        "NOTIFIER_MAX_RECIPIENTS": "50",
        "NOTIFIER_MAX_MESSAGE_BYTES": "10485760",
        "NOTIFIER_SEND_CONCURRENCY": {"Ref": "SendConcurrency"},
        "NOTIFIER_MAX_BYTES_IN_FLIGHT": "12582912",
        "MALLOC_MMAP_THRESHOLD_": "131072",
        "MALLOC_ARENA_MAX": "2",
        "NOTIFIER_SES_MAX_ATTEMPTS": "4",
        "NOTIFIER_SES_CONFIGURATION_SET": {"Ref": "SesConfigurationSet"},
        "NOTIFIER_QUOTA_CHECK_SECONDS": "60",
        "NOTIFIER_METRICS_MODE": {"Ref": "MetricsMode"},
        "NOTIFIER_METRICS_NAMESPACE": {"Ref": "MetricsNamespace"},
        "NOTIFIER_LOG_LEVEL": {"Ref": "LogLevel"},
        "NOTIFIER_STATE_TABLE": {"Ref": "StateTable"},
        "NOTIFIER_IDEMPOTENCY_TTL_SECONDS": {"Ref": "IdempotencyTtlSeconds"},
        "NOTIFIER_TRANSIENT_BOUNCE_LIMIT": {"Ref": "TransientBounceLimit"},
        "NOTIFIER_PRODUCER_LIMITS": {"Ref": "ProducerLimits"},
        "NOTIFIER_LIMIT_MAX_WAIT_SECONDS": "2",
        "NOTIFIER_FEEDBACK_TOPIC_ARNS": {"Ref": "FeedbackTopic"},
        "NOTIFIER_STATUS_TOPIC_ARN": {"Ref": "StatusTopic"},
        "NOTIFIER_STATUS_RETENTION_DAYS": {"Ref": "StatusRetentionDays"},
        "NOTIFIER_QUEUE_URL": {"Ref": "EmailQueue"},
        "NOTIFIER_BULK_QUEUE_URL": {"Ref": "BulkQueue"},
        "NOTIFIER_MAX_RECEIVE_COUNT": {"Ref": "MaxReceiveCount"},
    }


def test_template_values_are_ones_the_settings_accept(
    template: dict[str, Any], function: dict[str, Any]
) -> None:
    """Every fixed value, parameter default, allowed value and bound the
    template can give a setting parses, so a deploy cannot break cold start."""
    variables = function["Environment"]["Variables"]
    problems = []

    for name in Settings.variables():
        if name not in variables:
            continue  # reported by the wiring test above
        for value in _possible_values(variables[name], template["Parameters"]):
            try:
                Settings.from_env({name: value})
            except SettingsError as exc:
                problems.append(str(exc))

    assert problems == []


def test_the_function_has_exactly_its_event_sources(function: dict[str, Any]) -> None:
    """The email queue, the email topic, the feedback topic and the HTTP API's routes, nothing
    else: a second subscription to the email topic without the filter would pass every other
    test (the routes are held to docs/openapi.yaml in test_template_http.py)."""
    kinds = {name: event["Type"] for name, event in function["Events"].items()}

    assert kinds == {
        "EmailQueue": "SQS",
        "BulkQueue": "SQS",
        "EmailTopic": "SNS",
        "FeedbackTopic": "SNS",
        "SendEmail": "HttpApi",
        "EnqueueEmail": "HttpApi",
        "GetEmailStatus": "HttpApi",
        "OtherRequests": "HttpApi",
    }


def test_queue_event_reports_batch_item_failures_in_batches_of_ten(
    function: dict[str, Any],
) -> None:
    """The SQS event source polls the email queue, hands over 10 messages at a time (after
    at most 2 s of batching) and retries only the ones the handler reports as failed; its
    concurrency is the QueueMaximumConcurrency parameter."""
    event = _event(function, "SQS", "EmailQueue")

    assert event == {
        "Queue": {"Fn::GetAtt": ["EmailQueue", "Arn"]},
        "BatchSize": 10,
        "MaximumBatchingWindowInSeconds": 2,
        "FunctionResponseTypes": ["ReportBatchItemFailures"],
        "ScalingConfig": {"MaximumConcurrency": {"Ref": "QueueMaximumConcurrency"}},
    }


def test_queue_moves_poison_messages_to_its_dead_letter_queue(
    template: dict[str, Any], function: dict[str, Any]
) -> None:
    """The polled queue moves a message to EmailDeadLetterQueue after MaxReceiveCount
    receives (3 by default, as `provision` does locally), so a message that keeps failing is
    kept, not dropped; the dead-letter queue has no redrive of its own and keeps a message
    longer than the source queue did (a moved message keeps its original enqueue time)."""
    event_queue_arn = _event(function, "SQS", "EmailQueue")["Queue"]
    queue = _queue(template, event_queue_arn)
    redrive = queue["RedrivePolicy"]

    dead_letter_queue = _queue(template, redrive["deadLetterTargetArn"])

    assert redrive == {
        "deadLetterTargetArn": {"Fn::GetAtt": ["EmailDeadLetterQueue", "Arn"]},
        "maxReceiveCount": {"Ref": "MaxReceiveCount"},
    }
    parameter = template["Parameters"]["MaxReceiveCount"]
    assert parameter["Type"] == "Number"
    assert parameter["Default"] == MAX_RECEIVE_COUNT
    assert (parameter["MinValue"], parameter["MaxValue"]) == (1, 1000)  # SQS's own bounds
    assert "RedrivePolicy" not in dead_letter_queue
    assert queue["MessageRetentionPeriod"] == QUEUE_RETENTION_SECONDS
    assert dead_letter_queue["MessageRetentionPeriod"] == DEAD_LETTER_RETENTION_SECONDS


def test_the_bulk_lane_is_the_email_queue_with_less_concurrency(
    template: dict[str, Any], function: dict[str, Any]
) -> None:
    """The bulk queue's event source is the email queue's but for its concurrency, a parameter
    whose default is below the transactional lane's (what keeps transactional mail's share
    under a flood of bulk); the bulk queue is configured as the email queue, dead-lettering
    into a queue of its own after the same MaxReceiveCount, watched by an alarm of its own."""
    transactional = _event(function, "SQS", "EmailQueue")
    bulk = _event(function, "SQS", "BulkQueue")
    parameters = template["Parameters"]

    assert bulk == {
        **transactional,
        "Queue": {"Fn::GetAtt": ["BulkQueue", "Arn"]},
        "ScalingConfig": {"MaximumConcurrency": {"Ref": "BulkQueueMaximumConcurrency"}},
    }
    bulk_default = parameters["BulkQueueMaximumConcurrency"]["Default"]
    assert 2 <= bulk_default < parameters["QueueMaximumConcurrency"]["Default"]
    email_queue = _queue(template, transactional["Queue"])
    bulk_queue = _queue(template, bulk["Queue"])
    assert bulk_queue == {
        **email_queue,
        "RedrivePolicy": {
            "deadLetterTargetArn": {"Fn::GetAtt": ["BulkDeadLetterQueue", "Arn"]},
            "maxReceiveCount": {"Ref": "MaxReceiveCount"},
        },
    }
    resources = template["Resources"]
    assert resources["BulkDeadLetterQueue"] == resources["EmailDeadLetterQueue"]
    alarm = resources["BulkDeadLetterQueueAlarm"]["Properties"]
    assert alarm["Dimensions"] == [
        {"Name": "QueueName", "Value": {"Fn::GetAtt": ["BulkDeadLetterQueue", "QueueName"]}}
    ]
    others = dict(resources["DeadLetterQueueAlarm"]["Properties"])
    assert {k: v for k, v in alarm.items() if k not in {"AlarmName", "AlarmDescription"}} == {
        k: v for k, v in others.items() if k not in {"AlarmName", "AlarmDescription", "Dimensions"}
    } | {"Dimensions": alarm["Dimensions"]}


def _concurrency(values: dict[str, Any]) -> tuple[int, int, int]:
    return tuple(  # type: ignore[return-value]
        int(values[name])
        for name in (
            "ReservedConcurrency",
            "QueueMaximumConcurrency",
            "BulkQueueMaximumConcurrency",
        )
    )


def test_the_two_lanes_never_ask_for_more_executions_than_the_function_has(
    template: dict[str, Any],
) -> None:
    """Reserved > transactional + bulk, with the defaults and in each environment of
    samconfig.toml: a queue poller Lambda throttles still spends a receive of each message it
    held, so an overcommitted lane would dead-letter mail that only had to wait; the bulk
    lane never has more executions than the transactional one."""
    defaults = {name: p.get("Default") for name, p in template["Parameters"].items()}
    config = tomllib.loads((Path(__file__).resolve().parents[2] / "samconfig.toml").read_text())
    environments = {
        env: dict(
            item.split("=", 1)
            for item in config[env]["deploy"]["parameters"]["parameter_overrides"]
        )
        for env in ("dev", "production")
        if "deploy" in config.get(env, {})
    }

    for name, values in {"template defaults": defaults, **environments}.items():
        reserved, transactional, bulk = _concurrency(values)
        assert reserved > transactional + bulk, name
        assert bulk <= transactional, name
    assert set(environments) == {"dev", "production"}
    assert template["Parameters"]["ReservedConcurrency"]["MinValue"] == 5  # 2 + 2 + 1


def test_queue_visibility_timeout_is_at_least_six_function_timeouts(
    template: dict[str, Any], function: dict[str, Any]
) -> None:
    """A message in flight stays hidden long enough for the function (and
    Lambda's retries of a throttled batch) to finish before it reappears: AWS's
    guidance is at least six function timeouts plus the batching window (182 s), and
    the template sets 190 s. The timeout is the one the code assumes without a Lambda
    context."""
    event = _event(function, "SQS", "EmailQueue")
    queue = _queue(template, event["Queue"])

    assert function["Timeout"] == DEFAULT_TIMEOUT_SECONDS
    assert queue["VisibilityTimeout"] >= (
        6 * function["Timeout"] + event["MaximumBatchingWindowInSeconds"]
    )
    assert queue["VisibilityTimeout"] == 190


def test_topic_event_is_filtered_to_email_messages(function: dict[str, Any]) -> None:
    """The email topic's subscription filters on the message attribute `channel = email`
    (what producers set, and what `provision` uses locally), so the function is only invoked
    for messages meant for it."""
    event = _event(function, "SNS", "EmailTopic")

    assert event == {
        "Topic": {"Ref": "EmailTopic"},
        "FilterPolicyScope": "MessageAttributes",
        "FilterPolicy": EMAIL_FILTER_POLICY,
    }


def test_ses_feedback_reaches_the_function_unfiltered(
    template: dict[str, Any], function: dict[str, Any]
) -> None:
    """SES notifications carry no message attributes: the feedback topic's subscription has no
    filter, and SES of this account (only) may publish to that topic."""
    event = _event(function, "SNS", "FeedbackTopic")
    policies = [
        r["Properties"]
        for r in template["Resources"].values()
        if r["Type"] == "AWS::SNS::TopicPolicy" and event["Topic"] in r["Properties"]["Topics"]
    ]

    assert event == {"Topic": {"Ref": "FeedbackTopic"}}
    assert [policy["PolicyDocument"]["Statement"] for policy in policies] == [
        [
            {
                "Sid": "SesPublishesFeedback",
                "Effect": "Allow",
                "Principal": {"Service": "ses.amazonaws.com"},
                "Action": "sns:Publish",
                "Resource": {"Ref": "FeedbackTopic"},
                "Condition": {"StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}},
            }
        ]
    ]


def test_the_state_table_is_wired_with_ttl(
    template: dict[str, Any], function: dict[str, Any]
) -> None:
    """NOTIFIER_STATE_TABLE names the template's state table: on demand, keyed on the string
    `pk` alone (the adapter's layout), TTL on `ttl`, point-in-time recovery on."""
    reference = function["Environment"]["Variables"]["NOTIFIER_STATE_TABLE"]
    table = template["Resources"][reference["Ref"]]

    assert reference == {"Ref": "StateTable"}
    assert table["Type"] == "AWS::DynamoDB::Table"
    assert table["Properties"]["BillingMode"] == "PAY_PER_REQUEST"
    assert table["Properties"]["AttributeDefinitions"] == [
        {"AttributeName": "pk", "AttributeType": "S"}
    ]
    assert table["Properties"]["KeySchema"] == [{"AttributeName": "pk", "KeyType": "HASH"}]
    # The adapters' schema, defined once in state_table (provision creates the same).
    assert table["Properties"]["AttributeDefinitions"] == list(state_table.ATTRIBUTE_DEFINITIONS)
    assert table["Properties"]["KeySchema"] == list(state_table.KEY_SCHEMA)
    assert table["Properties"]["PointInTimeRecoverySpecification"] == {
        "PointInTimeRecoveryEnabled": True
    }
    assert table["Properties"]["TimeToLiveSpecification"] == {
        "AttributeName": state_table.TTL_ATTRIBUTE,
        "Enabled": True,
    }
    assert state_table.TTL_ATTRIBUTE == "ttl"


def test_failed_asynchronous_invocations_go_to_a_queue(
    template: dict[str, Any], function: dict[str, Any]
) -> None:
    """An SNS delivery that fails every retry (two) lands on FailedInvocationsQueue, kept 14
    days, instead of being discarded (nor fed back into the email queue as a request)."""
    invoke_config = function["EventInvokeConfig"]

    assert invoke_config == {
        "MaximumRetryAttempts": 2,
        "DestinationConfig": {
            "OnFailure": {
                "Type": "SQS",
                "Destination": {"Fn::GetAtt": ["FailedInvocationsQueue", "Arn"]},
            }
        },
    }
    queue = _queue(template, invoke_config["DestinationConfig"]["OnFailure"]["Destination"])
    assert queue["MessageRetentionPeriod"] == DEAD_LETTER_RETENTION_SECONDS


def test_sam_builds_the_function_stage_of_the_dockerfile(template: dict[str, Any]) -> None:
    """`sam build` makes the Dockerfile's `function` stage, never the local `tools` stage."""
    (metadata,) = [
        resource["Metadata"]
        for resource in template["Resources"].values()
        if resource["Type"] == "AWS::Serverless::Function"
    ]
    assert metadata["DockerBuildTarget"] == "function"
    assert metadata["Dockerfile"] == "Dockerfile"
    dockerfile = (Path(__file__).parents[2] / "Dockerfile").read_text(encoding="utf-8")
    stages = [line.split()[-1] for line in dockerfile.splitlines() if line.startswith("FROM ")]
    assert stages[-1] == "function"
    assert "tools" in stages


def test_the_daily_quota_alarm_fires_at_80_percent_of_the_ses_quota(
    template: dict[str, Any],
) -> None:
    """DailyQuotaAlarm watches the function's own DailyQuotaUsedPercent (in MetricsNamespace,
    dimension Service=notifier, as the metrics adapters publish it): the highest reading of 5
    minutes at 80% or more fires it, no reading is not an alarm, and it notifies the alarm topic
    both ways. It exists only when the function publishes metrics."""
    alarm = template["Resources"]["DailyQuotaAlarm"]

    assert alarm["Type"] == "AWS::CloudWatch::Alarm"
    assert alarm["Condition"] == "EmitsMetrics"
    properties = dict(alarm["Properties"])
    assert properties.pop("AlarmDescription").endswith("docs/operations.md#daily-quota")
    assert properties == {
        "AlarmName": {"Fn::Sub": "notifier-${Environment}-daily-quota"},
        "Namespace": {"Ref": "MetricsNamespace"},
        "MetricName": "DailyQuotaUsedPercent",
        "Dimensions": [{"Name": "Service", "Value": "notifier"}],
        "Statistic": "Maximum",
        "Period": 300,
        "EvaluationPeriods": 1,
        "Threshold": 80,
        "ComparisonOperator": "GreaterThanOrEqualToThreshold",
        "TreatMissingData": "notBreaching",
        "AlarmActions": [{"Ref": "AlarmTopic"}],
        "OKActions": [{"Ref": "AlarmTopic"}],
    }
    assert template["Conditions"]["EmitsMetrics"] == {
        "Fn::Not": [{"Fn::Equals": [{"Ref": "MetricsMode"}, "off"]}]
    }
