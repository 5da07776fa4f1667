"""template.yaml grants least privilege, and only this account reaches the entry points.

The threat model (docs/security.md) leans on these properties of the template; each test is one
of them. The template is read as data, CloudFormation short tags in their long forms. Each
assertion states the exact grant: a test that only looked for a parameter's name in a resource
would pass on `arn:*:s3:::${Buckets}*`, which reaches every bucket with that prefix.
"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from tests.support.cloudformation import load_template

# What each `!Ref` (parameter or pseudo parameter) stands for when a resource is rendered.
REFS: dict[str, Any] = {
    "AWS::Partition": "aws",
    "AWS::Region": "eu-west-1",
    "AWS::AccountId": "123456789012",
    "AttachmentBuckets": ["acube-invoices", "acube-reports"],
    "SesIdentityArns": ["arn:aws:ses:eu-west-1:123456789012:identity/acubeapi.com"],
    "SesConfigurationSet": "billing",
    "Templates": "s3://acube-templates/notifier/v1",
}


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    return load_template()


@pytest.fixture(scope="module")
def resources(template: dict[str, Any]) -> dict[str, Any]:
    found: dict[str, Any] = template["Resources"]
    return found


@pytest.fixture(scope="module")
def policy_statements(resources: dict[str, Any]) -> list[dict[str, Any]]:
    """The function role's statements as written, `!If` included."""
    role = resources["FunctionRole"]["Properties"]
    return [
        statement
        for policy in role["Policies"]
        for statement in policy["PolicyDocument"]["Statement"]
    ]


@pytest.fixture(scope="module")
def statements(policy_statements: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The function role's statements, those under `!If` unwrapped (the granting branch;
    `test_optional_grants_exist_only_when_their_feature_is_on` holds the other to nothing)."""
    found = []
    for statement in policy_statements:
        if "Fn::If" in statement:
            _condition, when, _otherwise = statement["Fn::If"]
            found.append(when)
        else:
            found.append(statement)
    return found


def _actions(statement: dict[str, Any]) -> list[str]:
    actions = statement["Action"]
    return [actions] if isinstance(actions, str) else list(actions)


def _by_action(statements: list[dict[str, Any]], action: str) -> list[dict[str, Any]]:
    return [s for s in statements if action in _actions(s)]


def _render(value: Any, refs: dict[str, Any]) -> Any:
    """Evaluate the intrinsic functions the role's resources use (Ref, Join, Split, Sub), with
    `refs` giving each reference's value: what IAM sees once the stack is deployed."""
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        return [_render(item, refs) for item in value]
    ((function, argument),) = value.items()
    if function == "Ref":
        return refs[argument]
    if function == "Fn::Join":
        delimiter, items = argument
        return delimiter.join(_render(items, refs))
    if function == "Fn::Split":
        delimiter, text = argument
        return _render(text, refs).split(delimiter)
    if function == "Fn::Select":
        index, items = argument
        return _render(items, refs)[index]
    if function == "Fn::Sub":
        text, variables = argument if isinstance(argument, list) else (argument, {})
        names = {**refs, **{name: _render(v, refs) for name, v in variables.items()}}
        return re.sub(r"\$\{([^}]+)\}", lambda match: names[match[1]], text)
    raise AssertionError(f"cannot render {value!r}")


