"""Child side of ``localaws.awslambda.runtime``: one process plays one Lambda execution environment.

Reproduces what AWS Lambda's Python runtime does (AWS Lambda developer guide: "Define Lambda
function handler in Python", "Using the Lambda context object to retrieve Python function
information", "Lambda execution environment lifecycle"; awslambdaric's ``bootstrap.py`` and
``lambda_context.py``):

- init: the handler string ``module.function`` (``/`` allowed in the module path) is split with
  ``rsplit(".", 1)`` and the module imported with ``importlib.import_module``, once per
  environment, with the code directory first on ``sys.path`` and the working directory set to it;
  failures are reported as ``Runtime.MalformedHandlerName``, ``Runtime.ImportModuleError``,
  ``Runtime.UserCodeSyntaxError`` or ``Runtime.HandlerNotFound``;
- invoke: a new context per invocation, ``get_remaining_time_in_millis`` counting down to an epoch
  deadline in milliseconds (as the runtime API's ``Lambda-Runtime-Deadline-Ms``); an exception
  becomes ``{"errorMessage", "errorType", "requestId", "stackTrace"}`` and is logged as
  ``[ERROR] Type: message`` with the traceback; a result that is not JSON is
  ``Runtime.MarshalError``;
- logging: a root handler in Lambda's text format
  ``[LEVEL]\\t<UTC time>Z\\t<request id>\\t<message>``, root level left at Python's default.

Run as a script (never imported by the child as part of ``localaws``): this file must not
import ``localaws``, and the parent starts it with ``python -I`` so that neither the tests
directory nor the project root is on the child's ``sys.path``. The parent imports this module
only for ``LambdaContext`` and the log format, so that in-process invocations build the same
context.

Protocol with the parent (JSON lines over two inherited pipes): after init the child writes
``{"type": "init", "ok": ..., "error": ...}``; then for each request line
``{"request_id", "event", "deadline_ms", "invoked_function_arn", "stdout_path", "stderr_path"}``
it redirects file descriptors 1 and 2 to those files for the invocation and answers
``{"type": "result", "ok": ..., "payload": ..., "error": ...}``. End of input ends the process.

With ``--control-fd`` instead of the two pipes, the process is a fork server
(``runtime.ForkServer``): it runs init once, answers the init message on that Unix socket, then
for each message there (a JSON line with the environment's ``log_stream_name``, and the two pipe
ends as ancillary file descriptors) forks one execution environment of its own, which speaks the
protocol above on those pipes; the server answers ``{"type": "forked", "pid": ...}`` and, when a
child ends, ``{"type": "exit", "pid": ..., "status": ...}``. The children share the imported
modules copy-on-write and nothing else: each has its own memory from the fork on, as each Lambda
environment has after its init.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import gc
import importlib
import json
import logging
import os
import select
import signal
import socket
import sys
import threading
import time
import traceback
from collections.abc import Callable, Iterator
from typing import Any

LOG_FORMAT = "[%(levelname)s]\t%(asctime)s.%(msecs)03dZ\t%(aws_request_id)s\t%(message)s"
LOG_DATE_FORMAT = "%Y-%m-%dT%H:%M:%S"

Handler = Callable[[Any, Any], Any]


class LambdaContext:
    """The context object Lambda's Python runtime passes to a handler."""

    def __init__(
        self,
        *,
        aws_request_id: str,
        deadline_ms: int,
        invoked_function_arn: str,
        function_name: str,
        function_version: str,
        memory_limit_in_mb: str,
        log_group_name: str,
        log_stream_name: str,
        time_scale: float = 1.0,
    ) -> None:
        self.aws_request_id = aws_request_id
        self.invoked_function_arn = invoked_function_arn
        self.function_name = function_name
        self.function_version = function_version
        # A string, as in the real runtime (it is read from AWS_LAMBDA_FUNCTION_MEMORY_SIZE).
        self.memory_limit_in_mb = memory_limit_in_mb
        self.log_group_name = log_group_name
        self.log_stream_name = log_stream_name
        self.identity: Any = None
        self.client_context: Any = None
        self._deadline_ms = deadline_ms
        self._time_scale = time_scale

    def get_remaining_time_in_millis(self) -> int:
        # In model time when time is compressed: the function budgets in the same seconds its
        # (scaled) clock sleeps in.
        return max(0, int((self._deadline_ms - time.time() * 1000) / self._time_scale))

    def __repr__(self) -> str:
        return (
            f"LambdaContext(function_name={self.function_name!r}, "
            f"aws_request_id={self.aws_request_id!r})"
        )


