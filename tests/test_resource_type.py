"""Adversary (forged invoke, any tenant pipeline): caller.verify checks only that the named
resource is CREATE_IN_PROGRESS with the event's ResourceType; it never checks that the resource
is a registration served by this function (its type is Custom::*, its ServiceToken this
function). A stack resource that stays CREATE_IN_PROGRESS for hours without any Lambda (an
AWS::CloudFormation::WaitCondition, up to 12 h) can carry a forged Create: the owner it makes,
(pool, stack, 'Wait'), is never deregistered, since CloudFormation never sends this function a
Delete for 'Wait'. The stack's pool (kept with DeletionPolicy: Retain) stays trusted after the
tenant's stack is deleted: offboarding no longer ends its trust.
"""

from __future__ import annotations

import time

from conftest import REGISTRATION, World

from localaws.cloudformation_records import RECORDS

WAIT = "Wait"
WAIT_TYPE = "AWS::CloudFormation::WaitCondition"


def test_only_a_custom_resource_can_register_a_pool(
    world: World,
) -> None:
    cfn = world.cloudformation
    evil_pool = world.tenant_pool("evil")
    stack = cfn.new_stack("tenant-evil")
    # The stack is being created: its pool and registration are done, a WaitCondition is not.
    create = cfn.send("Create", stack, REGISTRATION, world.registration(evil_pool))
    assert create.succeeded
    from localaws.cloudformation import ResourceState  # noqa: PLC0415

    stack.resources[REGISTRATION] = ResourceState(
        dict(world.registration(evil_pool)), create.physical_id
    )
    RECORDS.resource(
        stack.stack_id, WAIT, "CREATE_IN_PROGRESS", time.time(), resource_type=WAIT_TYPE
    )

    forged = cfn.build_event("Create", stack, WAIT, world.registration(evil_pool))
    forged["ResourceType"] = WAIT_TYPE
    result = cfn.function.deliver(forged)
    assert result.ok
    print("owners after forged Create:", world.owners())

    RECORDS.resource(stack.stack_id, WAIT, "CREATE_COMPLETE", time.time())
    cfn.phase(stack, "CREATE_COMPLETE")
    token = world.sign_in(evil_pool)
    deleted = cfn.delete_stack("tenant-evil")
    print("stack:", deleted.status, "owners:", world.owners(), "answers:", world.answers(token))
    assert world.answers(token) == world.everywhere(401), (
        "the tenant's stack is deleted, yet its (retained) pool is still trusted through an "
        f"owner keyed on a WaitCondition: owners={world.owners()}"
    )
