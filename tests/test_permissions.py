"""Least privilege, checked against what the function really does: every call it made during a
whole lifecycle must be allowed by template.yaml's role, deployed for this shared API."""

from __future__ import annotations

from conftest import World
from support.iam import denied
from support.waiting import busy_for, settled

from demo.world import REGISTRATION


def test_every_call_of_a_whole_lifecycle_is_allowed_by_the_role(world: World) -> None:
    role = world.deployed()
    first, second = world.tenant_pool("acme-v1"), world.tenant_pool("acme-v2")
    world.create_tenant("tenant-acme", first, StageNames=["dev"])
    world.cloudformation.update_stack("tenant-acme", {REGISTRATION: world.registration(first)})
    world.cloudformation.update_stack("tenant-acme", {REGISTRATION: world.registration(second)})
    # One request outlasts an invocation and goes on in a continuation of the function.
    busy = busy_for(world, 100.0)
    assert world.create_tenant("tenant-busy", world.tenant_pool("busy")).status == (
        "CREATE_COMPLETE"
    )
    busy.cancel()
    settled(world)
    stack = world.cloudformation.delete_stack("tenant-acme")
    assert stack.status == "DELETE_COMPLETE"

    calls = world.calls()
    assert {call.operation for call in calls} >= {
        "DescribeUserPool",
        "GetAuthorizer",
        "GetStages",
        "UpdateAuthorizer",
        "CreateDeployment",
        "FlushStageAuthorizersCache",
        "TransactWriteItems",
        "UpdateItem",
        "GetItem",
        "Invoke",
        "DescribeStackResource",
        "DescribeStacks",
    }
    assert denied(calls, role.role_statements()) == []
