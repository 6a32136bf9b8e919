"""Rollbacks: CloudFormation's Update back to the old properties, then its cleanup.

Found by an adversarial review: the Update rollback path.

A successful replacing Update (pool old -> new) followed by a failure elsewhere in the stack
makes CloudFormation send a rollback Update (new -> old, so ``replacing`` is True and
``undo_on_failure`` is on). If that rollback Update fails for any reason after validation, the
"undo" tombstones the *old* owner, which this request never added: it was live before the
whole stack update began. The tenant's original registration is lost.
"""

from __future__ import annotations

from typing import Any

import pytest
from conftest import World, log_lines

from demo.world import REGISTRATION
from localaws.cloudformation.stacks import Exchange

OUTAGE_MESSAGE = "An internal error occurred. Please try again later."


def test_a_failed_rollback_update_takes_away_the_registration_it_was_restoring(
    world: World,
) -> None:
    old, new = world.tenant_pool("acme-v1"), world.tenant_pool("acme-v2")
    world.create_tenant("tenant-acme", old)
    assert world.live_everywhere(old)
    updates: list[Exchange] = []

    def on_exchange(exchange: Exchange) -> None:
        if exchange.request_type != "Update":
            return
        updates.append(exchange)
        if len(updates) == 1:
            # Let the rollback Update give up on the outage soon (model seconds).
            world.cloudformation.function.timeout = 30.0  # type: ignore[attr-defined]
            # The forward Update succeeded; DynamoDB's Query (only the worker's read of the
            # partition uses it, not validation) is down while the rollback Update runs.
            world.aws.control_plane.inject(
                "Query", 500, "InternalServerError", OUTAGE_MESSAGE, service="dynamodb"
            )
        else:
            world.aws.control_plane.clear()  # healthy again for the cleanup Delete

    world.cloudformation.on_exchange = on_exchange
    stack = world.cloudformation.update_stack(
        "tenant-acme", {REGISTRATION: world.registration(new)}, fail_after_resources=True
    )
    world.cloudformation.on_exchange = None

    forward, rollback = updates
    assert forward.status == "SUCCESS", forward.reason
    assert rollback.status == "FAILED"
    # What the rollback Update was restoring was live before the update began: a failed
    # rollback may leave the stack UPDATE_ROLLBACK_FAILED, but it must not take the old
    # registration away.
    assert world.owners().get(old) == [f"tenant-acme/{REGISTRATION}"], (
        f"the old owner is gone: {world.owners()}; rollback said {rollback.reason!r}"
    )
    assert world.live_everywhere(old), f"old pool not served; stack {stack.status}"


def test_a_canary_started_during_an_update_makes_its_rollback_drop_the_old_registration(
    world: World,
) -> None:
    """No fault at all: someone starts a canary release on prod while a tenant's stack update
    (pool old -> new) is in progress, and a later resource of that stack fails. The rollback
    Update (new -> old) reuses validation's recent check (no canary then), then its confirm
    answers FAILED for the canary, and its "undo" tombstones the old owner."""
    old, new = world.tenant_pool("acme-v1"), world.tenant_pool("acme-v2")
    world.create_tenant("tenant-acme", old)
    updates: list[Exchange] = []

    def on_exchange(exchange: Exchange) -> None:
        if exchange.request_type == "Update":
            updates.append(exchange)
            if len(updates) == 1:
                world.apigateway().create_deployment(
                    restApiId=world.api.rest_api_id,
                    stageName="prod",
                    canarySettings={"percentTraffic": 10.0},
                )

    world.cloudformation.on_exchange = on_exchange
    stack = world.cloudformation.update_stack(
        "tenant-acme", {REGISTRATION: world.registration(new)}, fail_after_resources=True
    )
    world.cloudformation.on_exchange = None

    forward, rollback = updates
    assert forward.status == "SUCCESS", forward.reason
    # Whatever the rollback answers, the registration it restores was live before the update.
    assert world.owners().get(old) == [f"tenant-acme/{REGISTRATION}"], (
        f"old owner gone: {world.owners()}; rollback {rollback.status}: {rollback.reason!r}; "
        f"stack {stack.status}"
    )
    assert old in world.provider_arns()
    assert old in (world.served("dev") or ())


def test_a_canary_on_a_stage_the_stack_already_had_makes_its_rollback_fail(world: World) -> None:
    """Someone starts a canary release on prod. A tenant registered on [dev, prod] updates its
    StageNames to [dev] (allowed: dev has no canary) and a later resource of its stack fails.
    CloudFormation's rollback Update goes back to [dev, prod], which validation (or confirm)
    refuses for the canary: UPDATE_ROLLBACK_FAILED, a stack only an operator can unstick
    (ContinueUpdateRollback skipping the resource), for a registration that was live all along.
    """
    acme = world.tenant_pool("acme")
    world.create_tenant("tenant-acme", acme)
    world.apigateway().create_deployment(
        restApiId=world.api.rest_api_id, stageName="prod", canarySettings={"percentTraffic": 10.0}
    )

    stack = world.cloudformation.update_stack(
        "tenant-acme",
        {REGISTRATION: world.registration(acme, StageNames=["dev"])},
        fail_after_resources=True,
    )

    assert stack.status == "UPDATE_ROLLBACK_COMPLETE", [
        (e.request_type, e.status, e.reason) for e in stack.exchanges[1:]
    ]


def _retire_stage(world: World, pool: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STAGE_NAMES", "prod")


def _narrow_allowed_pools(world: World, pool: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ALLOWED_USER_POOL_ARNS", "arn:aws:cognito-idp:*:123456789012:userpool/none")


def _protect_the_pool(world: World, pool: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PROTECTED_USER_POOL_ARNS", f"{world.api.operators_pool_arn},{pool}")


@pytest.mark.parametrize(
    "change", [_retire_stage, _narrow_allowed_pools, _protect_the_pool], ids=lambda c: c.__name__
)
def test_a_rollback_to_what_the_owner_had_is_never_refused_for_bounds_changed_since(
    world: World, monkeypatch: pytest.MonkeyPatch, change: Any
) -> None:
    """The platform redeploys the registrar with narrower bounds (a stage retired from
    StageNames, AllowedUserPoolArns narrowed, the pool protected); then a tenant's stack update
    that touches its registration fails elsewhere. CloudFormation's rollback Update goes back
    to properties the owner had: it passes, with a WARNING saying what is out of bounds."""
    acme = world.tenant_pool("acme")
    world.create_tenant("tenant-acme", acme)
    change(world, acme, monkeypatch)

    stack = world.cloudformation.update_stack(
        "tenant-acme",
        {REGISTRATION: world.registration(acme, StageNames=["prod"], ServiceTimeout=900)},
        fail_after_resources=True,
    )

    assert stack.status == "UPDATE_ROLLBACK_COMPLETE", [
        (e.request_type, e.status, e.reason) for e in stack.exchanges[1:]
    ]
    rollback = stack.exchanges[-1]
    warnings = [
        line["message"]
        for line in log_lines(rollback.logs)
        if line["level"] == "WARNING" and line["message"].get("outcome") == "out-of-bounds"
    ]
    assert warnings, "no WARNING says what is out of bounds"
    assert world.owners().get(acme) == [f"tenant-acme/{REGISTRATION}"]
