"""Outbound adapters without a network: botocore's Stubber plays SES, a StringIO plays stdout."""

from __future__ import annotations

import io
import json

import boto3
import pytest
from botocore.stub import Stubber

from notifier.adapters.outbound.metrics import CloudWatchApiMetrics, EmfMetrics
from notifier.adapters.outbound.ses import SesMailer
from notifier.domain.errors import DependencyUnavailable, MessageRejected, SendThrottled
from notifier.domain.ports import Unit


class FakeClock:
    """Monotonic time that only moves when the test says so."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def send(mailer: SesMailer, deadline: float) -> str:
    return mailer.send_raw(
        raw=b"raw", source="a@x.com", destinations=("b@y.com",), deadline=deadline
    )


def test_throttling_is_retried_until_ses_accepts(ses: tuple[object, Stubber]) -> None:
    """GIVEN two Throttling answers THEN the third attempt's message id is returned."""
    client, stubber = ses
    for _ in range(2):
        stubber.add_client_error("send_raw_email", "Throttling", "Maximum sending rate exceeded")
    stubber.add_response("send_raw_email", {"MessageId": "ses-1"})
    clock = FakeClock()
    mailer = SesMailer(client, max_attempts=4, backoff_seconds=0.001, clock=clock)  # type: ignore[arg-type]
    assert send(mailer, deadline=clock() + 60) == "ses-1"


def test_throttling_past_the_attempts_is_a_transient_error(ses: tuple[object, Stubber]) -> None:
    """After `max_attempts` the error says throttled, so the message is retried later."""
    client, stubber = ses
    for _ in range(2):
        stubber.add_client_error("send_raw_email", "Throttling", "slow down")
    clock = FakeClock()
    mailer = SesMailer(client, max_attempts=2, backoff_seconds=0.001, clock=clock)  # type: ignore[arg-type]
    with pytest.raises(SendThrottled):
        send(mailer, deadline=clock() + 60)


@pytest.mark.parametrize(
    "code",
    [
        "MessageRejected",
        "MailFromDomainNotVerifiedException",
        "ConfigurationSetDoesNotExist",
        "AccountSendingPausedException",
    ],
)
def test_permanent_rejections_are_not_retried(ses: tuple[object, Stubber], code: str) -> None:
    """One call only (the stubber would fail on a second), and the error is permanent."""
    client, stubber = ses
    stubber.add_client_error("send_raw_email", code, "no", http_status_code=400)
    clock = FakeClock()
    mailer = SesMailer(client, max_attempts=5, backoff_seconds=0.001, clock=clock)  # type: ignore[arg-type]
    with pytest.raises(MessageRejected) as caught:
        send(mailer, deadline=clock() + 60)
    assert caught.value.code == code


def test_the_configuration_set_is_passed_to_ses(ses: tuple[object, Stubber]) -> None:
    """NOTIFIER_SES_CONFIGURATION_SET becomes SendRawEmail's ConfigurationSetName."""
    client, stubber = ses
    expected = {
        "Source": "a@x.com",
        "Destinations": ["b@y.com"],
        "RawMessage": {"Data": b"raw"},
        "ConfigurationSetName": "tracking",
    }
    stubber.add_response("send_raw_email", {"MessageId": "ses-2"}, expected)
    clock = FakeClock()
    mailer = SesMailer(client, max_attempts=1, configuration_set="tracking", clock=clock)  # type: ignore[arg-type]
    assert send(mailer, deadline=clock() + 60) == "ses-2"


def test_server_errors_are_transient(ses: tuple[object, Stubber]) -> None:
    """A 500/503 is retried and, if it persists, reported as transient."""
    client, stubber = ses
    stubber.add_client_error("send_raw_email", "ServiceUnavailable", "down", http_status_code=503)
    clock = FakeClock()
    mailer = SesMailer(client, max_attempts=1, clock=clock)  # type: ignore[arg-type]
    with pytest.raises(DependencyUnavailable):
        send(mailer, deadline=clock() + 60)


def test_no_call_is_made_past_the_deadline(ses: tuple[object, Stubber]) -> None:
    """With less than a second left, SES is not called at all (no response is queued)."""
    client, _stubber = ses
    clock = FakeClock()
    mailer = SesMailer(client, max_attempts=5, clock=clock)  # type: ignore[arg-type]
    with pytest.raises(DependencyUnavailable, match="no time left"):
        send(mailer, deadline=clock() + 0.5)


