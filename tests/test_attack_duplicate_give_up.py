"""Attack: two copies of one continuation (Lambda delivers at least once). One makes the pool
live and answers SUCCESS; the other, whose first registry read was slow, reaches the give-up
and takes the owner back (``answering._give_up`` -> ``lifecycle.take_back``) without looking at
the recorded answer. CloudFormation hears SUCCESS (the recorded answer is re-sent), yet the
registration is a tombstone and the next pass removes the pool from the authorizer: the
tenant's users are locked out of a stack that says CREATE_COMPLETE."""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import Any

from conftest import FUNCTION_TIMEOUT, REGISTRATION, TIME_SCALE, World, template_function

from localaws.cloudformation import LambdaService, LocalCloudFormation
from localaws.routes import RequestInfo

MARKER = "AuthorizerPoolsContinuation"


def owner_read(info: RequestInfo) -> bool:
    return info.operation == "GetItem" and b'"owner#' in info.body


def test_a_duplicate_continuation_giving_up_takes_back_a_registration_that_answered_success(
    world: World, aws_environment: dict[str, str]
) -> None:
    pool = world.tenant_pool("acme")
    config = template_function(aws_environment, time_scale=TIME_SCALE, timeout=FUNCTION_TIMEOUT)
    plane = world.aws.control_plane
    with LambdaService(config) as service:
        armed = threading.Event()
        logs: list[str] = []

        class Hooked:
            arn = service.arn

            def deliver(self, event: Mapping[str, Any]) -> Any:
                if event.get(MARKER, {}).get("attempt") == 1 and not armed.is_set():
                    armed.set()
                    # One copy's first owner read is stuck for 40 model s (past the give-up);
                    # API Gateway calms down, so the other copy finishes.
                    plane.inject_delay("GetItem", 4.0, times=1, predicate=owner_read,
                                       service="dynamodb")  # fmt: skip
                    throttle.remaining = 0
                result = service.deliver(event)
                logs.append(result.logs)
                return result

        plane.lambda_async.attach(Hooked())
        plane.lambda_async.duplicate_next(1)  # continuation 1 arrives twice
        cloudformation = LocalCloudFormation(service, world.receiver, service_timeout=30)
        throttle = plane.inject(
            "CreateDeployment", 429, "TooManyRequestsException", "Too Many Requests",
            headers={"Retry-After": "5"}, service="apigateway",
        )  # fmt: skip
        # ServiceTimeout 100: give-up at 75 s; continuation 1 (from ~46 s) ends with it.
        stack = cloudformation.create_stack(
            "tenant-acme", {REGISTRATION: world.registration(pool, ServiceTimeout=100)}
        )
        assert plane.lambda_async.wait_idle(60)
        plane.clear()
        (create,) = stack.exchanges
        answers = world.receiver.answers(str(create.event["RequestId"]))
        print("answers:", [(a.status, a.reason) for a in answers])
        print("deliveries:", [(d.event.get(MARKER), d.ok) for d in plane.lambda_async.deliveries])
        steps = [
            line
            for text in logs
            for line in text.splitlines()
            if '"give-up"' in line or '"undo"' in line or "taken-back" in line
        ]
        print("give-up lines:", steps)
        assert stack.status == "CREATE_COMPLETE", create.reason
        assert {a.status for a in answers} == {"SUCCESS"}
        world.create_tenant("tenant-probe", world.tenant_pool("probe"))  # one more pass
        print("owners:", world.owners())
        assert pool in world.owners(), "the registration that answered SUCCESS was taken back"
        assert world.live_everywhere(pool), "the pool of a CREATE_COMPLETE stack is not served"
