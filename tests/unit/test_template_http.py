"""template.yaml's HTTP API: the routes docs/openapi.yaml documents, to the one function, all
behind IAM (SigV4), access-logged to an encrypted log group, throttled by parameters.

The template is read as data (CloudFormation's short tags in their long forms), as in
test_template.py; each assertion states the exact value.
"""

from __future__ import annotations

import tomllib
from typing import Any

import pytest

from tests.support import openapi
from tests.support.cloudformation import TEMPLATE, load_template


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    return load_template()


@pytest.fixture(scope="module")
def api(template: dict[str, Any]) -> dict[str, Any]:
    (found,) = [
        resource
        for resource in template["Resources"].values()
        if resource["Type"] == "AWS::Serverless::HttpApi"
    ]
    assert template["Resources"]["HttpApi"] is found
    properties: dict[str, Any] = found["Properties"]
    return properties


@pytest.fixture(scope="module")
def routes(template: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The function's HttpApi events, by name."""
    events = template["Resources"]["NotifierFunction"]["Properties"]["Events"]
    return {
        name: event["Properties"] for name, event in events.items() if event["Type"] == "HttpApi"
    }


def test_the_api_routes_exactly_the_documented_operations_to_the_function(
    routes: dict[str, dict[str, Any]],
) -> None:
    """One route per operation of docs/openapi.yaml, both ways, plus `$default` (no method, no
    path) so that any other request gets the function's own 404/405 problem; every route of
    this API, payload format 2.0, and none of them overrides the API's authorization."""
    explicit = {(r["Method"], r["Path"]) for r in routes.values() if "Path" in r}
    default = [name for name, r in routes.items() if "Path" not in r and "Method" not in r]

    assert explicit == set(openapi.operations())
    assert default == ["OtherRequests"]
    assert all(r["ApiId"] == {"Ref": "HttpApi"} for r in routes.values())
    assert all(r["PayloadFormatVersion"] == "2.0" for r in routes.values())
    assert all("Auth" not in r for r in routes.values())
    assert len(routes) == len(openapi.operations()) + 1


def test_every_request_must_be_signed_by_a_principal_of_the_account(api: dict[str, Any]) -> None:
    """IAM authorization (SigV4, execute-api:Invoke) is the API's default, so every route has
    it; API Gateway refuses unsigned requests (403) before the function runs."""
    assert api["Auth"] == {"EnableIamAuthorizer": True, "DefaultAuthorizer": "AWS_IAM"}
    assert "CorsConfiguration" not in api  # server-to-server: no browser origin is let in


def test_every_request_is_access_logged_to_the_encrypted_log_group(
    template: dict[str, Any], api: dict[str, Any]
) -> None:
    """One JSON line per request (who called, which route, what status, how long) in
    ApiAccessLogGroup, kept LogRetentionDays under the stack's key; never a body or a query
    string (they may hold addresses)."""
    settings = api["AccessLogSettings"]
    group = template["Resources"]["ApiAccessLogGroup"]
    line = settings["Format"]

    assert settings["DestinationArn"] == {"Fn::GetAtt": ["ApiAccessLogGroup", "Arn"]}
    for variable in (
        "$context.requestId",
        "$context.identity.userArn",
        "$context.routeKey",
        "$context.status",
        "$context.responseLatency",
        "$context.integrationErrorMessage",
    ):
        assert variable in line
    assert "body" not in line.lower()
    assert "querystring" not in line.lower()
    assert group["Type"] == "AWS::Logs::LogGroup"
    assert group["Properties"] == {
        "LogGroupName": {"Fn::Sub": "/aws/apigateway/${AWS::StackName}-http"},
        "RetentionInDays": {"Ref": "LogRetentionDays"},
        "KmsKeyId": {"Fn::GetAtt": ["NotifierKey", "Arn"]},
    }


def test_the_key_lets_cloudwatch_logs_encrypt_both_log_groups_and_no_other(
    template: dict[str, Any],
) -> None:
    """The key policy names the function's and the API's log groups exactly as they are named:
    a renamed log group without its key statement could not be written."""
    statements = template["Resources"]["NotifierKey"]["Properties"]["KeyPolicy"]["Statement"]
    (logs,) = [s for s in statements if s["Sid"] == "LogsEncryptsTheStackLogGroups"]
    prefix = "arn:${AWS::Partition}:logs:${AWS::Region}:${AWS::AccountId}:log-group:"
    names = [
        template["Resources"][name]["Properties"]["LogGroupName"]["Fn::Sub"]
        for name in ("FunctionLogGroup", "ApiAccessLogGroup")
    ]

    assert logs["Condition"]["ArnEquals"]["kms:EncryptionContext:aws:logs:arn"] == [
        {"Fn::Sub": prefix + name} for name in names
    ]


def test_the_api_is_throttled_by_its_two_parameters(
    template: dict[str, Any], api: dict[str, Any]
) -> None:
    """Rate and burst for every route together, as parameters (API Gateway answers 429 past
    them): 10 requests per second, bursts of 20, unless the stack says otherwise."""
    parameters = template["Parameters"]

    assert api["DefaultRouteSettings"] == {
        "ThrottlingRateLimit": {"Ref": "ApiThrottlingRateLimit"},
        "ThrottlingBurstLimit": {"Ref": "ApiThrottlingBurstLimit"},
    }
    assert parameters["ApiThrottlingRateLimit"]["Default"] == 10
    assert parameters["ApiThrottlingBurstLimit"]["Default"] == 20
    assert all(
        parameters[name]["Type"] == "Number" and parameters[name]["MinValue"] == 1
        for name in ("ApiThrottlingRateLimit", "ApiThrottlingBurstLimit")
    )
    assert api["FailOnWarnings"] is True


def test_the_enqueue_route_sends_to_the_email_queue_the_function_polls(
    template: dict[str, Any],
) -> None:
    """NOTIFIER_QUEUE_URL is the queue of the function's SQS event source."""
    function = template["Resources"]["NotifierFunction"]["Properties"]

    assert function["Environment"]["Variables"]["NOTIFIER_QUEUE_URL"] == {"Ref": "EmailQueue"}
    assert function["Events"]["EmailQueue"]["Properties"]["Queue"] == {
        "Fn::GetAtt": ["EmailQueue", "Arn"]
    }


def test_the_stack_tells_producers_where_the_api_is(template: dict[str, Any]) -> None:
    outputs = template["Outputs"]

    assert outputs["HttpApiUrl"]["Value"] == {
        "Fn::Sub": "https://${HttpApi}.execute-api.${AWS::Region}.${AWS::URLSuffix}"
    }
    assert outputs["HttpApiArn"]["Value"] == {
        "Fn::Sub": "arn:${AWS::Partition}:execute-api:${AWS::Region}:${AWS::AccountId}:${HttpApi}"
    }


@pytest.mark.parametrize("environment", ["dev", "production"])
def test_each_environment_sets_every_parameter(template: dict[str, Any], environment: str) -> None:
    """samconfig.toml lists every parameter of the template for each environment (for one left
    out, sam deploy would keep the stack's previous value), the API's throttling included."""
    config = tomllib.loads((TEMPLATE.parent / "samconfig.toml").read_text(encoding="utf-8"))
    overrides = config[environment]["deploy"]["parameters"]["parameter_overrides"]

    assert sorted(item.partition("=")[0] for item in overrides) == sorted(template["Parameters"])
