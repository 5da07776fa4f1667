"""AWS sessions and clients, made one way for every adapter and command.

botocore, not boto3: the function needs only clients, and importing boto3 on top costs its cold
start about 15 ms. Endpoints come from AWS_ENDPOINT_URL and AWS_ENDPOINT_URL_<SERVICE>
(LocalStack and moto in development), which botocore resolves by itself.

Sessions load botocore's data through `ServicesLoader`, which makes the first client about
30 ms cheaper to create (bench/PROFILE.md, "Cold start, import by import").
"""

from __future__ import annotations

import gzip
import json
import os
import threading
from collections.abc import Callable
from typing import Any, Literal, get_args

import botocore.session
from botocore.config import Config
from botocore.exceptions import ClientError, DataNotFoundError
from botocore.loaders import JSONFileLoader, Loader

Service = Literal["ses", "s3", "cloudwatch", "dynamodb", "sqs", "sns"]
# The clients botocore's own credential providers make: an operator's profile that assumes a
# role (sts) or signs in with IAM Identity Center (sso, sso-oidc) must keep working.
CREDENTIAL_SERVICES = ("sts", "sso", "sso-oidc")


class RegionNotSet(Exception):
    """Neither AWS_REGION nor AWS_DEFAULT_REGION (nor a profile) names a region."""

    def __init__(self) -> None:
        super().__init__("AWS_REGION (or AWS_DEFAULT_REGION) is not set")


def aws_session() -> botocore.session.Session:
    """A botocore session for the configured region. botocore reads AWS_DEFAULT_REGION; Lambda
    sets both, a developer often only AWS_REGION, so that one wins."""
    session = botocore.session.get_session()
    session.register_component("data_loader", ServicesLoader.for_session(session))
    region = os.environ.get("AWS_REGION") or session.get_config_variable("region")
    if not region:
        raise RegionNotSet
    session.set_config_variable("region", region)
    return session


class PlainJSONFileLoader(JSONFileLoader):
    """botocore's data files parsed into plain dicts, not `OrderedDict`s (dicts keep their
    order): endpoints.json, 1.2 MB that every session reads, then parses in a third of the
    time."""

    def load_file(self, file_path: str) -> Any:
        for suffix, opener in ((".json", open), (".json.gz", gzip.open)):
            if os.path.isfile(file_path + suffix):
                with opener(file_path + suffix, "rb") as data:
                    return json.loads(data.read())
        return None


class ServicesLoader(Loader):
    """botocore's loader, knowing only the services this package makes clients for (and those
    botocore's credential providers make).

    Before loading a model, botocore's own loader lists every service it has data for, to
    check that the one asked for is among them: about 450 directories walked, twice (models
    and endpoint rule sets), some 12 ms of the first client."""

    FILE_LOADER_CLASS = PlainJSONFileLoader

    @classmethod
    def for_session(cls, session: botocore.session.Session) -> ServicesLoader:
        """With the session's extra data paths (AWS_DATA_PATH), as botocore's default loader."""
        paths = session.get_config_variable("data_path")
        if not paths:
            return cls()
        return cls([os.path.expanduser(os.path.expandvars(p)) for p in paths.split(os.pathsep)])

    def list_available_services(self, type_name: str) -> list[str]:
        known = (*get_args(Service), *CREDENTIAL_SERVICES)
        return sorted(s for s in known if self._has(s, type_name))

    def _has(self, service: str, type_name: str) -> bool:
        try:
            return bool(self.list_api_versions(service, type_name))
        except DataNotFoundError:
            return False


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


class LazyClient[ClientT]:
    """A client made on first use, once, from `factory`: an adapter most invocations never
    need costs the cold start nothing (botocore's client creation is not thread-safe, hence
    the lock)."""

    def __init__(self, factory: Callable[[], ClientT]) -> None:
        self._factory = factory
        self._made: ClientT | None = None
        self._lock = threading.Lock()

    def get(self) -> ClientT:
        """The client, made now if it was not yet."""
        with self._lock:
            if self._made is None:
                self._made = self._factory()
            return self._made


def error_code(exc: ClientError) -> str:
    """The AWS error code of a failed call (`ThrottlingException`, `NoSuchKey`, ...)."""
    return str(exc.response.get("Error", {}).get("Code", "")) or "Unknown"
