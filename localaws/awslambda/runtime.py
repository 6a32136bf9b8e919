"""Invoke a handler the way AWS Lambda's Python runtime does.

Reproduces (AWS Lambda developer guide: "Lambda execution environment lifecycle", "Configure
Lambda function timeout", "Defined runtime environment variables", "Using the Lambda context
object … in Python"):

- one execution environment = one process (``LambdaContainer``): the handler module is imported
  once at init, then serves invocations one after another, a new context each time, because
  Lambda reuses warm environments; ``invoke`` is a cold start in a fresh process;
- the code directory is ``/var/task``: first on ``sys.path`` and the working directory, while
  the tests directory and the project root are not importable (the child runs
  ``awslambda.bootstrap`` under ``python -I``); the venv's site-packages stand for the runtime's
  boto3 (crhelper would be vendored in the zip);
- the function timeout: at the deadline the process is killed and the invocation reported as
  timed out (``Sandbox.Timedout``, "Task timed out after N seconds"); the environment is gone, so
  the next invocation of a warm container is a cold start;
- the runtime's reserved environment variables (``AWS_LAMBDA_FUNCTION_NAME``, ``_HANDLER``,
  ``LAMBDA_TASK_ROOT`` …) are set by the runtime and cannot be set by the function's
  configuration; the process does not inherit the host's environment.

Also ``invoke_in_process`` for fast tests: the same context object and log format, in this
process, without isolation or a hard timeout (a late return is flagged as ``timed_out``).
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime
import io
import json
import logging
import os
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any, Literal

from localaws.awslambda.bootstrap import (
    LambdaContext,
    RequestIdFilter,
    lambda_log_handler,
    run_handler,
)

BOOTSTRAP = Path(__file__).with_name("bootstrap.py")
# Paths that must never be importable in the child: the project root (which holds this package
# and the tests) and the tests directory.
_ROOT = Path(__file__).resolve().parents[2]
HARNESS_PATHS = (_ROOT, _ROOT / "tests")
DEFAULT_INIT_TIMEOUT = 10.0  # Lambda's init phase limit
RUNTIME_VERSION = "python3.13"

# Set by Lambda itself; a function's configuration cannot set them (Lambda developer guide,
# "Defined runtime environment variables"). AWS_REGION/AWS_DEFAULT_REGION are reserved too but
# accepted when they agree with the function's region (LocalAws.env() carries them); the
# credentials stand for the execution role's and may be given.
RESERVED_VARIABLES = frozenset(
    {
        "_HANDLER",
        "_X_AMZN_TRACE_ID",
        "AWS_EXECUTION_ENV",
        "AWS_LAMBDA_FUNCTION_NAME",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
        "AWS_LAMBDA_FUNCTION_VERSION",
        "AWS_LAMBDA_INITIALIZATION_TYPE",
        "AWS_LAMBDA_LOG_GROUP_NAME",
        "AWS_LAMBDA_LOG_STREAM_NAME",
        "AWS_LAMBDA_RUNTIME_API",
        "LAMBDA_TASK_ROOT",
        "LAMBDA_RUNTIME_DIR",
    }
)


@dataclass(frozen=True)
class ClockSeam:
    """Where a function keeps its one injectable clock: module ``module``'s attribute
    ``attribute``, an object with ``monotonic()``, ``time()``, ``from_wall_time(seconds)`` and
    ``sleep(seconds)``. On compressed time the runtime replaces it with a ``ScaledClock`` after
    the handler's import (a name, not an object: a Lambda-like process imports it itself)."""

    module: str
    attribute: str = "clock"

    def __post_init__(self) -> None:
        names = [*self.module.split("."), self.attribute]
        if not all(name.isidentifier() for name in names):
            raise ValueError(
                f"ClockSeam({self.module!r}, {self.attribute!r}): not a module path "
                "and an attribute name"
            )


