"""What a writer of the registry other than the function (an operator holding UpdateItem
through OperatorPolicy, a typo in the console) cannot do: make a request answer SUCCESS
without a pass, hold the worker's lease for ever, or hide a removal no deletion asked for."""

from __future__ import annotations

from typing import Any

import boto3
import pytest
from conftest import World, log_lines
from support import storage
from support.verification import repair_summary, scheduled_run

from demo.shared_api import REGISTRY_TABLE
from demo.world import REGISTRATION
from localaws.middleware.routes import RequestInfo

FAR_AHEAD = 10**9


def write_by_hand(world: World, sk: str, expression: str, values: dict[str, Any]) -> None:
    boto3.client("dynamodb").update_item(
        TableName=REGISTRY_TABLE,
        Key=storage.key(world.api.rest_api_id, world.api.authorizer_id, sk),
        UpdateExpression=expression,
        ExpressionAttributeValues=values,
    )


def claim_every_stage_served_far_ahead(world: World) -> None:
    served = {name: {"N": str(FAR_AHEAD)} for name in world.api.stage_names}
    write_by_hand(
        world,
        storage.STATUS_SK,
        f"SET served = :served, {storage.PASS_RECORD} = :far",
        {":served": {"M": served}, ":far": {"N": str(FAR_AHEAD)}},
    )


def test_a_status_claimed_past_the_last_pass_never_stands_for_one(world: World) -> None:
    """``served`` and ``last_pass`` mean something only up to the epoch passes have reached: a
    Create waits for a pass that really published its pool, a Delete for one that really took
    it off, and the scheduled run still repairs."""
    claim_every_stage_served_far_ahead(world)
    acme = world.tenant_pool("acme")
    token = world.sign_in(acme)

    assert world.create_tenant("tenant-acme", acme).status == "CREATE_COMPLETE"
    assert world.answers(token) == world.everywhere(200)

    claim_every_stage_served_far_ahead(world)
    world.remove_behind_the_registrys_back(acme)
    world.redeploy_every_stage()
    summary = repair_summary(scheduled_run(world).logs)
    assert summary["outcome"] == "converged"
    assert summary["repaired_pools"] == [acme]
    assert world.answers(token) == world.everywhere(200)

    claim_every_stage_served_far_ahead(world)
    assert world.cloudformation.delete_stack("tenant-acme").status == "DELETE_COMPLETE"
    assert acme not in world.provider_arns()
    assert world.answers(token) == world.everywhere(401)


def test_a_lease_longer_than_any_worker_holds_is_no_lease(world: World) -> None:
    """A worker holds the lease a minute at a time: one written to last for years by hand
    blocks nobody."""
    write_by_hand(
        world,
        "authorizer",
        "SET worker = :holder, worker_until = :until",
        {
            ":holder": {"S": "by-hand"},
            ":until": {"N": str(10**16)},  # in the year 318857, on any clock
        },
    )
    acme = world.tenant_pool("acme")
    token = world.sign_in(acme)

    assert world.create_tenant("tenant-acme", acme).status == "CREATE_COMPLETE"
    assert world.answers(token) == world.everywhere(200)