def test_every_statement_of_the_function_role_allows_named_actions_on_named_resources(
    statements: list[dict[str, Any]],
) -> None:
    """Exactly these actions, no Deny to reason about, and no `*` resource except for
    PutMetricData (which has no resource type), narrowed there to the service's namespace, and
    GetSendQuota (no resource type either: it reads the account's quota, nothing else)."""
    actions = sorted(action for statement in statements for action in _actions(statement))
    wildcards = {s.get("Sid"): s for s in statements if "*" in json.dumps(s["Resource"])}

    assert actions == sorted(
        [
            "logs:CreateLogStream",
            "logs:PutLogEvents",
            "sqs:ReceiveMessage",
            "sqs:DeleteMessage",
            "sqs:GetQueueAttributes",
            "sqs:SendMessage",  # failed SNS invocations
            "sqs:SendMessage",  # the HTTP API's enqueue route, put back, forwarded to bulk
            "sqs:ChangeMessageVisibility",  # a message that must wait, when no copy is made
            "sns:Publish",  # status callbacks
            "dynamodb:GetItem",
            "dynamodb:PutItem",
            "dynamodb:UpdateItem",
            "dynamodb:DeleteItem",
            "dynamodb:BatchGetItem",
            "kms:Decrypt",
            "kms:GenerateDataKey",
            "ses:GetSendQuota",  # the quota metrics and DailyQuotaAlarm
            "ses:SendRawEmail",  # as the configured identities
            "ses:SendRawEmail",  # with the configured configuration set
            "s3:GetObject",  # attachments
            "s3:GetObject",  # templates
            "cloudwatch:PutMetricData",
        ]
    )
    assert all(statement["Effect"] == "Allow" for statement in statements)
    # S3's `*`s are the partition and the objects of each bucket: see the S3 test.
    assert sorted(wildcards) == [
        "PutMetricsInOwnNamespace",
        "ReadAttachments",
        "ReadSendQuota",
        "ReadTemplates",
    ]
    assert wildcards["ReadSendQuota"] == {
        "Sid": "ReadSendQuota",
        "Effect": "Allow",
        "Action": "ses:GetSendQuota",
        "Resource": "*",
    }
    assert wildcards["PutMetricsInOwnNamespace"] == {
        "Sid": "PutMetricsInOwnNamespace",
        "Effect": "Allow",
        "Action": "cloudwatch:PutMetricData",
        "Resource": "*",
        "Condition": {"StringEquals": {"cloudwatch:namespace": {"Ref": "MetricsNamespace"}}},
    }


def test_optional_grants_exist_only_when_their_feature_is_on(
    template: dict[str, Any], policy_statements: list[dict[str, Any]]
) -> None:
    """PutMetricData only with MetricsMode=api, the configuration set only when one is named,
    S3 only with attachment buckets; otherwise the statement is absent (`AWS::NoValue`)."""
    branches = [s["Fn::If"] for s in policy_statements if "Fn::If" in s]
    conditional = {when.get("Sid"): condition for condition, when, _otherwise in branches}

    assert [otherwise for _condition, _when, otherwise in branches] == [
        {"Ref": "AWS::NoValue"}
    ] * len(branches)
    assert conditional == {
        "SendWithConfigurationSet": "HasSesConfigurationSet",
        "ReadAttachments": "HasAttachmentBuckets",
        "ReadTemplates": "HasTemplates",
        "PutMetricsInOwnNamespace": "PublishesMetricsByApi",
    }
    assert {name: template["Conditions"][name] for name in conditional.values()} == {
        "HasSesConfigurationSet": {
            "Fn::Not": [{"Fn::Equals": [{"Ref": "SesConfigurationSet"}, ""]}]
        },
        "HasAttachmentBuckets": {
            "Fn::Not": [{"Fn::Equals": [{"Fn::Join": ["", {"Ref": "AttachmentBuckets"}]}, ""]}]
        },
        "PublishesMetricsByApi": {"Fn::Equals": [{"Ref": "MetricsMode"}, "api"]},
        "HasTemplates": {"Fn::Not": [{"Fn::Equals": [{"Ref": "Templates"}, ""]}]},
    }