@dataclass(frozen=True)
class FunctionConfig:
    """A Lambda function's configuration, as far as running it locally needs."""

    code_dir: Path
    handler: str
    timeout: float = 3.0
    function_name: str = "localaws-function"
    environment: Mapping[str, str] = field(default_factory=dict)
    region: str = "us-east-1"
    account_id: str = "123456789012"
    memory_mb: int = 128
    # Compressed time: real seconds per model second. ``timeout`` stays in model seconds; the
    # process is killed after ``timeout * time_scale`` real ones, and the function's clock
    # (``clock``) is replaced by a scaled one.
    time_scale: float = 1.0
    clock: ClockSeam | None = None
    # "module:function" callables run once at init, after the handler's import: the bench's
    # stand-in for the CPU each real Lambda container has to itself (it creates boto3 clients
    # before the clock starts, which two shared cores would otherwise serialise).
    warm_up: tuple[str, ...] = ()

    @property
    def real_timeout(self) -> float:
        return self.timeout * self.time_scale

    def __post_init__(self) -> None:
        # Lambda takes whole seconds from 1 to 900; fractions are allowed for compressed tests.
        if not 0 < self.timeout <= 900:
            raise ValueError("a Lambda timeout is more than 0 s and at most 900 s")
        if not self.time_scale > 0:
            raise ValueError("time_scale must be positive")
        if not Path(self.code_dir).is_dir():
            raise ValueError(f"code directory {self.code_dir} does not exist")
        reserved = sorted(RESERVED_VARIABLES & set(self.environment))
        if reserved:
            raise ValueError(f"reserved Lambda environment variables cannot be set: {reserved}")
        for name in ("AWS_REGION", "AWS_DEFAULT_REGION"):
            if self.environment.get(name, self.region) != self.region:
                raise ValueError(f"{name} is reserved and must equal the region {self.region}")

    @property
    def function_arn(self) -> str:
        return f"arn:aws:lambda:{self.region}:{self.account_id}:function:{self.function_name}"

    @property
    def log_group_name(self) -> str:
        return f"/aws/lambda/{self.function_name}"


@dataclass(frozen=True)
class InvocationResult:
    """What one invocation did. ``error`` is Lambda's error document when it failed."""

    request_id: str
    ok: bool
    payload: Any
    error: Mapping[str, Any] | None
    timed_out: bool
    exit_status: int | None
    duration: float
    stdout: str
    stderr: str
    cold_start: bool

    @property
    def logs(self) -> str:
        """Everything the function logged (stdout then stderr)."""
        return self.stdout + self.stderr


def _log_stream_name() -> str:
    return f"{datetime.datetime.now(datetime.UTC):%Y/%m/%d}/[$LATEST]{uuid.uuid4().hex}"


class ForkServer:
    """One process that runs the function's init phase once, then forks each execution
    environment from there (``bootstrap.py --control-fd``).

    A forked environment is what a started ``LambdaContainer`` is after its init: the handler
    imported, the clock seam and the warm-ups applied, in memory of its own from then on (the
    modules' pages shared copy-on-write until written). What differs is what no function sees:
    one init instead of one per environment, and far less memory per environment, so that a
    thousand environments fit on one machine.
    """

    def __init__(self, config: FunctionConfig, *, init_timeout: float = DEFAULT_INIT_TIMEOUT):
        self.config = config
        self._workdir = Path(tempfile.mkdtemp(prefix="localaws-forkserver-"))
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        self._socket = ours
        self._lock = threading.Lock()
        self._ended: dict[int, int] = {}
        self._forked: list[int] = []
        self._changed = threading.Condition()
        with (
            open(self._workdir / "init.stdout", "wb") as out,
            open(self._workdir / "init.stderr", "wb") as err,
        ):
            self._process = subprocess.Popen(
                [*_bootstrap_command(config), "--control-fd", str(theirs.fileno())],
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=err,
                env=_environment(config, "forkserver"),
                cwd=str(config.code_dir),
                pass_fds=(theirs.fileno(),),
                start_new_session=True,
            )
        theirs.close()
        self._reader = self._socket.makefile("rb")
        ready = _readable(self._socket.fileno(), init_timeout)
        init = json.loads(self._reader.readline() or b"null") if ready else None
        if not (isinstance(init, dict) and init.get("ok")):
            self.stop()
            raise RuntimeError(
                f"the fork server did not initialise: {init}; "
                f"{_read_text(self._workdir / 'init.stderr')[-2000:]}"
            )
        threading.Thread(target=self._listen, name="forkserver", daemon=True).start()

    def fork(self, request_read: int, response_write: int, log_stream_name: str) -> ForkedProcess:
        """A new execution environment speaking the bootstrap's protocol on these pipe ends."""
        order = json.dumps({"log_stream_name": log_stream_name}).encode() + b"\n"
        with self._lock, self._changed:
            socket.send_fds(self._socket, [order], [request_read, response_write])
            if not self._changed.wait_for(lambda: self._forked, timeout=10):
                raise RuntimeError("the fork server did not fork")
            return ForkedProcess(self, self._forked.pop())

    def _listen(self) -> None:
        for line in self._reader:
            message = json.loads(line)
            with self._changed:
                if message["type"] == "forked":
                    self._forked.append(int(message["pid"]))
                elif message["type"] == "exit":
                    self._ended[int(message["pid"])] = int(message["status"])
                self._changed.notify_all()

    def status(self, pid: int) -> int | None:
        with self._changed:
            return self._ended.get(pid)

    def wait(self, pid: int, timeout: float | None) -> int:
        with self._changed:
            if not self._changed.wait_for(lambda: pid in self._ended, timeout):
                raise subprocess.TimeoutExpired(f"forked environment {pid}", timeout or 0.0)
            return self._ended[pid]

    def stop(self) -> None:
        """End the server and every environment it forked."""
        with contextlib.suppress(OSError):
            self._socket.shutdown(socket.SHUT_RDWR)
        self._socket.close()
        try:
            self._process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self._process.pid, signal.SIGKILL)
            self._process.wait()
        shutil.rmtree(self._workdir, ignore_errors=True)


