"""The reconciliation soak: N messages through SQS -> runner -> handler -> throttled SES, and
an account of where every one of them went (`python -m tests.soak --messages N`, `make soak`)."""

from tests.soak.run import SoakConfig, SoakResult, run_soak

__all__ = ["SoakConfig", "SoakResult", "run_soak"]
