"""The runtime's entry point, copied into the runtime directory as `bootstrap.py`: what the AWS
base image's /var/runtime/bootstrap does before it hands the handler to awslambdaric.

`devtools.execution_env` runs it with `python3.12 -I -S -B`, so sys.path holds the standard
library alone; this puts the task root, then the runtime directory, in front, in Lambda's order
(the function's own packages first: the image's pins win over anything the runtime brings).
Standard library only: nothing else can be imported before the path is set.
"""

import importlib
import os
import sys


def set_sys_path() -> None:
    """The task root and the runtime directory, before the standard library."""
    sys.path[0:0] = [os.environ["LAMBDA_TASK_ROOT"], os.environ["LAMBDA_RUNTIME_DIR"]]


def main() -> None:
    """Start the runtime interface client on the handler Lambda names in `_HANDLER`."""
    set_sys_path()
    client = importlib.import_module("awslambdaric.__main__")
    client.main([sys.argv[0], os.environ["_HANDLER"]])


if __name__ == "__main__":
    main()