def test_the_function_reads_only_objects_of_the_attachment_buckets(
    statements: list[dict[str, Any]],
) -> None:
    """s3:GetObject and nothing else of S3 (no listing, no writing), on `<bucket>/*` for each
    bucket of the AttachmentBuckets parameter only: NOTIFIER_ATTACHMENT_BUCKETS and IAM say
    the same."""
    s3 = [a for s in statements for a in _actions(s) if a.startswith("s3:")]
    (statement,) = [
        s for s in _by_action(statements, "s3:GetObject") if s["Sid"] != "ReadTemplates"
    ]

    assert s3 == ["s3:GetObject", "s3:GetObject"]  # the other reads templates: see below
    assert _render(statement["Resource"], REFS) == [
        "arn:*:s3:::acube-invoices/*",
        "arn:*:s3:::acube-reports/*",
    ]
    assert _render(statement["Resource"], {**REFS, "AttachmentBuckets": ["acube-invoices"]}) == [
        "arn:*:s3:::acube-invoices/*"
    ]


def test_the_function_reads_only_the_objects_under_the_templates_prefix(
    statements: list[dict[str, Any]],
) -> None:
    """s3:GetObject on `<bucket>/<prefix>/*` of the Templates parameter (NOTIFIER_TEMPLATES),
    nothing above the prefix and no listing."""
    (statement,) = [s for s in statements if s.get("Sid") == "ReadTemplates"]

    assert _actions(statement) == ["s3:GetObject"]
    assert _render(statement["Resource"], REFS) == "arn:aws:s3:::acube-templates/notifier/v1/*"
    assert (
        _render(statement["Resource"], {**REFS, "Templates": "s3://acube-templates"})
        == "arn:aws:s3:::acube-templates/*"
    )


def test_the_function_sends_only_as_the_configured_identities(
    statements: list[dict[str, Any]],
) -> None:
    """ses:SendRawEmail, on the SesIdentityArns parameter and the configured set of this
    account and region: IAM refuses any other From identity, and any configuration set a
    producer names. The only other SES action reads the quota (sends nothing)."""
    ses = [a for s in statements for a in _actions(s) if a.startswith("ses:")]
    resources = [s["Resource"] for s in _by_action(statements, "ses:SendRawEmail")]

    assert sorted(set(ses)) == ["ses:GetSendQuota", "ses:SendRawEmail"]
    assert [_actions(s) for s in _by_action(statements, "ses:GetSendQuota")] == [
        ["ses:GetSendQuota"]
    ]
    assert resources[0] == {"Ref": "SesIdentityArns"}
    assert [_render(r, REFS) for r in resources] == [
        ["arn:aws:ses:eu-west-1:123456789012:identity/acubeapi.com"],
        "arn:aws:ses:eu-west-1:123456789012:configuration-set/billing",
    ]


def test_the_function_reaches_only_its_own_queue_table_key_and_log_group(
    statements: list[dict[str, Any]],
) -> None:
    """Each SQS, SNS, DynamoDB, KMS and Logs permission names its one resource of this
    template; the function polls the two email queues, and sends to them (the HTTP API's
    enqueue route, a message put back for later, a bulk one forwarded) and to the queue of
    failed SNS invocations it records."""
    queue = [{"Fn::GetAtt": ["EmailQueue", "Arn"]}, {"Fn::GetAtt": ["BulkQueue", "Arn"]}]
    table = {"Fn::GetAtt": ["StateTable", "Arn"]}
    key = {"Fn::GetAtt": ["NotifierKey", "Arn"]}
    log_group = {"Fn::GetAtt": ["FunctionLogGroup", "Arn"]}
    expected = {
        "logs:CreateLogStream": log_group,
        "logs:PutLogEvents": log_group,
        "sqs:ReceiveMessage": queue,
        "sqs:DeleteMessage": queue,
        "sqs:GetQueueAttributes": queue,
        "sqs:ChangeMessageVisibility": queue,
        "sns:Publish": {"Ref": "StatusTopic"},
        "dynamodb:GetItem": table,
        "dynamodb:PutItem": table,
        "dynamodb:UpdateItem": table,
        "dynamodb:DeleteItem": table,
        "dynamodb:BatchGetItem": table,
        "kms:Decrypt": key,
        "kms:GenerateDataKey": key,
    }
    for action, resource in expected.items():
        (statement,) = _by_action(statements, action)
        assert statement["Resource"] == resource, action
    assert {s["Sid"]: s["Resource"] for s in _by_action(statements, "sqs:SendMessage")} == {
        "RecordFailedSnsInvocations": {"Fn::GetAtt": ["FailedInvocationsQueue", "Arn"]},
        "EnqueueAndRequeue": queue,
    }
    assert [_actions(s) for s in _by_action(statements, "sqs:SendMessage")] == [
        ["sqs:SendMessage"],
        ["sqs:SendMessage"],
    ]
    scan = [s for s in statements if "dynamodb:Scan" in _actions(s)]
    assert scan == []  # listing the suppression list is the operators' CLI, not the function


