"""Stack deletion cleans up by itself, even when a registration's Delete never reaches the
registrar (a stack whose resource pointed at a proxy that forwarded the Create here and
answered the Delete itself; a Delete lost): the scheduled run checks live owners against
CloudFormation's record and retires an owner whose registration CloudFormation, settled, no
longer holds. An owner whose stack is in progress, or that CloudFormation still holds, stays."""

from __future__ import annotations

import time

import pytest
from conftest import World, log_lines
from support.verification import repair_summary, scheduled_run

from demo.world import REGISTRATION
from localaws.cloudformation.records import RECORDS
from localaws.middleware.routes import RequestInfo


def gone_without_telling_the_registrar(world: World, name: str) -> None:
    """CloudFormation deleted the stack; the registration's Delete went elsewhere."""
    stack_id = world.cloudformation.stacks[name].stack_id
    now = time.time()
    RECORDS.resource(stack_id, REGISTRATION, "DELETE_COMPLETE", now)
    RECORDS.stack_status(stack_id, "DELETE_COMPLETE", now)


def test_an_owner_whose_stack_is_gone_is_retired_by_the_scheduled_run(world: World) -> None:
    acme, globex = world.tenant_pool("acme"), world.tenant_pool("globex")
    acme_user, globex_user = world.sign_in(acme), world.sign_in(globex)
    world.create_tenant("tenant-acme", acme)
    world.create_tenant("tenant-globex", globex)
    gone_without_telling_the_registrar(world, "tenant-acme")

    result = scheduled_run(world)

    assert world.owners() == {globex: [f"tenant-globex/{REGISTRATION}"]}
    assert world.answers(acme_user) == world.everywhere(401)
    assert world.answers(globex_user) == world.everywhere(200)
    (retired,) = [
        line["message"]
        for line in log_lines(result.logs)
        if line["message"].get("outcome") == "owner-retired"
    ]
    assert retired["pool"] == acme
    assert retired["owner"] == f"tenant-acme/{REGISTRATION}"
    assert "DELETE_COMPLETE" in retired["reason"]


def test_an_owner_whose_stack_is_in_progress_stays(world: World) -> None:
    acme = world.tenant_pool("acme")
    token = world.sign_in(acme)
    stack = world.create_tenant("tenant-acme", acme)
    now = time.time()
    # An update in flight: the resource shows another physical id until the stack settles.
    RECORDS.stack_status(stack.stack_id, "UPDATE_COMPLETE_CLEANUP_IN_PROGRESS", now)
    RECORDS.resource(stack.stack_id, REGISTRATION, "UPDATE_COMPLETE", now, physical_id="another-id")

    scheduled_run(world)

    assert world.owners() == {acme: [f"tenant-acme/{REGISTRATION}"]}
    assert world.answers(token) == world.everywhere(200)


def test_an_owner_whose_resource_settled_on_another_physical_id_is_retired(
    world: World,
) -> None:
    """A settled resource whose physical id is not the registration's was answered by someone
    else: what CloudFormation holds is not this registration."""
    acme = world.tenant_pool("acme")
    token = world.sign_in(acme)
    stack = world.create_tenant("tenant-acme", acme)
    RECORDS.resource(
        stack.stack_id, REGISTRATION, "UPDATE_COMPLETE", time.time(), physical_id="another-id"
    )

    scheduled_run(world)

    assert world.owners() == {}
    assert world.answers(token) == world.everywhere(401)


def test_an_owner_whose_registration_was_retained_out_of_its_stack_is_retired(
    world: World,
) -> None:
    """``DeletionPolicy: Retain`` keeps a custom resource out of its stack's deletion: no
    Delete is sent, the resource shows DELETE_SKIPPED with its physical id unchanged. The stack
    is gone; so is the trust it declared."""
    acme = world.tenant_pool("acme")
    token = world.sign_in(acme)
    stack = world.create_tenant("tenant-acme", acme)
    now = time.time()
    RECORDS.resource(stack.stack_id, REGISTRATION, "DELETE_SKIPPED", now)
    RECORDS.stack_status(stack.stack_id, "DELETE_COMPLETE", now)

    scheduled_run(world)

    assert world.owners() == {}
    assert world.answers(token) == world.everywhere(401)


