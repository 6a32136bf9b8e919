"""Long waits on the local AWS: API Gateway busy for a while, continuations in flight."""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from conftest import TIME_SCALE

from localaws.cloudformation.stacks import InProcessFunction

if TYPE_CHECKING:
    from conftest import World


def busy_for(world: World, model_seconds: float) -> threading.Timer:
    """Other teams' deployments hold the account's CreateDeployment quota for a while."""
    world.aws.control_plane.inject(
        "CreateDeployment",
        429,
        "TooManyRequestsException",
        "Too Many Requests",
        headers={"Retry-After": "5"},
        service="apigateway",
    )
    timer = threading.Timer(model_seconds * TIME_SCALE, world.aws.control_plane.clear)
    timer.start()
    return timer


def settled(world: World, seconds: float = 60) -> None:
    """Every continuation and retry delivered and finished: nothing left in Lambda's queue."""
    assert world.aws.control_plane.lambda_async.wait_idle(seconds), "continuations still queued"


def continuations(world: World) -> list[Mapping[str, Any]]:
    return [d.event for d in world.aws.control_plane.lambda_async.deliveries]


def on_continuation(world: World, hook: Callable[[Mapping[str, Any]], None]) -> None:
    """Run ``hook`` before each continuation reaches the function."""
    function = world.cloudformation.function
    assert isinstance(function, InProcessFunction)

    class Hooked:
        arn = function.arn

        def deliver(self, event: Mapping[str, Any]) -> Any:
            hook(event)
            return function.deliver(event)

    world.aws.control_plane.lambda_async.attach(Hooked())
