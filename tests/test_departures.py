"""Stack deletion cleans up by itself, even when a registration's Delete never reaches the
registrar (a stack whose resource pointed at a proxy that forwarded the Create here and
answered the Delete itself; a Delete lost): the scheduled run checks live owners against
CloudFormation's record and retires an owner whose registration CloudFormation, settled, no
longer holds. An owner whose stack is in progress, or that CloudFormation still holds, stays."""

from __future__ import annotations

import time

from conftest import REGISTRATION, World, log_lines
from support.verification import scheduled_run

from localaws.cloudformation_records import RECORDS


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