class ForkedProcess:
    """A forked environment's process, as much of ``subprocess.Popen`` as a container uses: it
    is the fork server's child, which reaps it and says how it ended."""

    def __init__(self, server: ForkServer, pid: int) -> None:
        self._server = server
        self.pid = pid

    @property
    def returncode(self) -> int | None:
        return self.poll()

    def poll(self) -> int | None:
        return self._server.status(self.pid)

    def wait(self, timeout: float | None = None) -> int:
        return self._server.wait(self.pid, timeout)


def _readable(fd: int, timeout: float) -> bool:
    """Whether ``fd`` has something to read (or its end closed) within ``timeout`` seconds.
    poll, not select: a thousand environments hold descriptors past select's limit of 1,024."""
    poller = select.poll()
    poller.register(fd, select.POLLIN | select.POLLHUP | select.POLLERR)
    return bool(poller.poll(max(0.0, timeout) * 1000))


def _bootstrap_command(config: FunctionConfig) -> list[str]:
    command = [
        sys.executable,
        "-I",  # no PYTHON* variables, no user site, no script directory on sys.path
        "-u",  # unbuffered, so a killed function's last lines are not lost
        str(BOOTSTRAP),
        "--code-dir",
        str(Path(config.code_dir).resolve()),
        "--handler",
        config.handler,
    ]
    for path in HARNESS_PATHS:
        command += ["--forbid-path", str(path)]
    command += ["--time-scale", repr(config.time_scale)]
    if config.clock is not None:
        command += ["--clock-seam", f"{config.clock.module}:{config.clock.attribute}"]
    for callable_name in config.warm_up:
        command += ["--warm-up", callable_name]
    return command


def _environment(config: FunctionConfig, log_stream_name: str) -> dict[str, str]:
    """What Lambda's runtime sets in an execution environment, and the function's own."""
    return {
        "PATH": os.environ.get("PATH", "/usr/local/bin:/usr/bin:/bin"),
        "LANG": "en_US.UTF-8",
        "TZ": ":UTC",
        "AWS_REGION": config.region,
        "AWS_DEFAULT_REGION": config.region,
        **config.environment,
        "_HANDLER": config.handler,
        "AWS_EXECUTION_ENV": f"AWS_Lambda_{RUNTIME_VERSION}",
        "AWS_LAMBDA_FUNCTION_NAME": config.function_name,
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(config.memory_mb),
        "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",
        "AWS_LAMBDA_LOG_GROUP_NAME": config.log_group_name,
        "AWS_LAMBDA_LOG_STREAM_NAME": log_stream_name,
        "LAMBDA_TASK_ROOT": str(Path(config.code_dir).resolve()),
        "LAMBDA_RUNTIME_DIR": sys.prefix,
    }


