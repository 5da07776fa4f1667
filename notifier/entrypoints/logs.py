"""structlog setup: JSON lines in Lambda and pipes, a readable console in a terminal."""

from __future__ import annotations

import logging
import sys

import structlog

# Libraries log through the standard `logging` module. In Lambda, awslambdaric sets the root
# logger to the function's application log level (template.yaml: TRACE, so DEBUG), and
# botocore's debug lines carry the signed request (session token, access key) and the raw
# message (addresses, bodies). These loggers keep warnings and errors only, whatever the root.
QUIET_LIBRARIES = ("botocore", "boto3", "urllib3", "s3transfer")


def configure_logging(level: str, *, json_lines: bool | None = None) -> None:
    """Configure structlog once per process; `json_lines=None` picks by whether stdout is a TTY."""
    if json_lines is None:
        json_lines = not sys.stdout.isatty()
    renderer: structlog.typing.Processor = (
        structlog.processors.JSONRenderer()
        if json_lines
        else structlog.dev.ConsoleRenderer(colors=False)
    )
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            # Never show_locals: a frame's locals hold message bodies and addresses.
            structlog.processors.ExceptionRenderer(
                structlog.tracebacks.ExceptionDictTransformer(show_locals=False)
            )
            if json_lines
            else structlog.dev.set_exc_info,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelNamesMapping()[level]),
        logger_factory=structlog.PrintLoggerFactory(sys.stdout),
        cache_logger_on_first_use=True,
    )
    for name in QUIET_LIBRARIES:
        logging.getLogger(name).setLevel(logging.WARNING)
