"""localaws.awslambda.runtime: a handler runs as Lambda's Python runtime would run it."""

from __future__ import annotations

import logging
import re
import textwrap
import time
import uuid
from pathlib import Path
from typing import Any

import pytest

from localaws.awslambda.runtime import (
    ClockSeam,
    ForkServer,
    FunctionConfig,
    LambdaContainer,
    invoke,
    invoke_in_process,
)
from localaws.cloudformation.response_receiver import ResponseReceiver
from localaws.cloudformation.stacks import InProcessFunction
from localaws.server import LocalAws

TESTS_DIR = Path(__file__).resolve().parent
PROJECT_ROOT = TESTS_DIR.parent

PROBE = textwrap.dedent(
    """
    import importlib.util
    import logging
    import os
    import sys
    import time

    INVOCATIONS = 0
    logger = logging.getLogger(__name__)
    print("init: module imported")


    def handler(event, context):
        global INVOCATIONS
        INVOCATIONS += 1
        action = event.get("action")
        if action == "sleep":
            print("sleeping")
            time.sleep(event["seconds"])
        elif action == "raise":
            raise RuntimeError("tenant pool missing")
        elif action == "exit":
            sys.exit(3)
        elif action == "unserialisable":
            return {"pools": {1, 2}}
        logger.warning("invocation %d", INVOCATIONS)
        return {
            "sys_path": sys.path,
            "cwd": os.getcwd(),
            "pid": os.getpid(),
            "invocations": INVOCATIONS,
            "importable": {
                name: importlib.util.find_spec(name) is not None
                for name in ("localaws", "boto3", "crhelper")
            },
            "env": {
                name: os.environ.get(name)
                for name in (
                    "AWS_LAMBDA_FUNCTION_NAME",
                    "AWS_REGION",
                    "LAMBDA_TASK_ROOT",
                    "_HANDLER",
                    "TENANT_TABLE",
                    "LOCALAWS_HOST_ONLY",
                )
            },
            "context": {
                "aws_request_id": context.aws_request_id,
                "function_name": context.function_name,
                "function_version": context.function_version,
                "invoked_function_arn": context.invoked_function_arn,
                "memory_limit_in_mb": context.memory_limit_in_mb,
                "log_group_name": context.log_group_name,
                "log_stream_name": context.log_stream_name,
                "remaining": context.get_remaining_time_in_millis(),
            },
        }
    """
)

SENDER = textwrap.dedent(
    """
    import http.client
    import json
    import os
    import ssl
    from urllib.parse import urlsplit

    import boto3


    def _send_response(url, body):
        # S3 is at AWS_ENDPOINT_URL_S3 here; the bucket's host goes in the Host header.
        target, endpoint = urlsplit(url), urlsplit(os.environ["AWS_ENDPOINT_URL_S3"])
        payload = json.dumps(body).encode()
        connection = http.client.HTTPSConnection(
            endpoint.hostname, endpoint.port, context=ssl.create_default_context()
        )
        connection.request(
            "PUT", f"{target.path}?{target.query}", body=payload,
            headers={"Host": target.hostname, "content-type": "",
                     "content-length": str(len(payload))},
        )
        connection.getresponse().read()


    def handler(event, context):
        apis = boto3.client("apigateway").get_rest_apis()["items"]
        _send_response(
            event["ResponseURL"],
            {
                "Status": "SUCCESS",
                "PhysicalResourceId": "tenant-a",
                "StackId": event["StackId"],
                "RequestId": event["RequestId"],
                "LogicalResourceId": event["LogicalResourceId"],
                "Reason": "",
                "Data": {"Apis": str(len(apis))},
                "NoEcho": False,
            },
        )
        return len(apis)
    """
)


TIMEOUTS = textwrap.dedent(
    """
    import boto3
    from botocore.config import Config

    client = boto3.client(
        "dynamodb", region_name="us-east-1", config=Config(connect_timeout=5, read_timeout=30)
    )


    def handler(event, context):
        timeout = client._endpoint.http_session._timeout
        return [timeout.connect_timeout, timeout.read_timeout]
    """
)