class LambdaContainer:
    """A warm Lambda execution environment: one long-lived process, one invocation at a time;
    started on its own, or forked by a ``ForkServer`` that ran the init phase once."""

    def __init__(
        self,
        config: FunctionConfig,
        *,
        init_timeout: float = DEFAULT_INIT_TIMEOUT,
        fork_server: ForkServer | None = None,
    ):
        self.config = config
        self.init_timeout = init_timeout
        self.fork_server = fork_server
        self._lock = threading.Lock()
        self._process: subprocess.Popen[bytes] | ForkedProcess | None = None
        self._workdir: Path | None = None
        self._request_fd = -1
        self._response_fd = -1
        self._buffer = b""
        self._init_error: Mapping[str, Any] | None = None
        self._init_logs = ("", "")
        self._fresh = False
        self.log_stream_name = ""

    # -- lifecycle -------------------------------------------------------------------------

    def start(self) -> LambdaContainer:
        """Start the environment and run its init phase (import the handler module)."""
        with self._lock:
            self._start()
        return self

    def stop(self) -> None:
        """End the environment (its threads are discarded, as Lambda does)."""
        with self._lock:
            self._stop()

    def __enter__(self) -> LambdaContainer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def crash(self) -> None:
        """The environment dies now, whatever it is doing (out of memory, a segfault): the
        invocation in progress ends in ``Runtime.ExitError``, the next one starts cold."""
        self._kill()

    @property
    def alive(self) -> bool:
        return self._process is not None and self._process.poll() is None

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    def _start(self) -> None:
        if self.alive:
            return
        self._stop()
        self._workdir = Path(tempfile.mkdtemp(prefix="localaws-lambda-"))
        self.log_stream_name = _log_stream_name()
        request_read, request_write = os.pipe()
        response_read, response_write = os.pipe()
        init_out = self._workdir / "init.stdout"
        init_err = self._workdir / "init.stderr"
        process: subprocess.Popen[bytes] | ForkedProcess
        if self.fork_server is not None:
            init_out.touch()  # its init ran in the fork server
            init_err.touch()
            process = self.fork_server.fork(request_read, response_write, self.log_stream_name)
        else:
            with open(init_out, "wb") as out, open(init_err, "wb") as err:
                process = subprocess.Popen(
                    [
                        *_bootstrap_command(self.config),
                        "--request-fd",
                        str(request_read),
                        "--response-fd",
                        str(response_write),
                    ],
                    stdin=subprocess.DEVNULL,
                    stdout=out,
                    stderr=err,
                    env=_environment(self.config, self.log_stream_name),
                    cwd=str(self.config.code_dir),
                    pass_fds=(request_read, response_write),
                    # Its own process group: a timeout kills whatever the function started.
                    start_new_session=True,
                )
        os.close(request_read)
        os.close(response_write)
        self._process = process
        self._request_fd, self._response_fd = request_write, response_read
        self._buffer = b""
        self._fresh = True
        message = self._receive(time.monotonic() + self.init_timeout)
        self._init_logs = (_read_text(init_out), _read_text(init_err))
        if not isinstance(message, dict):
            self._init_error = {
                "errorType": "Runtime.InitError",
                "errorMessage": f"the execution environment did not initialise ({message})",
            }
            self._kill()
        elif not message.get("ok"):
            self._init_error = message.get("error") or {"errorType": "Runtime.Unknown"}
        else:
            self._init_error = None

    def _stop(self) -> None:
        if self._request_fd >= 0:
            # End of input: the bootstrap leaves its loop and exits.
            with contextlib.suppress(OSError):
                os.close(self._request_fd)
            self._request_fd = -1
        if self._process is not None:
            try:
                self._process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self._kill()
        if self._response_fd >= 0:
            with contextlib.suppress(OSError):
                os.close(self._response_fd)
            self._response_fd = -1
        if self._workdir is not None:
            shutil.rmtree(self._workdir, ignore_errors=True)
            self._workdir = None

    def _kill(self) -> None:
        process = self._process
        if process is None:
            return
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()

    # -- invocation ------------------------------------------------------------------------

    def invoke(self, event: Any, *, qualifier: str | None = None) -> InvocationResult:
        """Invoke once. A dead environment (timeout, crash) is replaced by a cold one first.
        ``qualifier``: through that alias (the context's ARN then ends with it)."""
        payload_event = json.loads(json.dumps(event))  # Lambda passes JSON, nothing else
        if not self._lock.acquire(blocking=False):
            # One environment runs one invocation at a time; Lambda would use another one.
            raise RuntimeError("this Lambda container is busy with another invocation")
        try:
            return self._invoke(payload_event, qualifier)
        finally:
            self._lock.release()

    def _invoke(self, event: Any, qualifier: str | None = None) -> InvocationResult:
        if not self.alive or self._process is None:
            self._start()
        cold_start, self._fresh = self._fresh, False
        init_out, init_err = self._init_logs if cold_start else ("", "")
        request_id = str(uuid.uuid4())
        started = time.monotonic()
        if self._init_error is not None:
            process = self._process
            exit_status = process.wait() if process is not None else None
            self._stop()
            return InvocationResult(
                request_id=request_id,
                ok=False,
                payload=self._init_error,
                error=self._init_error,
                timed_out=False,
                exit_status=exit_status,
                duration=0.0,
                stdout=init_out,
                stderr=init_err,
                cold_start=cold_start,
            )
        assert self._workdir is not None
        stdout_path = self._workdir / f"{request_id}.stdout"
        stderr_path = self._workdir / f"{request_id}.stderr"
        deadline_ms = int((time.time() + self.config.real_timeout) * 1000)
        request = {
            "request_id": request_id,
            "event": event,
            "deadline_ms": deadline_ms,
            "invoked_function_arn": (
                f"{self.config.function_arn}:{qualifier}" if qualifier else self.config.function_arn
            ),
            "stdout_path": str(stdout_path),
            "stderr_path": str(stderr_path),
        }
        deadline = started + self.config.real_timeout
        message: dict[str, Any] | Literal["eof", "deadline"]
        try:
            _write_all(self._request_fd, json.dumps(request).encode() + b"\n")
            message = self._receive(deadline)
        except BrokenPipeError:
            message = "eof"  # the environment died between invocations
        duration = time.monotonic() - started
        timed_out = False
        exit_status = None
        if not isinstance(message, dict):
            process = self._process
            assert process is not None
            if message == "eof":
                # The child closed its end, so it is exiting; reap it, but a process that
                # lingers past the deadline is still a timeout.
                with contextlib.suppress(subprocess.TimeoutExpired):
                    process.wait(timeout=max(0.0, deadline - time.monotonic()))
            if process.poll() is None:
                # The deadline passed: Lambda stops the environment, whatever it is doing.
                timed_out = True
                self._kill()
            exit_status = process.wait()
        stdout = init_out + _read_text(stdout_path)
        stderr = init_err + _read_text(stderr_path)
        for path in (stdout_path, stderr_path):
            path.unlink(missing_ok=True)
        if isinstance(message, dict):
            return InvocationResult(
                request_id=request_id,
                ok=bool(message["ok"]),
                payload=message["payload"] if message["ok"] else message["error"],
                error=message["error"],
                timed_out=False,
                exit_status=None,
                duration=duration,
                stdout=stdout,
                stderr=stderr,
                cold_start=cold_start,
            )
        if timed_out:
            error = {
                "errorType": "Sandbox.Timedout",
                "errorMessage": f"Task timed out after {self.config.timeout:.2f} seconds",
            }
        else:
            error = {
                "errorType": "Runtime.ExitError",
                "errorMessage": f"RequestId: {request_id} Error: Runtime exited with error: "
                f"exit status {exit_status}",
            }
        self._stop()
        return InvocationResult(
            request_id=request_id,
            ok=False,
            payload=error,
            error=error,
            timed_out=timed_out,
            exit_status=exit_status,
            duration=duration,
            stdout=stdout,
            stderr=stderr,
            cold_start=cold_start,
        )

    def _receive(self, deadline: float) -> dict[str, Any] | Literal["eof", "deadline"]:
        """The next message from the child; "deadline" when time ran out, "eof" if it died."""
        while b"\n" not in self._buffer:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return "deadline"
            if not _readable(self._response_fd, remaining):
                return "deadline"
            chunk = os.read(self._response_fd, 65536)
            if not chunk:
                return "eof"  # the child closed its end: it is gone
            self._buffer += chunk
        line, self._buffer = self._buffer.split(b"\n", 1)
        message: dict[str, Any] = json.loads(line)
        return message


