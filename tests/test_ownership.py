"""Pools owned by several registrations, drift, and repair: a tenant is never locked out.

Each scenario ends by checking the invariant: the authorizer lists exactly the unmanaged pools
and the pools with at least one live owner, once each, and every stage serves exactly that.
"""

from __future__ import annotations

import io
import subprocess
import sys

import boto3
import pytest
from conftest import TIME_SCALE, World, log_lines
from support.invariants import assert_invariant

from authorizer_pools import cli, timing
from demo.shared_api import REGISTRY_TABLE
from demo.world import REGISTRATION
from localaws.awslambda.bootstrap import ScaledClock
from localaws.cloudformation.stacks import Exchange


def assert_replay_changes_nothing(world: World, earlier: Exchange) -> None:
    """Lambda delivers ``earlier``'s event again, after CloudFormation had its answer: it is
    known for what it is (a request answered before, not a forgery), and nothing is sent."""
    answered = len(world.receiver.answers(str(earlier.event["RequestId"])))
    result = world.cloudformation.function.deliver(dict(earlier.event))
    outcomes = [line["message"].get("outcome") for line in log_lines(result.logs)]
    assert "answered-before" in outcomes
    assert "refused" not in outcomes
    assert len(world.receiver.answers(str(earlier.event["RequestId"]))) == answered


def test_pooled_tier_one_tenant_leaving_does_not_lock_out_the_others(world: World) -> None:
    shared = world.shared_pool("pooled-tier")
    for tenant in ("small-a", "small-b", "small-c"):
        assert world.create_tenant(f"tenant-{tenant}", shared).status == "CREATE_COMPLETE"
    assert world.owners()[shared] == [
        f"tenant-{t}/{REGISTRATION}" for t in ("small-a", "small-b", "small-c")
    ]

    world.cloudformation.delete_stack("tenant-small-b")

    assert_invariant(world, shared)
    assert len(world.owners()[shared]) == 2
    world.cloudformation.delete_stack("tenant-small-a")
    assert_invariant(world, shared)
    world.cloudformation.delete_stack("tenant-small-c")
    assert_invariant(world)


def test_a_second_owner_of_a_live_pool_needs_no_deployment(world: World) -> None:
    shared = world.shared_pool("pooled-tier")
    world.create_tenant("tenant-a", shared)
    deployments = len(world.deployments())

    stack = world.create_tenant("tenant-b", shared)

    assert stack.status == "CREATE_COMPLETE"
    assert len(world.deployments()) == deployments  # the stages serve it already
    assert_invariant(world, shared)


def test_renaming_the_logical_id_keeps_the_pool(world: World) -> None:
    pool = world.tenant_pool("acme")
    world.create_tenant("tenant-acme", pool)

    # The template renames the resource: CloudFormation creates the new one (the pool is
    # already listed), then deletes the old one in its cleanup.
    stack = world.cloudformation.update_stack(
        "tenant-acme", {"PoolRegistration": world.registration(pool)}
    )

    assert stack.status == "UPDATE_COMPLETE"
    assert [e.request_type for e in stack.exchanges[-2:]] == ["Create", "Delete"]
    assert world.owners() == {pool: ["tenant-acme/PoolRegistration"]}
    assert_invariant(world, pool)


def test_moving_a_registration_to_another_stack_keeps_the_pool(world: World) -> None:
    """The pool stays where it is (a pool kept outside both stacks, so shared)."""
    pool = world.shared_pool("acme")
    world.create_tenant("tenant-acme-old", pool)

    world.create_tenant("tenant-acme-new", pool)
    world.cloudformation.delete_stack("tenant-acme-old")

    assert world.owners() == {pool: [f"tenant-acme-new/{REGISTRATION}"]}
    assert_invariant(world, pool)


def test_a_delete_replayed_after_another_owner_registered_the_pool_removes_nothing(
    world: World,
) -> None:
    pool = world.shared_pool("acme")
    first = world.create_tenant("tenant-first", pool)
    world.cloudformation.delete_stack("tenant-first")
    (delete,) = [e for e in first.exchanges if e.request_type == "Delete"]
    world.create_tenant("tenant-second", pool)

    # Lambda retries the asynchronous invocation: the same Delete arrives again.
    assert_replay_changes_nothing(world, delete)
    assert_invariant(world, pool)


def reconcile(world: World, *arguments: str) -> tuple[int, str]:
    out = io.StringIO()
    status = cli.main([*world.cli_target(), *arguments], out=out)
    return status, out.getvalue()


def test_the_shared_stack_resetting_the_list_is_repaired_by_reconcile(world: World) -> None:
    pools = [world.tenant_pool(name) for name in ("acme", "globex")]
    for number, pool in enumerate(pools):
        world.create_tenant(f"tenant-{number}", pool)
    # The shared API's stack is updated: its AWS::ApiGateway::Authorizer sets ProviderARNs back
    # to the template's list (the operators' pool), and its Deployment is redeployed.
    world.remove_behind_the_registrys_back(*pools)
    world.redeploy_every_stage()

    status, report = reconcile(world, "reconcile", "--dry-run")
    assert status == cli.DRIFT_FOUND
    assert report.count("missing") == 2
    assert "would add back" in report
    assert world.provider_arns() == [world.api.operators_pool_arn]  # dry run: nothing changed

    status, report = reconcile(world, "reconcile")
    assert status == cli.DRIFT_FOUND
    assert "added back" in report
    assert_invariant(world, *pools)

    status, report = reconcile(world, "reconcile")
    assert status == 0
    assert "no drift" in report