class ScaledClock:
    """Time compressed by one factor: ``sleep(s)`` takes ``s * scale`` real seconds, and
    ``monotonic()`` counts model seconds. Installed as the function's injectable clock, together
    with an emulator whose quotas run faster by the same factor."""

    def __init__(self, scale: float) -> None:
        self.scale = scale

    def monotonic(self) -> float:
        return time.monotonic() / self.scale

    def time(self) -> float:
        # Every process divides the same wall clock by the same factor, so leases and their
        # expiry agree between containers.
        return time.time() / self.scale

    def from_wall_time(self, seconds: float) -> float:
        return seconds / self.scale

    def sleep(self, seconds: float) -> None:
        time.sleep(max(0.0, seconds) * self.scale)


def scale_network_timeouts(scale: float) -> None:
    """Slow motion for botocore's socket timeouts too (connect, read), which no clock governs.

    In a model ``scale`` times slower, a CreateDeployment that holds the API for 3 s takes
    ``3 * scale`` real seconds to answer; the function's 30 s read timeout must stretch by the
    same factor, or slow motion alone would make calls time out that AWS answers in time.
    Compressed time (``scale < 1``) keeps them: the emulator's own work is not compressed, and
    shorter timeouts would make calls time out that are slow only because the emulator is."""
    if scale <= 1.0:
        return
    import botocore.httpsession  # noqa: PLC0415 (only functions run in slow motion need it)

    original = botocore.httpsession.URLLib3Session.__init__

    def stretched(self: Any, *args: Any, **kwargs: Any) -> None:
        # botocore's Endpoint passes the timeout by keyword: a number or (connect, read).
        timeout = kwargs.get("timeout")
        if isinstance(timeout, (int, float)):
            kwargs["timeout"] = timeout * scale
        elif timeout is not None:
            kwargs["timeout"] = tuple(None if part is None else part * scale for part in timeout)
        original(self, *args, **kwargs)

    botocore.httpsession.URLLib3Session.__init__ = stretched  # type: ignore[method-assign]


class RequestIdFilter(logging.Filter):
    """Stamps each record with the request id of the invocation in progress."""

    def __init__(self) -> None:
        super().__init__()
        self.request_id = ""

    def filter(self, record: logging.LogRecord) -> bool:
        record.aws_request_id = self.request_id
        return True


def lambda_log_handler(stream: Any, request_ids: RequestIdFilter) -> logging.Handler:
    """A log handler in the Lambda runtime's text format, times in UTC."""
    handler = logging.StreamHandler(stream)
    formatter = logging.Formatter(LOG_FORMAT, LOG_DATE_FORMAT)
    formatter.converter = time.gmtime
    handler.setFormatter(formatter)
    handler.addFilter(request_ids)
    return handler


class InitError(Exception):
    """The handler could not be loaded; ``error`` is Lambda's error document."""

    def __init__(self, error: dict[str, Any]) -> None:
        super().__init__(error["errorMessage"])
        self.error = error


def load_handler(handler: str) -> Handler:
    """Import the handler exactly as Lambda's runtime does."""
    try:
        module_name, function_name = handler.rsplit(".", 1)
    except ValueError:
        raise InitError(
            _error("Runtime.MalformedHandlerName", f"Bad handler '{handler}': not enough values")
        ) from None
    try:
        module = importlib.import_module(module_name.replace("/", "."))
    except SyntaxError as exc:
        raise InitError(
            _error("Runtime.UserCodeSyntaxError", f"Syntax error in module '{module_name}': {exc}")
        ) from exc
    except ImportError as exc:
        raise InitError(
            _error("Runtime.ImportModuleError", f"Unable to import module '{module_name}': {exc}")
        ) from exc
    function = getattr(module, function_name, None)
    if not callable(function):
        raise InitError(
            _error(
                "Runtime.HandlerNotFound",
                f"Handler '{function_name}' missing on module '{module_name}'",
            )
        )
    result: Handler = function
    return result


