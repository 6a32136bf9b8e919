"""A crash at every point of a request's life: exactly one answer (or identical ones) reaches
CloudFormation before its ServiceTimeout, no owner is live after FAILED, none is lost after
SUCCESS.

Each request runs in Lambda-like execution environments (one process each, ``LambdaService``).
At a named point the environment working on the request dies: the instant AWS applied the call
it made there, before the function heard back (``ControlPlane.after``), or the instant its
answer reached S3 (``ResponseReceiver.on_answer``). Then Lambda does what it does: it retries
the failed invocation after about a minute, and again after two more; continuations already
queued are delivered.

The scenarios: *quiet* (one invocation goes live), *busy* (another team holds the account's
CreateDeployment quota for a while, so the request hands over to a continuation of itself) and
*give-up* (it holds it for good, so the request answers FAILED before its ServiceTimeout,
taking its owner back). The session prints the matrix.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Literal

import pytest
from conftest import World, template_function
from support.crashes import Crasher
from support.storage import PASS_RECORD, owner_write, registry_write

from demo.world import REGISTRATION, registrar_cloudformation
from localaws.cloudformation.response_receiver import ReceivedAnswer
from localaws.cloudformation.stacks import LambdaService, LocalCloudFormation, Stack
from localaws.middleware.routes import RequestInfo

# Faster than the other tests' 0.1: a give-up here takes 480 model s.
SCALE = 0.03
FUNCTION_TIMEOUT = 60.0
Scenario = Literal["quiet", "busy", "give-up"]
SERVICE_TIMEOUT = {"quiet": 600, "busy": 600, "give-up": 600}
# Model seconds another team holds the CreateDeployment quota (None: for good).
BUSY_FOR: dict[Scenario, float | None] = {"quiet": 0.0, "busy": 90.0, "give-up": None}


@dataclass(frozen=True)
class Point:
    name: str
    scenario: Scenario
    # The call after which the environment dies; None: when its answer reaches S3.
    call: Callable[[RequestInfo], bool] | None
    status: str


POINTS = [
    Point("seen", "quiet", registry_write("started = if_not_exists"), "SUCCESS"),
    Point("owner recorded", "quiet", owner_write, "SUCCESS"),
    Point("worked (pass recorded)", "quiet", registry_write(PASS_RECORD), "SUCCESS"),
    Point("answer recorded", "quiet", registry_write("SET answer"), "SUCCESS"),
    Point("answer sent", "quiet", None, "SUCCESS"),
    Point("next continuation claimed", "busy", registry_write("nonces.#next"), "SUCCESS"),
    Point(
        "continuation invoked",
        "busy",
        lambda i: i.service == "lambda" and i.operation == "Invoke",
        "SUCCESS",
    ),
    Point(
        "FAILED recorded, owner taken back",
        "give-up",
        registry_write("SET answer", "deleted_by"),
        "FAILED",
    ),
    Point("FAILED sent", "give-up", None, "FAILED"),
]


@dataclass
class Cell:
    point: Point
    answers: list[ReceivedAnswer]
    seconds: float
    owned: bool
    live: bool
    gone_after_repair: bool

    def row(self) -> str:
        answers = ", ".join(sorted({a.status or "?" for a in self.answers}))
        return (
            f"{self.point.name:34} {self.point.scenario:8} {len(self.answers)} answer(s) "
            f"{answers:8} at {self.seconds:6.1f} model s  owner {'live' if self.owned else 'gone'}"
        )


@pytest.fixture(scope="module")
def matrix() -> Iterator[list[Cell]]:
    cells: list[Cell] = []
    yield cells
    print("\ncrash matrix (the environment dies at the point; Lambda retries as it does):")
    for cell in cells:
        print("  " + cell.row())


@pytest.mark.parametrize("point", POINTS, ids=[p.name for p in POINTS])
def test_a_crash_at_any_point_still_answers_once_in_time_and_leaves_aws_consistent(
    world: World, aws_environment: dict[str, str], point: Point, matrix: list[Cell]
) -> None:
    pool = world.tenant_pool("acme")
    plane = world.aws.control_plane
    config = template_function(aws_environment, time_scale=SCALE, timeout=FUNCTION_TIMEOUT)
    with LambdaService(config) as service:
        plane.lambda_async.attach(service, time_scale=SCALE)
        crasher = Crasher(world, service, point.call)
        timeout = SERVICE_TIMEOUT[point.scenario]
        cloudformation = registrar_cloudformation(
            service,
            world.receiver,
            service_timeout=timeout * SCALE + 20,
            lambda_async=plane.lambda_async,
        )
        calm = _busy(world, BUSY_FOR[point.scenario])
        stack = cloudformation.new_stack("tenant-acme")
        create = cloudformation.send(
            "Create", stack, REGISTRATION, world.registration(pool, ServiceTimeout=timeout)
        )
        assert plane.lambda_async.wait_idle(timeout * SCALE + 60), "Lambda's queue never emptied"
        calm()
        assert crasher.fired.is_set(), f"the environment never reached {point.name}"
        answers = world.receiver.answers(str(create.event["RequestId"]))
        cell = Cell(point, answers, create.seconds / SCALE, False, False, False)
        matrix.append(cell)

        assert answers, "no answer"
        assert len({json.dumps(a.document, sort_keys=True) for a in answers}) == 1, answers
        assert create.status == point.status, create.reason
        assert cell.seconds < timeout, "the answer came after the ServiceTimeout"
        cell.owned = pool in world.owners()
        if create.status == "SUCCESS":
            assert cell.owned, "an owner that answered SUCCESS was lost"
            assert world.live_everywhere(pool), "SUCCESS, yet a stage does not trust the pool"
        else:
            assert not cell.owned, "an owner is live after FAILED"
            _one_more_pass(world, cloudformation, stack, create.physical_id)
            cell.gone_after_repair = world.gone_everywhere(pool)
            assert cell.gone_after_repair, "the pool stayed trusted after FAILED"


def _busy(world: World, model_seconds: float | None) -> Callable[[], None]:
    """Another team holds the CreateDeployment quota (for ``model_seconds``, or until the
    returned function is called)."""
    plane = world.aws.control_plane
    if model_seconds == 0:
        return lambda: None
    fault = plane.inject(
        "CreateDeployment",
        429,
        "TooManyRequestsException",
        "Too Many Requests",
        headers={"Retry-After": "5"},
        service="apigateway",
    )
    if model_seconds is not None:
        timer = threading.Timer(model_seconds * SCALE, lambda: setattr(fault, "remaining", 0))
        timer.start()
    return lambda: setattr(fault, "remaining", 0)


def _one_more_pass(
    world: World, cloudformation: LocalCloudFormation, stack: Stack, physical_id: str
) -> None:
    """CloudFormation's rollback Delete of the failed Create: a pass, with AWS calm."""
    world.aws.control_plane.clear()
    delete = cloudformation.send(
        "Delete", stack, REGISTRATION, {"UserPoolArn": "x"}, physical_id=physical_id
    )
    assert delete.succeeded, delete.reason