@pytest.mark.parametrize("phase", ["UPDATE_ROLLBACK_FAILED", "UPDATE_FAILED", "ROLLBACK_FAILED"])
def test_an_owner_whose_stack_stopped_in_a_failed_phase_stays(world: World, phase: str) -> None:
    """A stack stopped in a failed phase may still roll back (ContinueUpdateRollback,
    RollbackStack) to the registration it held: its resource's other physical id is not yet
    CloudFormation's last word."""
    acme = world.tenant_pool("acme")
    token = world.sign_in(acme)
    stack = world.create_tenant("tenant-acme", acme)
    now = time.time()
    RECORDS.resource(stack.stack_id, REGISTRATION, "UPDATE_COMPLETE", now, physical_id="another")
    RECORDS.stack_status(stack.stack_id, phase, now)

    scheduled_run(world)

    assert world.owners() == {acme: [f"tenant-acme/{REGISTRATION}"]}
    assert world.answers(token) == world.everywhere(200)


def test_a_rollback_between_the_reads_never_retires_the_registration_it_restores(
    world: World,
) -> None:
    """CloudFormation is read in several calls; an update that rolls back between them shows
    the resource on its new physical id, then the stack settled. The registration it restored
    stays."""
    acme = world.tenant_pool("acme")
    token = world.sign_in(acme)
    stack = world.create_tenant("tenant-acme", acme)
    held = RECORDS.get(stack.stack_id, REGISTRATION)
    assert held is not None
    assert held.physical_id is not None
    now = time.time()
    RECORDS.stack_status(stack.stack_id, "UPDATE_IN_PROGRESS", now)
    RECORDS.resource(stack.stack_id, REGISTRATION, "UPDATE_COMPLETE", now, physical_id="another")

    rolled_back: list[float] = []

    def rolled_back_meanwhile(info: RequestInfo) -> None:
        if info.operation == "DescribeStacks" and not rolled_back:
            later = time.time()
            RECORDS.resource(
                stack.stack_id,
                REGISTRATION,
                "UPDATE_COMPLETE",
                later,
                physical_id=held.physical_id,
            )
            RECORDS.stack_status(stack.stack_id, "UPDATE_ROLLBACK_COMPLETE", later)
            rolled_back.append(later)

    world.aws.control_plane.observe(rolled_back_meanwhile)

    scheduled_run(world)

    assert rolled_back, "the run read the stack"
    assert world.owners() == {acme: [f"tenant-acme/{REGISTRATION}"]}
    assert world.answers(token) == world.everywhere(200)


def test_an_unreadable_owner_leaves_the_others_to_be_judged(world: World) -> None:
    """An owner item no registration wrote (a pool that is no user pool ARN, by hand) is
    logged and passed over; the owners beside it are still checked and retired."""
    acme = world.tenant_pool("acme")
    world.create_tenant("tenant-acme", acme)
    world.record_owner("not-a-pool-arn", "tenant-typo")
    gone_without_telling_the_registrar(world, "tenant-acme")

    result = scheduled_run(world)

    assert acme not in world.owners()
    assert any(line["message"].get("outcome") == "owner-retired" for line in log_lines(result.logs))


def test_a_throttled_cloudformation_costs_the_scheduled_run_only_its_departures_budget(
    world: World,
) -> None:
    """Departures ask CloudFormation before the pass: a CloudFormation that keeps throttling
    stops them at the first owner, within their own budget, and the pass still repairs."""
    pools = [world.tenant_pool(name) for name in ("acme", "globex", "initech")]
    for number, pool in enumerate(pools):
        world.create_tenant(f"tenant-{number}", pool)
    world.remove_behind_the_registrys_back(pools[0])
    world.aws.control_plane.inject(
        "DescribeStackResource", 400, "Throttling", "Rate exceeded", service="cloudformation"
    )

    result = scheduled_run(world)

    summary = repair_summary(result.logs)
    assert summary["outcome"] == "converged"
    assert summary["repaired_pools"] == [pools[0]]
    not_asked = [
        line for line in log_lines(result.logs) if line["message"].get("outcome") == "not-asked"
    ]
    assert len(not_asked) == 1
