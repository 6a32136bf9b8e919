"""What the function logs, in its own process as Lambda runs it: one JSON line per step, and
never the pre-signed ResponseURL's signature, whatever the log level."""

from __future__ import annotations

import pytest
from conftest import World, log_lines
from support.lifecycle import run_lifecycle

from demo.world import REGISTRATION
from localaws.cloudformation.stacks import Stack


@pytest.fixture
def debug_lifecycle(world: World, aws_environment: dict[str, str]) -> Stack:
    return run_lifecycle(world, {**aws_environment, "LOG_LEVEL": "DEBUG"})


@pytest.fixture
def info_lifecycle(world: World, aws_environment: dict[str, str]) -> Stack:
    return run_lifecycle(world, {**aws_environment, "LOG_LEVEL": "INFO"})


def test_no_signature_is_logged_even_at_debug(world: World, debug_lifecycle: Stack) -> None:
    logs = "".join(exchange.logs for exchange in debug_lifecycle.exchanges)
    assert "ResponseURL" in logs  # crhelper did log the event at DEBUG...
    assert "<redacted>" in logs  # ...with the URL's query cut out
    for secret in world.receiver.secrets():
        assert secret not in logs


def test_at_info_the_response_url_is_not_logged_at_all(world: World, info_lifecycle: Stack) -> None:
    logs = "".join(exchange.logs for exchange in info_lifecycle.exchanges)
    host_and_path = world.receiver.issued(
        str(info_lifecycle.exchanges[0].event["RequestId"])
    ).url.split("?")[0]
    assert host_and_path not in logs
    for secret in world.receiver.secrets():
        assert secret not in logs


def test_each_step_is_one_json_line_naming_stack_logical_id_pool_api_and_outcome(
    info_lifecycle: Stack,
) -> None:
    create, delete = info_lifecycle.exchanges
    messages = [
        line["message"]
        for exchange in (create, delete)
        for line in log_lines(exchange.logs)
        if isinstance(line.get("message"), dict) and "step" in line["message"]
    ]
    steps = [message for message in messages if "requestType" in message]
    assert [(step["requestType"], step["step"], step["outcome"]) for step in steps] == [
        ("Create", "register", "added"),
        ("Create", "settle", "live"),
        ("Create", "send", "delivered"),
        ("Delete", "deregister", "removed"),
        ("Delete", "settle", "live"),
        ("Delete", "send", "delivered"),
    ]
    # The worker's own lines (it works for every request): what it did to the authorizer.
    work = [(m["step"], m["outcome"]) for m in messages if "requestType" not in m]
    assert work == [("authorizer", "add"), ("authorizer", "remove")]
    for step in steps:
        assert step["stack"] == "tenant-acme"
        assert step["logicalId"] == REGISTRATION
        if step["step"] == "send":
            continue
        assert step["pool"].startswith("arn:aws:cognito-idp:us-east-1:")
        assert step["api"]