@pytest.fixture(scope="module")
def code_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A function's code directory, as a zip would unpack it into /var/task."""
    root = tmp_path_factory.mktemp("task")
    (root / "tenants").mkdir()
    (root / "tenants" / "probe.py").write_text(PROBE)
    (root / "sender.py").write_text(SENDER)
    (root / "timeouts.py").write_text(TIMEOUTS)
    (root / "broken.py").write_text("def handler(event, context):\n    return (\n")
    return root


def config(code_dir: Path, **changes: Any) -> FunctionConfig:
    options: dict[str, Any] = {
        "code_dir": code_dir,
        "handler": "tenants/probe.handler",
        "timeout": 30,
        "function_name": "tenant-pools",
        "memory_mb": 256,
        "environment": {"TENANT_TABLE": "tenants"},
    }
    options.update(changes)
    return FunctionConfig(**options)


def test_the_handler_is_imported_from_the_code_directory_only(code_dir: Path) -> None:
    result = invoke(config(code_dir), {})
    assert result.ok, result.logs
    payload = result.payload
    assert payload["sys_path"][0] == str(code_dir.resolve())
    resolved = {str(Path(p).resolve()) for p in payload["sys_path"] if p}
    assert str(TESTS_DIR) not in resolved
    assert str(PROJECT_ROOT) not in resolved
    assert payload["importable"] == {"localaws": False, "boto3": True, "crhelper": True}
    assert payload["cwd"] == str(code_dir.resolve())
    assert result.exit_status == 0
    assert result.cold_start


def test_the_context_is_lambdas(code_dir: Path) -> None:
    result = invoke(config(code_dir), {})
    context = result.payload["context"]
    assert context["aws_request_id"] == result.request_id
    assert context["function_name"] == "tenant-pools"
    assert context["function_version"] == "$LATEST"
    assert context["invoked_function_arn"] == (
        "arn:aws:lambda:us-east-1:123456789012:function:tenant-pools"
    )
    assert context["memory_limit_in_mb"] == "256"
    assert context["log_group_name"] == "/aws/lambda/tenant-pools"
    assert re.fullmatch(r"\d{4}/\d\d/\d\d/\[\$LATEST\][0-9a-f]{32}", context["log_stream_name"])
    assert 0 < context["remaining"] <= 30_000


def test_an_invocation_through_an_alias_carries_its_arn(code_dir: Path) -> None:
    with LambdaContainer(config(code_dir)) as container:
        result = container.invoke({}, qualifier="repair")
    assert result.payload["context"]["invoked_function_arn"] == (
        "arn:aws:lambda:us-east-1:123456789012:function:tenant-pools:repair"
    )


