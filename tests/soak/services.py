"""LocalStack and moto for a soak run from the command line, this process's boto3 aimed at them.

Both soaks (`python -m tests.soak`, `python -m tests.soak quota`) start their own, in a fresh
directory kept afterwards; under pytest the e2e session's are used instead.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator
from pathlib import Path

from tests.soak.run import REGION
from tests.support.localstack import LocalStack, start_localstack
from tests.support.moto import MotoServer, start_moto

SERVICES = "sqs,sns,ses,s3"


@contextlib.contextmanager
def soak_services(workdir: Path) -> Iterator[tuple[LocalStack, MotoServer]]:
    """A LocalStack and a moto (DynamoDB) with their files under `workdir`, stopped on exit."""
    (workdir / "localstack").mkdir()
    (workdir / "moto").mkdir()
    localstack = start_localstack(services=SERVICES, workdir=workdir / "localstack")
    try:
        moto = start_moto(workdir=workdir / "moto")
        try:
            # This process provisions and queues through boto3: point it at them, and only them.
            for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN"):
                os.environ.pop(name, None)
            os.environ.update(
                AWS_ENDPOINT_URL=localstack.endpoint_url,
                AWS_ENDPOINT_URL_DYNAMODB=moto.endpoint_url,
                AWS_ACCESS_KEY_ID="test",
                AWS_SECRET_ACCESS_KEY="test",  # LocalStack's fake credentials
                AWS_REGION=REGION,
                AWS_DEFAULT_REGION=REGION,
            )
            yield localstack, moto
        finally:
            moto.stop()
    finally:
        localstack.stop()


def say(line: str) -> None:
    """Progress, on stderr: stdout carries the report."""
    print(line, file=sys.stderr, flush=True)