def invoke(
    config: FunctionConfig, event: Any, *, init_timeout: float = DEFAULT_INIT_TIMEOUT
) -> InvocationResult:
    """One cold invocation in a fresh process; the process is ended afterwards."""
    container = LambdaContainer(config, init_timeout=init_timeout)
    try:
        container.start()
        result = container.invoke(event)
    finally:
        process = container._process
        container.stop()
    if result.exit_status is None and process is not None:
        # A one-shot invocation reports how its process ended.
        result = _with_exit_status(result, process.returncode)
    return result


def _with_exit_status(result: InvocationResult, status: int | None) -> InvocationResult:
    return dataclasses.replace(result, exit_status=status)


def make_context(
    *,
    timeout: float,
    function_name: str = "localaws-function",
    region: str = "us-east-1",
    account_id: str = "123456789012",
    memory_mb: int = 128,
    request_id: str | None = None,
    time_scale: float = 1.0,
    qualifier: str | None = None,
) -> LambdaContext:
    """A context object like the runtime's, counting down ``timeout`` (model) seconds from now.
    ``qualifier``: the alias or version invoked (the context's ARN then ends with it)."""
    arn = f"arn:aws:lambda:{region}:{account_id}:function:{function_name}"
    return LambdaContext(
        time_scale=time_scale,
        aws_request_id=request_id or str(uuid.uuid4()),
        deadline_ms=int((time.time() + timeout * time_scale) * 1000),
        invoked_function_arn=f"{arn}:{qualifier}" if qualifier else arn,
        function_name=function_name,
        function_version="$LATEST",
        memory_limit_in_mb=str(memory_mb),
        log_group_name=f"/aws/lambda/{function_name}",
        log_stream_name=_log_stream_name(),
    )