def _error(error_type: str, message: str, stack: list[str] | None = None) -> dict[str, Any]:
    return {"errorMessage": message, "errorType": error_type, "stackTrace": stack or []}


def run_handler(
    handler: Handler, event: Any, context: LambdaContext
) -> tuple[bool, Any, dict[str, Any] | None]:
    """Call the handler; (ok, JSON-ready payload, error document) as the runtime reports it."""
    try:
        result = handler(event, context)
    except Exception as exc:
        # Start at the handler's frame: the runtime's own frames are not the function's.
        tb = exc.__traceback__.tb_next if exc.__traceback__ is not None else None
        error = _error(
            type(exc).__name__, str(exc), traceback.format_list(traceback.extract_tb(tb))
        )
        error["requestId"] = context.aws_request_id
        # The runtime logs the failure before reporting it.
        sys.stderr.write(
            f"[ERROR] {type(exc).__name__}: {exc}\n"
            + "".join(traceback.format_exception(type(exc), exc, tb))
        )
        return False, None, error
    try:
        payload = json.loads(json.dumps(result))
    except (TypeError, ValueError) as exc:
        error = _error("Runtime.MarshalError", f"Unable to marshal response: {exc}")
        error["requestId"] = context.aws_request_id
        return False, None, error
    return True, payload, None


@contextlib.contextmanager
def _redirected(stdout_path: str, stderr_path: str) -> Iterator[None]:
    """Point file descriptors 1 and 2 at the invocation's log files (subprocesses included)."""
    sys.stdout.flush()
    sys.stderr.flush()
    saved = os.dup(1), os.dup(2)
    with open(stdout_path, "ab") as out, open(stderr_path, "ab") as err:
        os.dup2(out.fileno(), 1)
        os.dup2(err.fileno(), 2)
        try:
            yield
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            os.close(saved[0])
            os.close(saved[1])


class _Channel:
    """JSON lines over a pair of pipe file descriptors."""

    def __init__(self, read_fd: int, write_fd: int) -> None:
        self._reader = os.fdopen(read_fd, "rb")
        self._write_fd = write_fd
        self._lock = threading.Lock()

    def receive(self) -> dict[str, Any] | None:
        line = self._reader.readline()
        if not line:
            return None
        message: dict[str, Any] = json.loads(line)
        return message

    def send(self, message: dict[str, Any]) -> None:
        data = json.dumps(message).encode() + b"\n"
        with self._lock:
            view = memoryview(data)
            while view:
                written = os.write(self._write_fd, view)
                view = view[written:]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--code-dir", required=True)
    parser.add_argument("--handler", required=True)
    parser.add_argument("--request-fd", type=int, default=-1)
    parser.add_argument("--response-fd", type=int, default=-1)
    parser.add_argument("--control-fd", type=int, default=-1)
    parser.add_argument("--forbid-path", action="append", default=[])
    parser.add_argument("--time-scale", type=float, default=1.0)
    parser.add_argument("--clock-seam", default=None)
    parser.add_argument("--warm-up", action="append", default=[])
    args = parser.parse_args(argv)

    code_dir = os.path.realpath(args.code_dir)
    forbidden = {os.path.realpath(p) for p in args.forbid_path}
    # The code directory comes first, exactly like /var/task; paths of the test harness must
    # not be importable, or the handler could pass here and fail in Lambda.
    sys.path[:] = [code_dir] + [
        p for p in sys.path if p and os.path.realpath(p) not in forbidden | {code_dir}
    ]
    os.chdir(code_dir)

    request_ids = RequestIdFilter()
    logging.getLogger().addHandler(lambda_log_handler(sys.stderr, request_ids))

    forking = args.control_fd >= 0
    control = socket.socket(fileno=args.control_fd) if forking else None
    channel = None if forking else _Channel(args.request_fd, args.response_fd)
    say = channel.send if channel is not None else functools.partial(_send_line, control)
    scale_network_timeouts(args.time_scale)
    try:
        handler = load_handler(args.handler)
    except InitError as exc:
        sys.stderr.write(f"[ERROR] {exc.error['errorType']}: {exc.error['errorMessage']}\n")
        say({"type": "init", "ok": False, "error": exc.error})
        return 1
    if args.clock_seam:
        # The function's one injectable clock, "module:attribute" (runtime.ClockSeam).
        module_name, _, attribute = args.clock_seam.rpartition(":")
        setattr(importlib.import_module(module_name), attribute, ScaledClock(args.time_scale))
    for callable_name in args.warm_up:
        module_name, function_name = callable_name.split(":")
        getattr(importlib.import_module(module_name), function_name)()
    say({"type": "init", "ok": True, "error": None})
    if control is not None:
        # What init made stays out of the collector's reach, so that no child's collection
        # writes to (and so copies) the pages it shares with the others.
        gc.collect()
        gc.freeze()
        channel = _fork_environments(control)
        if channel is None:
            return 0  # the server, its parent gone
        channel.send({"type": "init", "ok": True, "error": None})
    assert channel is not None
    _serve(channel, handler, request_ids, args.time_scale)
    return 0


