"""Attack: the hand-over claim succeeds but Lambda's Invoke is throttled for the rest of the
invocation. The request gives up at once, ~1 minute in, with a ServiceTimeout of 3,600 s, and
tells the tenant AWS "stayed too busy ... within the ServiceTimeout (3600 s)": a false reason,
and a FAILED the request's patience did not call for (the claim of attempt 1 also makes
Lambda's own retry of this invocation 'superseded', so nothing could have carried it on)."""

from __future__ import annotations

from conftest import TIME_SCALE, World
from support.waiting import settled


def test_a_throttled_invoke_gives_up_long_before_the_service_timeout(world: World) -> None:
    pool = world.tenant_pool("acme")
    plane = world.aws.control_plane
    plane.inject(
        "CreateDeployment", 429, "TooManyRequestsException", "Too Many Requests",
        headers={"Retry-After": "5"}, service="apigateway",
    )  # fmt: skip
    plane.inject("Invoke", 429, "TooManyRequestsException", "Rate Exceeded.", service="lambda")

    def calm_for_the_rollback(exchange: object) -> None:
        plane.clear()

    world.cloudformation.on_exchange = calm_for_the_rollback
    stack = world.create_tenant("tenant-acme", pool, ServiceTimeout=3600)
    world.cloudformation.on_exchange = None
    settled(world)
    create = stack.exchanges[0]
    waited = create.seconds / TIME_SCALE
    print("status:", create.status, "after", round(waited), "model s:", create.reason)
    assert create.status == "FAILED"
    # Expected: either the request goes on, or its reason says what happened. Observed: it
    # claims the ServiceTimeout was exhausted after about a minute.
    assert not ("ServiceTimeout (3600 s)" in create.reason and waited < 600), create.reason