def test_retries_stop_before_the_deadline(ses: tuple[object, Stubber]) -> None:
    """A backoff that would end past the deadline is not slept: the error is raised at once."""
    client, stubber = ses
    stubber.add_client_error("send_raw_email", "Throttling", "slow down")
    clock = FakeClock()
    mailer = SesMailer(client, max_attempts=5, backoff_seconds=100, clock=clock)  # type: ignore[arg-type]
    # Exactly one attempt's worth of time: any backoff at all would end past the deadline.
    with pytest.raises(SendThrottled):
        send(mailer, deadline=clock() + 1.0)


def test_emf_lines_are_valid_embedded_metric_format() -> None:
    """Each line is a JSON document whose directive names its metric, unit and dimensions."""
    out = io.StringIO()
    metrics = EmfMetrics("Notifier", stream=out, clock=lambda: 1_700_000_000.0)
    metrics.add("EmailsSent", 1, Unit.COUNT)
    metrics.add("EmailsSent", 1, Unit.COUNT)
    metrics.add("EmailsFailed", 1, Unit.COUNT, reason="invalid")
    metrics.add("SendLatency", 12.5, Unit.MILLISECONDS)
    metrics.add("SendLatency", 20.0, Unit.MILLISECONDS)
    metrics.flush()
    documents = [json.loads(line) for line in out.getvalue().splitlines()]
    by_name = {}
    for document in documents:
        (directive,) = document["_aws"]["CloudWatchMetrics"]
        (metric,) = directive["Metrics"]
        assert document["_aws"]["Timestamp"] == 1_700_000_000_000
        assert directive["Namespace"] == "Notifier"
        for dimension_set in directive["Dimensions"]:
            assert all(name in document for name in dimension_set)
        by_name[metric["Name"]] = (
            document[metric["Name"]],
            metric["Unit"],
            directive["Dimensions"],
        )
    assert by_name["EmailsSent"] == (2, "Count", [["Service"]])
    assert by_name["EmailsFailed"] == (1, "Count", [["Service"], ["Service", "Reason"]])
    assert by_name["SendLatency"] == ([12.5, 20.0], "Milliseconds", [["Service"]])
    out.truncate(0)
    metrics.flush()
    assert out.getvalue().strip("\x00") == ""


def test_a_percentage_is_kept_as_recorded_not_summed() -> None:
    """GIVEN two percentages in one invocation WHEN EMF flushes THEN both values are written
    with the unit `Percent` (only counts are summed: two 50% readings are not 100%)."""
    out = io.StringIO()
    metrics = EmfMetrics("Notifier", stream=out, clock=lambda: 1_700_000_000.0)
    metrics.add("DailyQuotaUsedPercent", 50.0, Unit.PERCENT)
    metrics.add("DailyQuotaUsedPercent", 50.0, Unit.PERCENT)

    metrics.flush()

    (document,) = [json.loads(line) for line in out.getvalue().splitlines()]
    (directive,) = document["_aws"]["CloudWatchMetrics"]
    assert directive["Metrics"] == [{"Name": "DailyQuotaUsedPercent", "Unit": "Percent"}]
    assert document["DailyQuotaUsedPercent"] == [50.0, 50.0]


def test_put_metric_data_sends_a_percentage_with_its_unit() -> None:
    """`PutMetricData` (NOTIFIER_METRICS_MODE=api) names the unit `Percent`, which CloudWatch
    accepts (the stubber checks the request against the service model)."""
    client = boto3.client(
        "cloudwatch", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x"
    )
    metrics = CloudWatchApiMetrics(client, "Notifier")
    metrics.add("DailyQuotaUsedPercent", 12.5, Unit.PERCENT)
    expected = {
        "Namespace": "Notifier",
        "MetricData": [
            {
                "MetricName": "DailyQuotaUsedPercent",
                "Unit": "Percent",
                "Values": [12.5],
                "Dimensions": [{"Name": "Service", "Value": "notifier"}],
            }
        ],
    }
    with Stubber(client) as stubber:
        stubber.add_response("put_metric_data", {}, expected)
        metrics.flush()
        stubber.assert_no_pending_responses()
