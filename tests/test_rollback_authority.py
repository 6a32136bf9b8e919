"""A rollback goes back only to a pool its owner had: while a stack rolls back, an Update naming a
pool the owner never had live (anyone holding lambda:InvokeFunction on the ServiceToken can send
one with the resource's current physical id) is checked like a new registration, and refused
when the stack may not speak for the pool. Such an owner would be keyed by (pool, stack, logical
id) and never reached by the stack's own Delete, which names the stack's own pool."""

from __future__ import annotations

from typing import Any

from conftest import REGISTRATION, World

from localaws.cloudformation import Exchange, LocalCloudFormation


def test_a_rollback_never_registers_a_pool_the_owner_did_not_have_live(world: World) -> None:
    cfn = LocalCloudFormation(
        world.cloudformation.function,
        world.receiver,
        service_timeout=world.cloudformation.service_timeout,
        own_pools=True,
    )
    # A pool made outside CloudFormation (an internal app's, with self sign-up): no stack holds
    # it and it is not in SharedUserPoolArns.
    loose = world.tenant_pool("internal-app")
    evil_pool = world.tenant_pool("evil")
    evil = cfn.create_stack("tenant-evil", {REGISTRATION: world.registration(evil_pool)})
    assert evil.status == "CREATE_COMPLETE"
    token = world.sign_in(loose)
    assert world.answers(token) == world.everywhere(401)

    forged: list[Any] = []

    def on_exchange(exchange: Exchange) -> None:
        # CloudFormation's own rollback Update was answered; the stack is still rolling back and
        # the failed update touched the registration, so an Update is expected of it.
        rolling_back = evil.status == "UPDATE_ROLLBACK_IN_PROGRESS"
        if exchange.request_type == "Update" and rolling_back and not forged:
            event = cfn.build_event(
                "Update",
                evil,
                REGISTRATION,
                world.registration(loose),
                physical_id=evil.resources[REGISTRATION].physical_id,
                old_properties=world.registration(evil_pool),
            )
            forged.append(cfn.function.deliver(event))

    cfn.on_exchange = on_exchange
    # The tenant's update touches the registration, then fails elsewhere.
    stack = cfn.update_stack(
        "tenant-evil",
        {REGISTRATION: world.registration(evil_pool, StageNames=["dev"])},
        fail_after_resources=True,
    )
    cfn.on_exchange = None
    assert stack.status == "UPDATE_ROLLBACK_COMPLETE"
    assert len(forged) == 1
    assert loose not in world.owners()
    assert world.answers(token) == world.everywhere(401)

    cfn.delete_stack("tenant-evil")
    assert loose not in world.owners()
    assert world.answers(token) == world.everywhere(401)
