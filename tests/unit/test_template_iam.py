"""template.yaml grants least privilege, and only this account reaches the entry points.

The threat model (docs/security.md) leans on these properties of the template; each test is one
of them. The template is read as data, CloudFormation short tags in their long forms.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.support.cloudformation import load_template


@pytest.fixture(scope="module")
def resources() -> dict[str, Any]:
    found: dict[str, Any] = load_template()["Resources"]
    return found


@pytest.fixture(scope="module")
def statements(resources: dict[str, Any]) -> list[dict[str, Any]]:
    """The function role's statements, those under `!If` unwrapped (both branches)."""
    role = resources["FunctionRole"]["Properties"]
    found = []
    for policy in role["Policies"]:
        for statement in policy["PolicyDocument"]["Statement"]:
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


def test_every_statement_of_the_function_role_allows_named_actions_on_named_resources(
    statements: list[dict[str, Any]],
) -> None:
    """No wildcard action, no Deny to reason about, and no `*` resource except for
    PutMetricData (which has no resource type), narrowed there to the service's namespace."""
    for statement in statements:
        assert statement["Effect"] == "Allow"
        assert all("*" not in action for action in _actions(statement)), statement
        if statement["Resource"] == "*":
            assert _actions(statement) == ["cloudwatch:PutMetricData"], statement
            assert "cloudwatch:namespace" in statement["Condition"]["StringEquals"]


def test_the_function_reads_only_objects_of_the_attachment_buckets(
    statements: list[dict[str, Any]],
) -> None:
    """s3:GetObject and nothing else of S3 (no listing, no writing), on `<bucket>/*` for the
    AttachmentBuckets parameter only: NOTIFIER_ATTACHMENT_BUCKETS and IAM say the same."""
    s3 = [a for s in statements for a in _actions(s) if a.startswith("s3:")]
    (statement,) = _by_action(statements, "s3:GetObject")

    assert s3 == ["s3:GetObject"]
    text = str(statement["Resource"])
    assert "AttachmentBuckets" in text
    assert "/*" in text


def test_the_function_sends_only_as_the_configured_identities(
    statements: list[dict[str, Any]],
) -> None:
    """ses:SendRawEmail only, on the SesIdentityArns parameter and the configured set: IAM
    refuses any other From identity, and any configuration set a producer names."""
    ses = [a for s in statements for a in _actions(s) if a.startswith("ses:")]
    resources = [s["Resource"] for s in _by_action(statements, "ses:SendRawEmail")]

    assert set(ses) == {"ses:SendRawEmail"}
    assert {"Ref": "SesIdentityArns"} in resources
    assert all(
        r == {"Ref": "SesIdentityArns"} or "configuration-set/${SesConfigurationSet}" in str(r)
        for r in resources
    )


def test_the_function_reaches_only_its_own_queue_table_key_and_log_group(
    statements: list[dict[str, Any]],
) -> None:
    """Each SQS, DynamoDB, KMS and Logs permission names a resource of this template."""
    expected = {
        "sqs:ReceiveMessage": {"Fn::GetAtt": ["EmailQueue", "Arn"]},
        "sqs:SendMessage": {"Fn::GetAtt": ["FailedInvocationsQueue", "Arn"]},
        "dynamodb:PutItem": {"Fn::GetAtt": ["StateTable", "Arn"]},
        "kms:Decrypt": {"Fn::GetAtt": ["NotifierKey", "Arn"]},
        "logs:PutLogEvents": {"Fn::GetAtt": ["FunctionLogGroup", "Arn"]},
    }
    for action, resource in expected.items():
        (statement,) = _by_action(statements, action)
        assert statement["Resource"] == resource
    scan = [s for s in statements if "dynamodb:Scan" in _actions(s)]
    assert scan == []  # listing the suppression list is the operators' CLI, not the function


def test_only_principals_of_this_account_can_queue_or_publish_email(
    resources: dict[str, Any],
) -> None:
    """No queue policy and no topic policy opens the email queue or topic: only IAM principals
    of the account, granted sqs:SendMessage or sns:Publish, reach them. The feedback topic lets
    SES of this account publish, and no one else."""
    policies = {
        name: r["Properties"]
        for name, r in resources.items()
        if r["Type"] in {"AWS::SQS::QueuePolicy", "AWS::SNS::TopicPolicy"}
    }
    targets = [str(p.get("Queues", p.get("Topics"))) for p in policies.values()]

    assert not any("EmailQueue" in t or "EmailTopic" in t for t in targets)
    (feedback,) = [p for p in policies.values() if {"Ref": "FeedbackTopic"} in p["Topics"]]
    for statement in feedback["PolicyDocument"]["Statement"]:
        assert statement["Principal"] == {"Service": "ses.amazonaws.com"}
        assert statement["Action"] == "sns:Publish"
        assert statement["Condition"] == {
            "StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}
        }


def test_messages_and_state_at_rest_are_encrypted(resources: dict[str, Any]) -> None:
    """Every queue (the dead-letter queue holds whole messages, addresses and bodies) uses
    SSE-SQS; the state table (addresses in its keys) and the log group use the stack's key."""
    queues = [r["Properties"] for r in resources.values() if r["Type"] == "AWS::SQS::Queue"]
    table = resources["StateTable"]["Properties"]["SSESpecification"]

    assert queues
    assert all(q.get("SqsManagedSseEnabled") is True for q in queues)
    assert table == {"SSEEnabled": True, "SSEType": "KMS", "KMSMasterKeyId": {"Ref": "NotifierKey"}}
    log_group = resources["FunctionLogGroup"]["Properties"]
    assert log_group["KmsKeyId"] == {"Fn::GetAtt": ["NotifierKey", "Arn"]}
    assert log_group["RetentionInDays"] == {"Ref": "LogRetentionDays"}