def test_reconcile_says_what_a_second_look_after_its_repair_shows(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another team holds the account's CreateDeployment quota: the repair puts the pools back
    on the authorizer but cannot publish, and reconcile says so, from what it sees after."""
    monkeypatch.setattr(timing, "clock", ScaledClock(TIME_SCALE))
    monkeypatch.setattr(cli, "BUDGET_SECONDS", 60.0)
    pools = [world.tenant_pool(name) for name in ("acme", "globex")]
    for number, pool in enumerate(pools):
        world.create_tenant(f"tenant-{number}", pool)
    world.remove_behind_the_registrys_back(*pools)
    world.redeploy_every_stage()
    world.aws.control_plane.inject(
        "CreateDeployment", 429, "TooManyRequestsException", "Too Many Requests",
        service="apigateway",
    )  # fmt: skip

    status, report = reconcile(world, "reconcile")

    assert status == cli.FAILED, report
    assert report.count("added back") == 2
    assert "NOT published" in report
    assert "repaired" not in report.splitlines()[-1]
    assert "the repair left 2 of it: run reconcile again" in report
    world.aws.control_plane.clear()
    status, report = reconcile(world, "reconcile")
    assert status == cli.DRIFT_FOUND
    assert report.splitlines()[-1] == "drift found; repaired (as a second look shows)"


def test_list_shows_each_pools_owners_or_unmanaged(world: World) -> None:
    shared = world.shared_pool("pooled-tier")
    world.create_tenant("tenant-a", shared)
    world.create_tenant("tenant-b", shared)

    status, report = reconcile(world, "list")

    assert status == 0
    lines = report.splitlines()
    assert lines[1].split() == ["STATE", "OWNERS", "POOL", "OWNED", "BY", "/", "ACTION"]
    (operators,) = [line for line in lines if world.api.operators_pool_arn in line]
    assert operators.split()[:2] == ["unmanaged", "-"]
    assert "never removed" in operators
    (pooled,) = [line for line in lines if shared in line]
    assert pooled.split()[:2] == ["ok", "2"]
    assert f"tenant-a/{REGISTRATION}, tenant-b/{REGISTRATION}" in pooled


def test_a_pool_added_in_the_console_is_unmanaged_and_never_removed(world: World) -> None:
    console = world.tenant_pool("added-by-hand")
    world.apigateway().update_authorizer(
        restApiId=world.api.rest_api_id,
        authorizerId=world.api.authorizer_id,
        patchOperations=[{"op": "add", "path": "/providerARNs", "value": console}],
    )
    pool = world.tenant_pool("acme")
    world.create_tenant("tenant-acme", pool)
    world.cloudformation.delete_stack("tenant-acme")

    status, report = reconcile(world, "reconcile")

    assert console in world.provider_arns()
    assert status == 0, report
    assert "unmanaged" in next(line for line in report.splitlines() if console in line)


def test_reconcile_reports_a_registered_pool_whose_cognito_pool_is_gone(world: World) -> None:
    pool = world.tenant_pool("acme")
    world.create_tenant("tenant-acme", pool)
    boto3.client("cognito-idp").delete_user_pool(UserPoolId=pool.rsplit("/", 1)[1])

    status, report = reconcile(world, "reconcile", "--dry-run")

    assert status == cli.DRIFT_FOUND
    line = next(line for line in report.splitlines() if pool in line)
    assert "the Cognito pool no longer exists" in line


def test_the_cli_runs_as_python_dash_m(world: World, aws_environment: dict[str, str]) -> None:
    finished = subprocess.run(
        [
            sys.executable,
            "-m",
            "authorizer_pools",
            "--rest-api-id",
            world.api.rest_api_id,
            "--authorizer-id",
            world.api.authorizer_id,
            "--table",
            REGISTRY_TABLE,
            "list",
        ],
        capture_output=True,
        text=True,
        check=False,
        env=aws_environment | {"PATH": "/usr/bin:/bin"},
    )
    assert finished.returncode == 0, finished.stderr
    assert world.api.operators_pool_arn in finished.stdout


def test_a_create_replayed_after_its_stack_was_deleted_registers_nothing(world: World) -> None:
    pool = world.tenant_pool("acme")
    stack = world.create_tenant("tenant-acme", pool)
    create = stack.exchanges[0]
    world.cloudformation.delete_stack("tenant-acme")

    # A late retry of the first invocation (Lambda retries asynchronous invocations).
    assert_replay_changes_nothing(world, create)
    assert_invariant(world)


def test_a_cleanup_delete_replayed_after_the_registration_moved_back_removes_nothing(
    world: World,
) -> None:
    first, second = world.tenant_pool("acme-a"), world.tenant_pool("acme-b")
    world.create_tenant("tenant-acme", first)
    moved = world.cloudformation.update_stack(
        "tenant-acme", {REGISTRATION: world.registration(second)}
    )
    cleanup = moved.exchanges[-1]
    assert cleanup.request_type == "Delete"
    assert cleanup.event["PhysicalResourceId"].endswith(first)
    world.cloudformation.update_stack("tenant-acme", {REGISTRATION: world.registration(first)})

    assert_replay_changes_nothing(world, cleanup)
    assert world.owners() == {first: [f"tenant-acme/{REGISTRATION}"]}
    assert_invariant(world, first)
