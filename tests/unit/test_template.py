"""template.yaml gives the function what the code expects and loses no message.

The template is read as data: short tags such as `!Ref X` become their long
forms (`{"Ref": "X"}`), so the assertions look at what CloudFormation sees.
"""

from __future__ import annotations

from typing import Any

import pytest

from notifier.entrypoints.settings import Settings, SettingsError
from tests.support.cloudformation import load_template


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


def _event(function: dict[str, Any], kind: str, name: str | None = None) -> dict[str, Any]:
    events = [
        e["Properties"]
        for event_name, e in function["Events"].items()
        if e["Type"] == kind and name in (None, event_name)
    ]
    assert len(events) == 1, f"the function has exactly one {kind} event named {name or 'any'}"
    properties: dict[str, Any] = events[0]
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
    falls back to its default in AWS; a new setting fails here until wired."""
    variables = function["Environment"]["Variables"]

    missing = [name for name in Settings.variables() if name not in variables]

    assert missing == []


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


def test_queue_event_reports_batch_item_failures_in_batches_of_ten(
    function: dict[str, Any],
) -> None:
    """The SQS event source hands over 10 messages at a time and retries only
    the ones the handler reports as failed."""
    event = _event(function, "SQS")

    assert event["BatchSize"] == 10
    assert event["FunctionResponseTypes"] == ["ReportBatchItemFailures"]


def test_queue_moves_poison_messages_to_its_dead_letter_queue(
    template: dict[str, Any], function: dict[str, Any]
) -> None:
    """The polled queue has a redrive policy whose target is another queue of
    this template, so a message that keeps failing is kept, not dropped."""
    event_queue_arn = _event(function, "SQS")["Queue"]
    redrive = _queue(template, event_queue_arn)["RedrivePolicy"]

    dead_letter_queue = _queue(template, redrive["deadLetterTargetArn"])

    assert redrive["deadLetterTargetArn"] != event_queue_arn
    assert "RedrivePolicy" not in dead_letter_queue
    assert redrive["maxReceiveCount"]


def test_queue_visibility_timeout_is_at_least_six_function_timeouts(
    template: dict[str, Any], function: dict[str, Any]
) -> None:
    """A message in flight stays hidden long enough for the function (and
    Lambda's retries of a throttled batch) to finish before it reappears."""
    queue = _queue(template, _event(function, "SQS")["Queue"])

    assert queue["VisibilityTimeout"] >= 6 * function["Timeout"]


def test_topic_event_is_filtered_to_email_messages(function: dict[str, Any]) -> None:
    """The SNS subscription carries a filter policy, so the function is only
    invoked for messages meant for it."""
    event = _event(function, "SNS", "EmailTopic")

    assert event["FilterPolicy"]


def test_ses_feedback_reaches_the_function_unfiltered(
    template: dict[str, Any], function: dict[str, Any]
) -> None:
    """SES notifications carry no message attributes: the feedback topic's subscription has no
    filter, and SES may publish to that topic."""
    event = _event(function, "SNS", "FeedbackTopic")
    topic = event["Topic"]["Ref"]
    policies = [
        r["Properties"]
        for r in template["Resources"].values()
        if r["Type"] == "AWS::SNS::TopicPolicy" and {"Ref": topic} in r["Properties"]["Topics"]
    ]

    assert "FilterPolicy" not in event
    assert any(
        statement["Principal"] == {"Service": "ses.amazonaws.com"}
        for policy in policies
        for statement in policy["PolicyDocument"]["Statement"]
    )


def test_the_state_table_is_wired_with_ttl(
    template: dict[str, Any], function: dict[str, Any]
) -> None:
    """NOTIFIER_STATE_TABLE names a DynamoDB table of this template keyed on `pk`, TTL on `ttl`."""
    reference = function["Environment"]["Variables"]["NOTIFIER_STATE_TABLE"]
    table = template["Resources"][reference["Ref"]]

    assert table["Type"] == "AWS::DynamoDB::Table"
    assert table["Properties"]["KeySchema"] == [{"AttributeName": "pk", "KeyType": "HASH"}]
    assert table["Properties"]["TimeToLiveSpecification"] == {
        "AttributeName": "ttl",
        "Enabled": True,
    }


def test_failed_asynchronous_invocations_go_to_a_queue(
    template: dict[str, Any], function: dict[str, Any]
) -> None:
    """An SNS delivery that fails every retry lands on an SQS queue of this
    template instead of being discarded."""
    on_failure = function["EventInvokeConfig"]["DestinationConfig"]["OnFailure"]

    assert function["EventInvokeConfig"]["MaximumRetryAttempts"] == 2
    assert on_failure["Type"] == "SQS"
    _queue(template, on_failure["Destination"])  # asserts it names a queue of this template
