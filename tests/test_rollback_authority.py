"""Adversary: a forged Update sent while the tenant's own stack rolls back skips the authority
check (lifecycle._register: `if not job.rollback: authority.check(...)`), so anyone holding
lambda:InvokeFunction on the ServiceToken (every tenant pipeline) registers a pool its stack
never held: another tenant's, or a pool no stack holds (made by hand, not in
SharedUserPoolArns). The owner it makes is keyed by (pool, stack, logical id) and is never
reached by the stack's own Delete (which carries the physical id of the stack's own pool), so the
foreign pool stays trusted after the attacker's stack is deleted and after its real owner left.
"""

from __future__ import annotations

import time
from typing import Any

from conftest import REGISTRATION, World, log_lines

from localaws.cloudformation import Exchange, LocalCloudFormation


def _refused(result: Any) -> list[dict[str, Any]]:
    return [
        line["message"]
        for line in log_lines(result.logs)
        if line.get("level") == "WARNING" and line["message"].get("outcome") == "refused"
    ]


def test_a_rollback_never_registers_a_pool_the_owner_did_not_have_live(world: World) -> None:
    cfn = LocalCloudFormation(
        world.cloudformation.function,
        world.receiver,
        service_timeout=world.cloudformation.service_timeout,
        own_pools=True,
    )
    # A pool made outside CloudFormation (an internal app's pool, self sign-up, ...):
    # no stack holds it, it is not in SharedUserPoolArns; a normal Create naming it is refused.
    loose = world.tenant_pool("internal-app")
    evil_pool = world.tenant_pool("evil")
    evil = cfn.create_stack("tenant-evil", {REGISTRATION: world.registration(evil_pool)})
    assert evil.status == "CREATE_COMPLETE"
    token = world.sign_in(loose)
    assert world.answers(token) == world.everywhere(401)

    forged_results: list[Any] = []

    def on_exchange(exchange: Exchange) -> None:
        # The stack's legit rollback Update was answered; the stack is still
        # UPDATE_ROLLBACK_IN_PROGRESS and the registration was touched by the failed update.
        if (
            exchange.request_type == "Update"
            and len(forged_results) == 0
            and (evil.status == "UPDATE_ROLLBACK_IN_PROGRESS")
        ):
            physical_id = evil.resources[REGISTRATION].physical_id
            event = cfn.build_event(
                "Update",
                evil,
                REGISTRATION,
                world.registration(loose),
                physical_id=physical_id,
                old_properties=world.registration(evil_pool),
            )
            forged_results.append(cfn.function.deliver(event))

    cfn.on_exchange = on_exchange
    # The tenant pipeline makes an update that touches the registration, then fails elsewhere.
    stack = cfn.update_stack(
        "tenant-evil",
        {REGISTRATION: world.registration(evil_pool, StageNames=["dev"])},
        fail_after_resources=True,
    )
    cfn.on_exchange = None
    assert stack.status == "UPDATE_ROLLBACK_COMPLETE"
    (forged,) = forged_results
    print("forged refused lines:", _refused(forged))
    time.sleep(0.2)
    owners = world.owners()
    print("owners after forged rollback:", owners)
    print("answers with the loose pool's token:", world.answers(token))

    # Expected: the forged Update is refused (authority), nothing registered.
    # Observed (bug): it is registered and the loose pool's users get 200 everywhere.
    broken = loose in owners and world.answers(token) == world.everywhere(200)

    # And it outlives the attacker's stack.
    cfn.delete_stack("tenant-evil")
    after_delete = world.owners()
    print("owners after tenant-evil deleted:", after_delete)
    print("answers after tenant-evil deleted:", world.answers(token))
    assert not broken, (
        f"forged rollback Update registered a pool no stack holds: owners={owners}, "
        f"after the attacker's stack was deleted: owners={after_delete}, "
        f"answers={world.answers(token)}"
    )
