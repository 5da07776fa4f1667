"""`python -m tests.soak --messages N`: start LocalStack and moto, soak, print the account.

Exits 0 when every message is in exactly one place (lost = 0, sent twice = 0), no private data
reached the runner's logs and its memory grew at most 10 % after the warm-up; 1 otherwise.
LocalStack, moto and the runner's log live in a fresh directory under /tmp, kept afterwards.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

from tests.soak.run import SoakConfig, run_soak
from tests.soak.services import say, soak_services


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
    with soak_services(workdir) as (localstack, moto):
        result = run_soak(
            config,
            localstack_url=localstack.endpoint_url,
            moto_url=moto.endpoint_url,
            workdir=workdir,
            progress=say,
        )
    print(result.report())
    print(f"whole run (LocalStack start to stop): {time.monotonic() - began:.0f} s", flush=True)
    return 0 if result.ok else 1


if __name__ == "__main__":
    sys.exit(main())
