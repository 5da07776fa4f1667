"""The SES outbox reader. It lives in `devtools.ses_outbox`, which `make run` shares to print
the mail it sends; this module keeps the tests' imports working."""

from devtools.ses_outbox import SentEmail, SesOutbox

__all__ = ["SentEmail", "SesOutbox"]
