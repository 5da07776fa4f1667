"""AWS sessions and clients, made one way for every adapter and command.

botocore, not boto3: the function needs only clients, and importing boto3 on top costs its cold
start about 15 ms. Endpoints come from AWS_ENDPOINT_URL and AWS_ENDPOINT_URL_<SERVICE>
(LocalStack and moto in development), which botocore resolves by itself.
"""

from __future__ import annotations

import os
from typing import Any, Literal

import botocore.session
from botocore.config import Config
from botocore.exceptions import ClientError

Service = Literal["ses", "s3", "cloudwatch", "dynamodb", "sqs", "sns"]


class RegionNotSet(Exception):
    """Neither AWS_REGION nor AWS_DEFAULT_REGION (nor a profile) names a region."""

    def __init__(self) -> None:
        super().__init__("AWS_REGION (or AWS_DEFAULT_REGION) is not set")


def aws_session() -> botocore.session.Session:
    """A botocore session for the configured region. botocore reads AWS_DEFAULT_REGION; Lambda
    sets both, a developer often only AWS_REGION, so that one wins."""
    session = botocore.session.get_session()
    region = os.environ.get("AWS_REGION") or session.get_config_variable("region")
    if not region:
        raise RegionNotSet
    session.set_config_variable("region", region)
    return session


def client(
    session: botocore.session.Session,
    service: Service,
    *,
    retries: int,
    pool: int = 10,
    read_timeout: float = 10.0,
) -> Any:
    """A client with botocore's standard retry mode (`retries` attempts in all), short
    timeouts, and a connection pool of `pool` (at least the number of threads sharing it).
    Typed `Any`: the caller names the client's type (`SESClient`...) where it keeps it."""
    config = Config(
        connect_timeout=3,
        read_timeout=read_timeout,
        max_pool_connections=max(10, pool),
        retries={"mode": "standard", "total_max_attempts": retries},
    )
    return session.create_client(service, config=config)


def error_code(exc: ClientError) -> str:
    """The AWS error code of a failed call (`ThrottlingException`, `NoSuchKey`, ...)."""
    return str(exc.response.get("Error", {}).get("Code", "")) or "Unknown"
