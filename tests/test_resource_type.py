"""Only a custom resource can be a registration: CloudFormation sends a ServiceToken requests
only for ``Custom::*`` and ``AWS::CloudFormation::CustomResource`` resources. A forged Create
naming another resource of the tenant's stack that stays in progress for hours (a WaitCondition,
up to 12 h) is refused: the owner it would make, (pool, stack, 'Wait'), would never get a
Delete, and the tenant's retained pool would stay trusted after its stack is deleted."""

from __future__ import annotations

import time

import pytest
from conftest import World

from demo.world import REGISTRATION
from localaws.cloudformation.records import RECORDS
from localaws.cloudformation.stacks import ResourceState

# The fast tier (make test-fast): no local AWS, seconds in all.
pytestmark = pytest.mark.fast

WAIT = "Wait"
WAIT_TYPE = "AWS::CloudFormation::WaitCondition"


def test_only_a_custom_resource_can_register_a_pool(world: World) -> None:
    cfn = world.cloudformation
    evil_pool = world.tenant_pool("evil")
    stack = cfn.new_stack("tenant-evil")
    # The stack is being created: its pool and registration are done, a WaitCondition is not.
    create = cfn.send("Create", stack, REGISTRATION, world.registration(evil_pool))
    assert create.succeeded
    stack.resources[REGISTRATION] = ResourceState(
        dict(world.registration(evil_pool)), create.physical_id
    )
    RECORDS.resource(
        stack.stack_id, WAIT, "CREATE_IN_PROGRESS", time.time(), resource_type=WAIT_TYPE
    )

    forged = cfn.build_event("Create", stack, WAIT, world.registration(evil_pool))
    forged["ResourceType"] = WAIT_TYPE
    assert cfn.function.deliver(forged).ok

    RECORDS.resource(stack.stack_id, WAIT, "CREATE_COMPLETE", time.time())
    cfn.phase(stack, "CREATE_COMPLETE")
    token = world.sign_in(evil_pool)
    cfn.delete_stack("tenant-evil")
    assert world.answers(token) == world.everywhere(401), (
        "the tenant's stack is deleted, yet its retained pool is still trusted through an owner "
        f"keyed on a WaitCondition: owners={world.owners()}"
    )
