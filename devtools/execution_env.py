"""A Lambda execution environment on this machine: the function's tree run by the real runtime
interface client, in an interpreter that sees nothing else.

- the runtime directory, the base image's /var/runtime: awslambdaric and its dependencies
  (requirements/lambda-runtime.txt) and `bootstrap.py` (`devtools/lambda_bootstrap.py`);
- the task root that `devtools.image_tree` builds, /var/task, also the working directory;
- `python3.12 -I -S -B bootstrap.py`, as /var/runtime/bootstrap starts the runtime;
- `lambda_environment()`: what Lambda sets, the image's ENV and the function's variables;
- `devtools.runtime_api.RuntimeApi` on 127.0.0.1, for Lambda's Runtime API.

`-I` drops PYTHON* variables, the script's directory and the user's site directory, `-S` skips
`site` (no site-packages at all) and `-B` writes no byte code (Lambda's file system is
read-only): sys.path is the task root, the runtime directory and the standard library. Nothing
from the developer's environment is passed on.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from collections.abc import Mapping
from concurrent.futures import FIRST_COMPLETED, Future, wait
from pathlib import Path
from typing import Any

import attrs

from devtools.image_tree import REPO_ROOT, ImageTree, install_wheels
from devtools.processes import spawn, stop_group, tail
from devtools.runtime_api import Posted, RuntimeApi

RUNTIME_LOCK_FILE = REPO_ROOT / "requirements" / "lambda-runtime.txt"
BOOTSTRAP = Path(__file__).with_name("lambda_bootstrap.py")
INTERPRETER_FLAGS = ("-I", "-S", "-B")
# The base image's bootstrap exports it; awslambdaric reads it (thread polling, JSON encoding).
EXECUTION_ENV = "AWS_Lambda_python3.12"
ACCOUNT_ID = "000000000000"  # LocalStack's
# The execution role's credentials as Lambda passes them; LocalStack takes any.
TEST_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "test",
    "AWS_SECRET_ACCESS_KEY": "test",
    "AWS_SESSION_TOKEN": "test",
}
ANSWER_GRACE_S = 5.0  # past the deadline, before an unanswered invocation counts as lost
INIT_TIMEOUT_S = 30.0


class FunctionError(RuntimeError):
    """The function did not start or answer as it should; the message carries its output."""


class InitFailed(FunctionError):
    """The runtime reported that the function could not start (`/runtime/init/error`)."""

    def __init__(self, message: str, posted: Posted) -> None:
        super().__init__(message)
        self.posted = posted


class InvocationFailed(FunctionError):
    """The runtime posted an error for the invocation (an exception escaped the handler)."""

    def __init__(self, message: str, posted: Posted) -> None:
        super().__init__(message)
        self.posted = posted


@attrs.frozen
class FunctionConfig:
    """The function as template.yaml configures it, and what the test points it at."""

    variables: Mapping[str, str] = attrs.field(factory=dict)  # Environment.Variables
    handler: str | None = None  # ImageConfig.Command; None: the image's CMD
    name: str = "notifier"
    region: str = "us-east-1"
    memory_mb: int = 256
    timeout_s: float = 30.0
    log_format: str = "JSON"  # LoggingConfig.LogFormat
    log_level: str = "TRACE"  # LoggingConfig.ApplicationLogLevel
    credentials: Mapping[str, str] = TEST_CREDENTIALS

    @property
    def function_arn(self) -> str:
        return f"arn:aws:lambda:{self.region}:{ACCOUNT_ID}:function:{self.name}"


def install_runtime(target: Path, *, lock: Path = RUNTIME_LOCK_FILE) -> Path:
    """The runtime directory (the base image's /var/runtime) at `target`: `lock`'s wheels,
    for the image's platform and Python as the task root's, and `bootstrap.py`."""
    install_wheels(lock=lock, target=target)
    shutil.copyfile(BOOTSTRAP, target / "bootstrap.py")
    return target


def lambda_environment(
    config: FunctionConfig, *, tree: ImageTree, runtime_dir: Path, api_address: str
) -> dict[str, str]:
    """Every variable the function's process gets, and no other."""
    handler = config.handler or tree.command[0]
    return {
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "LANG": "en_US.UTF-8",
        "TZ": ":UTC",
        # Lambda's order, without the system's directories: the runtime's, then the function's.
        "LD_LIBRARY_PATH": f"{runtime_dir}:{runtime_dir}/lib:{tree.task_root}:{tree.task_root}/lib",
        "LAMBDA_TASK_ROOT": str(tree.task_root),
        "LAMBDA_RUNTIME_DIR": str(runtime_dir),
        "AWS_LAMBDA_RUNTIME_API": api_address,
        "AWS_EXECUTION_ENV": EXECUTION_ENV,
        "_HANDLER": handler,
        "AWS_REGION": config.region,
        "AWS_DEFAULT_REGION": config.region,
        "AWS_LAMBDA_FUNCTION_NAME": config.name,
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(config.memory_mb),
        "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",
        "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{config.name}",
        "AWS_LAMBDA_LOG_STREAM_NAME": "2026/01/01/[$LATEST]00000000000000000000000000000000",
        "AWS_LAMBDA_LOG_FORMAT": config.log_format,
        "AWS_LAMBDA_LOG_LEVEL": config.log_level,
        **config.credentials,
        **tree.environment,
        **config.variables,
    }


class ExecutionEnvironment:
    """One runtime process and the Runtime API it polls; `stop()` ends both."""

    def __init__(
        self, *, api: RuntimeApi, process: subprocess.Popen[bytes], output: Path, timeout_s: float
    ) -> None:
        self.api = api
        self.process = process
        self.output_path = output
        self.timeout_s = timeout_s

    @classmethod
    def start(
        cls,
        *,
        tree: ImageTree,
        runtime_dir: Path,
        python: Path,
        config: FunctionConfig,
        workdir: Path,
    ) -> ExecutionEnvironment:
        """Serve the Runtime API and start the runtime on it: it initialises (imports the
        handler) at once, as Lambda's cold start does, then polls for an invocation."""
        api = RuntimeApi(function_arn=config.function_arn)
        environment = lambda_environment(
            config, tree=tree, runtime_dir=runtime_dir, api_address=api.address
        )
        output = workdir / "function.log"
        try:
            process = spawn(
                [str(python), *INTERPRETER_FLAGS, str(runtime_dir / "bootstrap.py")],
                env=environment,
                workdir=tree.task_root,
                log_path=output,
            )
        except BaseException:
            api.close()
            raise
        return cls(api=api, process=process, output=output, timeout_s=config.timeout_s)

    def invoke(self, event: Any) -> Any:
        """One invocation with `event` (as JSON): the handler's response, decoded.

        Raises `InvocationFailed` when the handler raised, `InitFailed` when the function
        could not start, `FunctionError` when the runtime died or did not answer in time.
        """
        invocation = self.api.invoke(json.dumps(event).encode(), timeout_s=self.timeout_s)
        posted = self._wait(invocation.posted, timeout_s=self.timeout_s + ANSWER_GRACE_S)
        if posted.kind == "error":
            raise InvocationFailed(self._describe(posted, "the handler failed"), posted)
        return posted.json()

    def wait_for_init_error(self, *, timeout_s: float = INIT_TIMEOUT_S) -> Posted:
        """The init error the runtime reports, once it has also exited (Lambda's runtime exits
        after reporting one). `FunctionError` if it starts instead, or exits without one."""
        posted = self._wait(self.api.init_error, timeout_s=timeout_s)
        try:
            self.process.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            message = self._describe(posted, "it reported an init error but runs on")
            raise FunctionError(message) from None
        return posted

    def output(self) -> str:
        """Everything the runtime and the handler wrote (stdout and stderr)."""
        return self.output_path.read_text(encoding="utf-8", errors="replace")

    def stop(self) -> None:
        """Stop the runtime (SIGTERM, as Lambda's shutdown does), then the Runtime API."""
        try:
            stop_group(self.process)
        finally:
            self.api.close()

    def _wait(self, answer: Future[Posted], *, timeout_s: float) -> Posted:
        init_error = self.api.init_error
        deadline = time.monotonic() + timeout_s
        while not answer.done():
            if init_error.done():
                raise InitFailed(
                    self._describe(init_error.result(), "the function could not start"),
                    init_error.result(),
                )
            if self.process.poll() is not None:
                raise FunctionError(
                    f"the runtime exited with code {self.process.returncode} without answering"
                    f"\n{self._context()}"
                )
            if time.monotonic() >= deadline:
                raise FunctionError(f"no answer within {timeout_s:.0f} s\n{self._context()}")
            wait([answer, init_error], timeout=0.1, return_when=FIRST_COMPLETED)
        return answer.result()

    def _describe(self, posted: Posted, what: str) -> str:
        error_type = f" {posted.error_type}:" if posted.error_type else ""
        return f"{what}:{error_type} {posted.body.decode(errors='replace')}\n{self._context()}"

    def _context(self) -> str:
        requests = "\n".join(f"  {line}" for line in self.api.requests) or "  (none)"
        return f"Runtime API requests:\n{requests}\n{tail(self.output_path)}"