def test_only_principals_of_this_account_can_queue_or_publish_email(
    resources: dict[str, Any],
) -> None:
    """No queue policy and no topic policy opens the email queue or topic (nor the dead-letter
    and failed-invocation queues that hold whole messages): only IAM principals of the account,
    granted sqs:SendMessage or sns:Publish, reach them. The feedback topic lets SES of this
    account publish, and no one else."""
    policies = {
        name: r["Properties"]
        for name, r in resources.items()
        if r["Type"] in {"AWS::SQS::QueuePolicy", "AWS::SNS::TopicPolicy"}
    }

    assert list(policies) == ["FeedbackTopicPolicy"]
    feedback = policies["FeedbackTopicPolicy"]
    assert feedback["Topics"] == [{"Ref": "FeedbackTopic"}]
    assert feedback["PolicyDocument"]["Statement"] == [
        {
            "Sid": "SesPublishesFeedback",
            "Effect": "Allow",
            "Principal": {"Service": "ses.amazonaws.com"},
            "Action": "sns:Publish",
            "Resource": {"Ref": "FeedbackTopic"},
            "Condition": {"StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}},
        }
    ]


def test_messages_and_state_at_rest_are_encrypted(
    template: dict[str, Any], resources: dict[str, Any]
) -> None:
    """Every queue (the dead-letter queue holds whole messages, addresses and bodies) uses
    SSE-SQS; the state table (addresses in its keys), the log groups (the function's and the
    HTTP API's access log) and the feedback and alarm topics use the stack's key, which
    rotates; the email topic uses SNS's AWS-managed key (which also rules out cross-account
    publishers). Logs expire after 30 days by default."""
    queues = {
        name: r["Properties"] for name, r in resources.items() if r["Type"] == "AWS::SQS::Queue"
    }
    topics = {
        name: r["Properties"] for name, r in resources.items() if r["Type"] == "AWS::SNS::Topic"
    }
    table = resources["StateTable"]["Properties"]["SSESpecification"]

    assert sorted(queues) == [
        "BulkDeadLetterQueue",
        "BulkQueue",
        "EmailDeadLetterQueue",
        "EmailQueue",
        "FailedInvocationsQueue",
    ]
    assert all(q["SqsManagedSseEnabled"] is True for q in queues.values())
    assert {name: t["KmsMasterKeyId"] for name, t in topics.items()} == {
        "EmailTopic": "alias/aws/sns",
        "StatusTopic": "alias/aws/sns",
        "FeedbackTopic": {"Ref": "NotifierKey"},
        "AlarmTopic": {"Ref": "NotifierKey"},
    }
    assert table == {"SSEEnabled": True, "SSEType": "KMS", "KMSMasterKeyId": {"Ref": "NotifierKey"}}
    assert resources["NotifierKey"]["Properties"]["EnableKeyRotation"] is True
    for name in ("FunctionLogGroup", "ApiAccessLogGroup"):
        log_group = resources[name]["Properties"]
        assert log_group["KmsKeyId"] == {"Fn::GetAtt": ["NotifierKey", "Arn"]}, name
        assert log_group["RetentionInDays"] == {"Ref": "LogRetentionDays"}, name
    assert template["Parameters"]["LogRetentionDays"]["Default"] == 30
