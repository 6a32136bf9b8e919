"""Found by an adversarial review: a removal that reaches the stages without their authorizer
cache being flushed.

The flush is done only for the stages a pass *deploys* (convergence.Worker._deploy). The
scheduled run (verify=True) *adopts* a stage whose unknown deployment already serves the wanted
list (plan.stage_verdict: ``adopted``), records it in the ledger, and flushes nothing. When the
deployment that carried a removal was someone else's (the shared API's pipeline), nobody ever
flushes the stage: the deleted tenant's cached allows outlive its Delete's SUCCESS by up to the
authorizer's TTL (300 s here, up to 3,600 s).
"""

from __future__ import annotations

import pytest
from conftest import World
from support.api_gateway import OUTAGE_MESSAGE
from support.verification import scheduled_run


def test_a_removal_adopted_by_the_scheduled_run_is_never_flushed(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    acme = world.tenant_pool("acme")
    world.create_tenant("tenant-acme", acme)
    flushed = {stage: world.flushes(stage) for stage in world.api.stage_names}

    # The Delete removes acme from the authorizer, then cannot deploy: DELETE_FAILED.
    world.cloudformation.function.timeout = 20.0  # type: ignore[attr-defined]
    world.aws.control_plane.inject(
        "CreateDeployment", 500, "InternalFailure", OUTAGE_MESSAGE, service="apigateway"
    )
    stack = world.cloudformation.delete_stack("tenant-acme")
    assert stack.status == "DELETE_FAILED"
    world.aws.control_plane.clear()
    world.cloudformation.function.timeout = 60.0  # type: ignore[attr-defined]
    # The shared API's pipeline deploys every stage meanwhile (it flushes nothing).
    world.redeploy_every_stage()
    # The scheduled run finds the stages already serving the right list.
    scheduled_run(world)
    # The operator retries the stack deletion.
    stack = world.cloudformation.delete_stack("tenant-acme")
    assert stack.status == "DELETE_COMPLETE", stack.exchanges[-1].reason
    assert world.gone_everywhere(acme)

    unflushed = [s for s in world.api.stage_names if world.flushes(s) == flushed[s]]
    assert not unflushed, (
        f"acme's Delete answered SUCCESS but {unflushed} never had its authorizer cache "
        "flushed since acme was removed: cached allows for acme's tokens live on for up to "
        "the TTL"
    )
