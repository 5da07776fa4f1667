"""`python -m tests.soak --messages N`: start LocalStack and moto, soak, print the account.

Exits 0 when every message is in exactly one place (lost = 0, sent twice = 0), no private data
reached the runner's logs and its memory grew at most 10 % after the warm-up; 1 otherwise.
LocalStack, moto and the runner's log live in a fresh directory under /tmp, kept afterwards.

`python -m tests.soak quota [--bulk N --transactional M]` runs the quota soak instead
(tests/soak/quota.py): a bulk flood and a steady transactional producer through a
rate-limited SES; exits 0 on PASS.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

from tests.soak import quota as quota_soak
from tests.soak.quota import QuotaConfig, run_quota_soak
from tests.soak.run import SoakConfig, run_soak
from tests.soak.services import say, soak_services


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["quota"]:
        return quota_main(argv[1:])
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


def quota_main(argv: list[str]) -> int:
    defaults = QuotaConfig()
    parser = argparse.ArgumentParser(
        prog="python -m tests.soak quota", description=quota_soak.__doc__
    )
    parser.add_argument("--bulk", type=int, default=defaults.bulk, help="A's bulk messages")
    parser.add_argument(
        "--transactional", type=int, default=defaults.transactional, help="B's messages"
    )
    parser.add_argument("--ses-rate", type=float, default=defaults.ses_rate, help="per second")
    parser.add_argument("--seed", type=int, default=defaults.seed)
    parser.add_argument("--timeout", type=float, default=defaults.timeout_s, help="seconds")
    parser.add_argument(
        "--without-priority-field",
        action="store_true",
        help="leave `priority` out of A's messages: only to try the harness on a function that"
        " does not know the field yet (it refuses it as unknown); the soak then fails",
    )
    args = parser.parse_args(argv)
    config = QuotaConfig(
        bulk=args.bulk,
        transactional=args.transactional,
        ses_rate=args.ses_rate,
        seed=args.seed,
        timeout_s=args.timeout,
        priority_field=not args.without_priority_field,
    )
    workdir = Path(tempfile.mkdtemp(prefix="notifier-quota-soak-"))
    say(f"quota soak: {config.bulk} bulk + {config.transactional}; files in {workdir}")
    with soak_services(workdir) as (localstack, moto):
        result = run_quota_soak(
            config,
            localstack_url=localstack.endpoint_url,
            moto_url=moto.endpoint_url,
            workdir=workdir,
            progress=say,
        )
    print(result.report(), flush=True)
    return 0 if result.ok else 1


if __name__ == "__main__":
    sys.exit(main())
