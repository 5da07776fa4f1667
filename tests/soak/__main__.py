"""`python -m tests.soak --messages N`: start LocalStack and moto, soak, print the account.

Exits 0 when every message is in exactly one place (lost = 0, sent twice = 0), no private data
reached the runner's logs and its memory grew at most 10 % after the warm-up; 1 otherwise.
LocalStack, moto and the runner's log live in a fresh directory under /tmp, kept afterwards.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

from tests.soak.run import REGION, SoakConfig, run_soak
from tests.support.localstack import start_localstack
from tests.support.moto import start_moto

SERVICES = "sqs,sns,ses,s3"


def main(argv: list[str] | None = None) -> int:
    defaults = SoakConfig()
    parser = argparse.ArgumentParser(prog="python -m tests.soak", description=__doc__)
    parser.add_argument("--messages", type=int, default=defaults.messages)
    parser.add_argument("--throttle", type=float, default=defaults.throttle)
    parser.add_argument("--invalid", type=float, default=defaults.invalid)
    parser.add_argument("--duplicates", type=float, default=defaults.duplicates)
    parser.add_argument("--visibility-timeout", type=int, default=defaults.visibility_timeout)
    parser.add_argument("--seed", type=int, default=defaults.seed)
    parser.add_argument("--timeout", type=float, default=defaults.timeout_s, help="seconds")
    args = parser.parse_args(argv)
    config = SoakConfig(
        messages=args.messages,
        throttle=args.throttle,
        invalid=args.invalid,
        duplicates=args.duplicates,
        visibility_timeout=args.visibility_timeout,
        seed=args.seed,
        timeout_s=args.timeout,
    )
    workdir = Path(tempfile.mkdtemp(prefix="notifier-soak-"))
    began = time.monotonic()
    say(f"soak: {config.messages} messages; LocalStack, moto and logs in {workdir}")
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
            result = run_soak(
                config,
                localstack_url=localstack.endpoint_url,
                moto_url=moto.endpoint_url,
                workdir=workdir,
                progress=say,
            )
        finally:
            moto.stop()
    finally:
        localstack.stop()
    print(result.report())
    print(f"whole run (LocalStack start to stop): {time.monotonic() - began:.0f} s", flush=True)
    return 0 if result.ok else 1


def say(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


if __name__ == "__main__":
    sys.exit(main())