def invoke_in_process(
    handler: Callable[[Any, Any], Any],
    event: Any,
    timeout: float,
    *,
    function_name: str = "localaws-function",
    region: str = "us-east-1",
    account_id: str = "123456789012",
    memory_mb: int = 128,
    time_scale: float = 1.0,
    qualifier: str | None = None,
) -> InvocationResult:
    """Call ``handler`` here, with a runtime-like context, JSON round-trips and log capture.

    ``time_scale`` compresses time as ``FunctionConfig.time_scale`` does: ``timeout`` is in model
    seconds, and the caller swaps in the function's scaled clock.

    No isolation and no hard timeout: an invocation that returns after its deadline is
    reported as ``timed_out`` (its result is still recorded). Output is captured through
    ``sys.stdout``/``sys.stderr`` and a temporary root log handler in Lambda's format.
    """
    context = make_context(
        timeout=timeout,
        function_name=function_name,
        region=region,
        account_id=account_id,
        memory_mb=memory_mb,
        time_scale=time_scale,
        qualifier=qualifier,
    )
    event = json.loads(json.dumps(event))
    out, err = io.StringIO(), io.StringIO()
    request_ids = RequestIdFilter()
    request_ids.request_id = context.aws_request_id
    log_handler = lambda_log_handler(err, request_ids)
    root = logging.getLogger()
    root.addHandler(log_handler)
    started = time.monotonic()
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            ok, payload, error = run_handler(handler, event, context)
    finally:
        root.removeHandler(log_handler)
    duration = time.monotonic() - started
    timed_out = duration > timeout * time_scale
    if timed_out:
        error = {
            "errorType": "Sandbox.Timedout",
            "errorMessage": f"Task timed out after {timeout:.2f} seconds",
        }
    return InvocationResult(
        request_id=context.aws_request_id,
        ok=ok and not timed_out,
        payload=payload if ok and not timed_out else error,
        error=error,
        timed_out=timed_out,
        exit_status=None,
        duration=duration,
        stdout=out.getvalue(),
        stderr=err.getvalue(),
        cold_start=False,
    )


def _read_text(path: Path) -> str:
    try:
        return path.read_text(errors="replace")
    except FileNotFoundError:
        return ""


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]
