"""The scheduled repair run, as template.yaml's schedule sends it."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from localaws.awslambda.runtime import InvocationResult
from localaws.cloudformation.stacks import InProcessFunction
from localaws.eventbridge.rules import scheduled_event

if TYPE_CHECKING:
    from conftest import World

SCHEDULED_EVENT = scheduled_event("registrar-repair")


def scheduled_run(world: World) -> InvocationResult:
    """EventBridge's scheduled event, through the repair alias, to the registrar configured for
    this world's API."""
    function = world.cloudformation.function
    assert isinstance(function, InProcessFunction)
    result = function.deliver(SCHEDULED_EVENT, qualifier="repair")
    assert result.ok, result.error
    return result


def repair_summary(logs: str) -> dict[str, Any]:
    """The one line a scheduled run logs to say what it did."""
    found = []
    for text in logs.splitlines():
        try:
            message = json.loads(text).get("message")
        except (ValueError, AttributeError):
            continue
        if isinstance(message, dict) and message.get("step") == "repair":
            found.append(message)
    (summary,) = found
    return summary
