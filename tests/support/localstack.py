"""The tests' LocalStack launcher. It lives in `devtools.localstack`, which `make run` shares;
this module keeps the tests' imports and `python -m tests.support.localstack` working."""

from devtools.localstack import (
    ContainerLocalStack,
    HostLocalStack,
    LocalStack,
    LocalStackError,
    main,
    start_localstack,
)

__all__ = [
    "ContainerLocalStack",
    "HostLocalStack",
    "LocalStack",
    "LocalStackError",
    "start_localstack",
]

if __name__ == "__main__":
    main()