def test_a_removal_counts_as_requested_only_through_a_deletion_the_function_recorded(
    world: World,
) -> None:
    """A tenant's deletion removes its pool quietly. A partner's pool marked managed by hand,
    with a made-up owner's tombstone beside it, is removed too (the registry says no owner
    wants it), and counted and warned of as a removal no deletion asked for."""
    acme = world.tenant_pool("acme")
    world.create_tenant("tenant-acme", acme)
    deleted = world.cloudformation.delete_stack("tenant-acme")
    assert deleted.status == "DELETE_COMPLETE"
    logs = "".join(d.logs for e in deleted.exchanges for d in e.deliveries)
    assert '"UnrequestedRemovals": 0' in logs
    assert acme not in world.provider_arns()

    partner = world.tenant_pool("partner")
    world.add_behind_the_registrys_back(partner)
    write_by_hand(
        world,
        storage.pool_sk(partner),
        "SET managed = :true, arn = :arn",
        {":true": {"BOOL": True}, ":arn": {"S": partner}},
    )
    stack_id = "arn:aws:cloudformation:us-east-1:123456789012:stack/made-up/1"
    write_by_hand(
        world,
        storage.owner_item_sk(partner, stack_id, "Registration"),
        "SET live = :false, arn = :arn, stack_id = :stack, logical_id = :logical, "
        "deleted_by = :request",
        {
            ":false": {"BOOL": False},
            ":arn": {"S": partner},
            ":stack": {"S": stack_id},
            ":logical": {"S": "Registration"},
            ":request": {"S": "made-up-request"},
        },
    )

    result = scheduled_run(world)

    assert partner not in world.provider_arns()
    assert '"UnrequestedRemovals": 1' in result.logs
    warned = [
        line["message"]["pool"]
        for line in log_lines(result.logs)
        if line["message"].get("outcome") == "unrequested-removal"
    ]
    assert warned == [partner]


@pytest.mark.parametrize("named", ["its-create", "its-create-undone", "its-old-pools-delete"])
def test_a_removal_counts_as_requested_only_through_that_owners_end_of_that_pool(
    world: World, named: str
) -> None:
    """A tombstone written by hand that names a request the function did record for that
    owner, but not one that ends it (its own Create, answered SUCCESS; its Delete of the pool
    it had before an update), does not pass for a deletion: the removal is counted and warned
    of."""
    first, acme = world.tenant_pool("acme-1"), world.tenant_pool("acme")
    stack = world.create_tenant("tenant-acme", first)
    (create,) = stack.exchanges
    updated = world.cloudformation.update_stack(
        "tenant-acme", {REGISTRATION: world.registration(acme)}
    )
    assert updated.status == "UPDATE_COMPLETE"
    (cleanup,) = [e for e in updated.exchanges if e.request_type == "Delete"]
    forged = {
        "its-create": create.event["RequestId"],
        "its-create-undone": f"undo:{create.event['RequestId']}",
        "its-old-pools-delete": cleanup.event["RequestId"],
    }[named]
    write_by_hand(
        world,
        storage.owner_item_sk(acme, stack.stack_id, REGISTRATION),
        "SET live = :false, deleted_by = :request",
        {":false": {"BOOL": False}, ":request": {"S": forged}},
    )

    result = scheduled_run(world)

    assert acme not in world.provider_arns()
    assert '"UnrequestedRemovals": 1' in result.logs


@pytest.mark.parametrize("given", ["plain", "padded"])
def test_a_failed_creates_own_undo_counts_as_requested_however_its_pool_is_spaced(
    world: World, given: str
) -> None:
    """A Create answered FAILED after its owner went live (a canary started meanwhile) takes
    that owner back: a removal the registrar itself asked for, with or without spaces around
    the ARN the Create named."""
    acme = world.tenant_pool("acme")
    named = acme if given == "plain" else f" {acme}"
    started: list[Any] = []

    def canary_once_the_pool_is_added(info: RequestInfo) -> None:
        # Someone starts a canary on prod while the Create waits for its pool to go live:
        # confirm refuses, the Create is answered FAILED and its owner taken back.
        if info.service == "apigateway" and info.operation == "UpdateAuthorizer" and not started:
            started.append(info)
            world.apigateway().create_deployment(
                restApiId=world.api.rest_api_id,
                stageName="prod",
                canarySettings={"percentTraffic": 10.0},
            )

    world.aws.control_plane.observe(canary_once_the_pool_is_added)
    stack = world.create_tenant("tenant-acme", named)

    assert started, "the pool was never added"
    create = stack.exchanges[0]
    assert create.status == "FAILED", create.reason
    assert "canary" in create.reason
    assert acme not in world.provider_arns()
    logs = "".join(d.logs for e in stack.exchanges for d in e.deliveries)
    unrequested = [
        line["message"]
        for line in log_lines(logs)
        if isinstance(line["message"], dict)
        and line["message"].get("outcome") == "unrequested-removal"
    ]
    assert unrequested == [], unrequested
