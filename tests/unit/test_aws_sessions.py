"""Sessions from `aws_session()` make the same clients as botocore's default session.

Their `ServicesLoader` skips botocore's scan of every service directory and parses data into
plain dicts (notifier/adapters/outbound/aws.py); what a client is built from must not change.
"""

from __future__ import annotations

from typing import get_args

import botocore.exceptions
import botocore.loaders
import botocore.session
import pytest

from notifier.adapters.outbound.aws import Service, ServicesLoader, aws_session, client

SERVICES = get_args(Service)


def test_the_loader_reads_the_same_data_as_botocore_s() -> None:
    """Every model and rule set of our services, the endpoints and the partitions."""
    ours, botocore_s = ServicesLoader(), botocore.loaders.create_loader()
    for service in SERVICES:
        for type_name in ("service-2", "endpoint-rule-set-1"):
            assert ours.load_service_model(service, type_name) == botocore_s.load_service_model(
                service, type_name
            )
    for name in ("endpoints", "partitions", "sdk-default-configuration"):
        assert ours.load_data(name) == botocore_s.load_data(name)


@pytest.mark.parametrize("region", ["us-east-1", "eu-west-3", "cn-north-1"])
@pytest.mark.parametrize("service", SERVICES)
def test_clients_resolve_as_botocore_s(
    monkeypatch: pytest.MonkeyPatch, region: str, service: Service
) -> None:
    """Same endpoint, partition, signing name and operations, in every partition."""
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    monkeypatch.setenv("AWS_REGION", region)
    default = botocore.session.get_session()
    default.set_config_variable("region", region)
    made = [client(session, service, retries=1) for session in (aws_session(), default)]
    ours, theirs = (
        (
            c.meta.endpoint_url,
            c.meta.partition,
            c.meta.service_model.signing_name,
            c.meta.service_model.operation_names,
        )
        for c in made
    )
    assert ours == theirs


def test_a_service_this_package_never_uses_is_unknown(monkeypatch: pytest.MonkeyPatch) -> None:
    """The loader knows only the services of `Service`: a typo cannot make a client."""
    monkeypatch.setenv("AWS_REGION", "us-east-1")
    with pytest.raises(botocore.exceptions.UnknownServiceError):
        aws_session().create_client("lambda", region_name="us-east-1")


@pytest.mark.parametrize("service", ["sts", "sso", "sso-oidc"])
def test_the_credential_providers_clients_can_be_made(
    monkeypatch: pytest.MonkeyPatch, service: str
) -> None:
    """An operator's profile that assumes a role or uses IAM Identity Center makes an STS or SSO
    client inside botocore: the loader must know them, or `python -m notifier status` fails
    for that operator with UnknownServiceError."""
    monkeypatch.setenv("AWS_REGION", "us-east-1")
    made = aws_session().create_client(service, region_name="us-east-1")
    assert made.meta.service_model.service_name == service