def _serve(
    channel: _Channel, handler: Handler, request_ids: RequestIdFilter, time_scale: float
) -> None:
    while (request := channel.receive()) is not None:
        context = LambdaContext(
            aws_request_id=request["request_id"],
            deadline_ms=request["deadline_ms"],
            invoked_function_arn=request["invoked_function_arn"],
            function_name=os.environ["AWS_LAMBDA_FUNCTION_NAME"],
            function_version=os.environ["AWS_LAMBDA_FUNCTION_VERSION"],
            memory_limit_in_mb=os.environ["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"],
            log_group_name=os.environ["AWS_LAMBDA_LOG_GROUP_NAME"],
            log_stream_name=os.environ["AWS_LAMBDA_LOG_STREAM_NAME"],
            time_scale=time_scale,
        )
        request_ids.request_id = context.aws_request_id
        with _redirected(request["stdout_path"], request["stderr_path"]):
            ok, payload, error = run_handler(handler, request["event"], context)
        request_ids.request_id = ""
        channel.send({"type": "result", "ok": ok, "payload": payload, "error": error})


def _send_line(control: socket.socket | None, message: dict[str, Any]) -> None:
    assert control is not None
    control.sendall(json.dumps(message).encode() + b"\n")


def _fork_environments(control: socket.socket) -> _Channel | None:
    """The fork server's loop: one child per request, each child's end reported. Returns, in a
    child, its channel; in the server, None once the parent has gone (after ending every child
    still running, as Lambda ends environments with the function)."""
    children: set[int] = set()
    buffer = b""
    while True:
        ready, _, _ = select.select([control], [], [], 0.05)
        for pid, status in _reaped(children):
            _send_line(control, {"type": "exit", "pid": pid, "status": status})
        if not ready:
            continue
        data, fds, _, _ = socket.recv_fds(control, 65536, 2)
        if not data:
            for pid in children:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(pid, signal.SIGKILL)
            return None
        buffer += data
        line, _, buffer = buffer.partition(b"\n")
        order = json.loads(line)
        pid = os.fork()
        if pid == 0:
            # The environment: a session of its own (a timeout kills what it started, too), its
            # own log stream, nothing of the server's socket.
            control.close()
            os.setsid()
            os.environ["AWS_LAMBDA_LOG_STREAM_NAME"] = order["log_stream_name"]
            return _Channel(fds[0], fds[1])
        for fd in fds:
            os.close(fd)
        children.add(pid)
        _send_line(control, {"type": "forked", "pid": pid})


def _reaped(children: set[int]) -> list[tuple[int, int]]:
    ended = []
    for pid in list(children):
        found, status = os.waitpid(pid, os.WNOHANG)
        if found:
            children.discard(pid)
            ended.append((pid, os.waitstatus_to_exitcode(status)))
    return ended


if __name__ == "__main__":
    status = main()
    sys.stdout.flush()
    sys.stderr.flush()
    # Lambda discards an environment without waiting for threads the function left running
    # (a crhelper timer, a thread pool): exit the same way.
    os._exit(status)