def test_the_environment_is_lambdas_not_the_hosts(
    code_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LOCALAWS_HOST_ONLY", "leaked")
    env = invoke(config(code_dir), {}).payload["env"]
    assert env == {
        "AWS_LAMBDA_FUNCTION_NAME": "tenant-pools",
        "AWS_REGION": "us-east-1",
        "LAMBDA_TASK_ROOT": str(code_dir.resolve()),
        "_HANDLER": "tenants/probe.handler",
        "TENANT_TABLE": "tenants",
        "LOCALAWS_HOST_ONLY": None,
    }


@pytest.mark.parametrize(
    "environment",
    [{"_HANDLER": "other.handler"}, {"AWS_LAMBDA_FUNCTION_NAME": "x"}, {"AWS_REGION": "eu-west-1"}],
)
def test_reserved_variables_cannot_be_configured(
    code_dir: Path, environment: dict[str, str]
) -> None:
    with pytest.raises(ValueError, match="reserved"):
        config(code_dir, environment=environment)


def test_a_handler_past_its_timeout_is_killed_and_reported(code_dir: Path) -> None:
    # 2 s, not 1: the handler must get to print before the kill even on a loaded machine.
    result = invoke(config(code_dir, timeout=2), {"action": "sleep", "seconds": 60})
    assert result.timed_out
    assert not result.ok
    assert result.exit_status == -9
    assert result.error is not None
    assert result.error["errorType"] == "Sandbox.Timedout"
    assert result.error["errorMessage"] == "Task timed out after 2.00 seconds"
    assert "sleeping" in result.stdout  # logs written before the kill are kept


def test_an_exception_becomes_lambdas_error_document(code_dir: Path) -> None:
    result = invoke(config(code_dir), {"action": "raise"})
    assert not result.ok
    assert not result.timed_out
    assert result.error is not None
    assert result.error["errorType"] == "RuntimeError"
    assert result.error["errorMessage"] == "tenant pool missing"
    assert result.error["requestId"] == result.request_id
    assert "probe.py" in result.error["stackTrace"][0]
    assert "[ERROR] RuntimeError: tenant pool missing" in result.stderr


@pytest.mark.parametrize(
    ("event", "error_type", "exit_status"),
    [
        ({"action": "exit"}, "Runtime.ExitError", 3),
        ({"action": "unserialisable"}, "Runtime.MarshalError", 0),
    ],
)
def test_runtime_errors(
    code_dir: Path, event: dict[str, str], error_type: str, exit_status: int
) -> None:
    result = invoke(config(code_dir), event)
    assert result.error is not None
    assert result.error["errorType"] == error_type
    assert result.exit_status == exit_status


@pytest.mark.parametrize(
    ("handler", "error_type"),
    [
        ("missing.handler", "Runtime.ImportModuleError"),
        ("tenants/probe.nope", "Runtime.HandlerNotFound"),
        ("probe", "Runtime.MalformedHandlerName"),
        ("broken.handler", "Runtime.UserCodeSyntaxError"),
    ],
)
def test_init_errors(code_dir: Path, handler: str, error_type: str) -> None:
    result = invoke(config(code_dir, handler=handler), {})
    assert result.error is not None
    assert result.error["errorType"] == error_type
    assert not result.ok
    assert result.exit_status == 1


def test_a_warm_container_imports_once_and_a_timeout_ends_it(code_dir: Path) -> None:
    with LambdaContainer(config(code_dir, timeout=1)) as container:
        first = container.invoke({})
        second = container.invoke({})
        assert (first.cold_start, second.cold_start) == (True, False)
        assert first.payload["pid"] == second.payload["pid"]
        assert (first.payload["invocations"], second.payload["invocations"]) == (1, 2)
        assert first.request_id != second.request_id
        assert "init: module imported" in first.stdout
        assert "init: module imported" not in second.stdout
        assert "invocation 2" in second.stderr
        assert second.exit_status is None  # the environment lives on

        timed_out = container.invoke({"action": "sleep", "seconds": 60})
        assert timed_out.timed_out
        assert not container.alive

        after = container.invoke({})
        assert after.cold_start
        assert after.payload["invocations"] == 1
        assert after.payload["pid"] != first.payload["pid"]
    assert not container.alive


# -- forked from one init ---------------------------------------------------------------------


def test_forked_environments_are_environments_of_their_own(code_dir: Path) -> None:
    """Each forked environment keeps its own module state, process, log stream and random
    numbers, and runs the handler as a started one does."""
    server = ForkServer(config(code_dir))
    try:
        with (
            LambdaContainer(config(code_dir), fork_server=server) as first,
            LambdaContainer(config(code_dir), fork_server=server) as second,
        ):
            one, two = first.invoke({}), second.invoke({})
            again = first.invoke({})
            assert (one.cold_start, again.cold_start) == (True, False)
            assert one.ok, one.error
            assert (one.payload["invocations"], two.payload["invocations"]) == (1, 1)
            assert again.payload["invocations"] == 2
            assert len({one.payload["pid"], two.payload["pid"], server._process.pid}) == 3
            assert (
                one.payload["context"]["log_stream_name"]
                != (two.payload["context"]["log_stream_name"])
            )
            assert one.payload["env"] == two.payload["env"]
            assert one.payload["env"]["TENANT_TABLE"] == "tenants"
            assert not one.payload["importable"]["localaws"]
            assert "invocation 1" in one.stderr
    finally:
        server.stop()


def test_a_forked_environment_that_dies_or_times_out_is_replaced_by_a_fresh_fork(
    code_dir: Path,
) -> None:
    server = ForkServer(config(code_dir, timeout=1))
    try:
        with LambdaContainer(config(code_dir, timeout=1), fork_server=server) as container:
            first = container.invoke({})
            exited = container.invoke({"action": "exit"})
            assert exited.error is not None
            assert exited.error["errorType"] == "Runtime.ExitError"
            assert exited.exit_status == 3
            timed_out = container.invoke({"action": "sleep", "seconds": 60})
            assert timed_out.timed_out
            after = container.invoke({})
            assert after.cold_start
            assert after.payload["invocations"] == 1
            assert after.payload["pid"] != first.payload["pid"]
    finally:
        server.stop()


# -- in process -------------------------------------------------------------------------------


def test_in_process_invocation_builds_the_same_context_and_captures_logs() -> None:
    seen: dict[str, Any] = {}

    def handler(event: Any, context: Any) -> Any:
        seen.update(vars(context))
        print("to stdout")
        logging.getLogger("tenant").warning("to the log")
        return {"echo": event, "remaining": context.get_remaining_time_in_millis()}

    result = invoke_in_process(handler, {"a": 1}, timeout=5, function_name="fn")
    assert result.ok
    assert result.payload["echo"] == {"a": 1}
    assert 0 < result.payload["remaining"] <= 5000
    assert seen["function_name"] == "fn"
    assert seen["aws_request_id"] == result.request_id
    assert seen["invoked_function_arn"] == "arn:aws:lambda:us-east-1:123456789012:function:fn"
    assert result.stdout == "to stdout\n"
    assert re.search(
        rf"^\[WARNING\]\t\S+Z\t{result.request_id}\tto the log$", result.stderr, re.MULTILINE
    )


def test_a_clock_seam_that_names_no_clock_is_refused_before_any_delivery() -> None:
    def handler(event: Any, context: Any) -> Any:
        return None

    with pytest.raises(ModuleNotFoundError):
        InProcessFunction(handler, timeout=5, clock=ClockSeam("no_such_module_here"))
    with pytest.raises(ValueError, match="no 'no_such_clock'"):
        InProcessFunction(handler, timeout=5, clock=ClockSeam("time", "no_such_clock"))
    with pytest.raises(ValueError, match="not a module path"):
        ClockSeam("timing", "odd:name")


def test_in_process_errors_and_late_returns() -> None:
    def failing(event: Any, context: Any) -> Any:
        raise KeyError("UserPoolArn")

    def slow(event: Any, context: Any) -> Any:
        time.sleep(0.02)
        return "done"

    failed = invoke_in_process(failing, {}, timeout=5)
    assert failed.error is not None
    assert (failed.ok, failed.error["errorType"]) == (False, "KeyError")
    late = invoke_in_process(slow, {}, timeout=0.001)
    assert late.timed_out
    assert not late.ok


# -- end to end -------------------------------------------------------------------------------


def test_a_child_talks_to_local_aws_and_answers_over_https(code_dir: Path) -> None:
    with LocalAws() as aws, ResponseReceiver() as receiver:
        request_id = str(uuid.uuid4())
        stack_id = "arn:aws:cloudformation:us-east-1:123456789012:stack/tenant-a/1"
        event = {
            "RequestType": "Create",
            "ResponseURL": receiver.response_url(
                request_id, stack_id=stack_id, logical_resource_id="TenantPool"
            ),
            "StackId": stack_id,
            "RequestId": request_id,
            "LogicalResourceId": "TenantPool",
        }
        environment = {
            **aws.env(),
            "SSL_CERT_FILE": receiver.ca_file,
            "AWS_ENDPOINT_URL_S3": receiver.endpoint_url,
        }
        result = invoke(config(code_dir, handler="sender.handler", environment=environment), event)
        assert result.ok, result.logs
        answer = receiver.wait_for(request_id, timeout=10)
        assert answer.valid, answer.problems
        assert answer.data == {"Apis": "0"}
        assert aws.control_plane.counter("GetRestApis").success == 1
        assert receiver.issued(request_id).signature not in result.logs


@pytest.mark.parametrize(("time_scale", "expected"), [(4.0, [20.0, 120.0]), (0.1, [5.0, 30.0])])
def test_slow_motion_stretches_botocores_timeouts_and_compression_keeps_them(
    code_dir: Path, time_scale: float, expected: list[float]
) -> None:
    # In a model four times slower, a call AWS answers within the 30 s read timeout takes up
    # to 120 s to answer; in compressed time the emulator's own work is not compressed.
    with LambdaContainer(
        config(code_dir, handler="timeouts.handler", time_scale=time_scale)
    ) as container:
        assert container.invoke({}).payload == expected
