"""Verify, never trust: whatever happened to the authorizer or a stage meanwhile, the next pass
(a tenant's request, or the scheduled run) converges everything to what the owners want, and a
request answers SUCCESS only for what a pass saw served.

Each test is one of the sequences that broke an earlier design, which acted on what the
registry had recorded (dirty pools, a counter of owners, the last published change) instead of
on what API Gateway is.
"""

from __future__ import annotations

import io
import re
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import boto3
import pytest
from conftest import World, log_lines, template_function
from support import storage
from support.api_gateway import OUTAGE_MESSAGE
from support.metrics import emitted
from support.verification import scheduled_run

from authorizer_pools import cli
from demo.shared_api import REGISTRY_TABLE
from demo.world import REGISTRATION, registrar_cloudformation
from localaws.cloudformation.stacks import InProcessFunction, LambdaService
from localaws.dynamodb import model as dynamodb_model

# Past every tombstone's expiry (a week), as DynamoDB's TTL process sees it some day.
A_WEEK_AND_A_DAY = 8 * 24 * 3600.0
# Lambda-like processes run ten times faster than the wall clock: a 60 s lease lasts 6 s.
TIME_SCALE = 0.1
# Longer than the lease, and than botocore's read timeout: the stuck worker gives up waiting
# for its call and hands over; the call lands later all the same.
STUCK_SECONDS = 15.0


def serves_exactly(world: World, *pools: str) -> bool:
    wanted = sorted({world.api.operators_pool_arn, *pools})
    return sorted(world.provider_arns()) == wanted and all(
        sorted(world.served(stage) or ()) == wanted for stage in world.api.stage_names
    )


def test_drift_is_repaired_by_the_next_tenant_instead_of_going_live(world: World) -> None:
    acme, globex, initech = (world.tenant_pool(n) for n in ("acme", "globex", "initech"))
    world.create_tenant("tenant-acme", acme)
    world.create_tenant("tenant-globex", globex)
    world.remove_behind_the_registrys_back(acme, globex)

    world.create_tenant("tenant-initech", initech)

    assert serves_exactly(world, acme, globex, initech)


def test_drift_is_repaired_by_the_next_deletion_too(world: World) -> None:
    acme, globex, initech = (world.tenant_pool(n) for n in ("acme", "globex", "initech"))
    for name, pool in (("acme", acme), ("globex", globex), ("initech", initech)):
        world.create_tenant(f"tenant-{name}", pool)
    world.remove_behind_the_registrys_back(acme, globex)

    world.cloudformation.delete_stack("tenant-initech")

    assert serves_exactly(world, acme, globex)


def test_time_never_deletes_a_live_owner(world: World) -> None:
    acme, globex = world.tenant_pool("acme"), world.tenant_pool("globex")
    stack = world.create_tenant("tenant-acme", acme)
    world.create_tenant("tenant-globex", globex)
    # Everything that only notes a request on a live owner: a replayed Create, a StageNames-only
    # Update, an update rolled back to the same pool.
    world.cloudformation.function.deliver(dict(stack.exchanges[0].event))
    world.cloudformation.update_stack(
        "tenant-acme", {REGISTRATION: world.registration(acme, StageNames=["prod", "dev"])}
    )
    world.cloudformation.update_stack(
        "tenant-acme",
        {REGISTRATION: world.registration(acme, StageNames=["dev"])},
        fail_after_resources=True,
    )

    expired = dynamodb_model.expire_items(REGISTRY_TABLE, time.time() + A_WEEK_AND_A_DAY)

    assert world.owners()[acme] == [f"tenant-acme/{REGISTRATION}"], f"{expired} items expired"
    world.cloudformation.delete_stack("tenant-acme")
    assert serves_exactly(world, globex)


def test_a_pool_found_on_the_authorizer_becomes_managed_when_registered(world: World) -> None:
    # Registered before the registry existed: on the authorizer, unknown to the registry.
    legacy = world.tenant_pool("legacy")
    world.apigateway().update_authorizer(
        restApiId=world.api.rest_api_id,
        authorizerId=world.api.authorizer_id,
        patchOperations=[{"op": "add", "path": "/providerARNs", "value": legacy}],
    )
    world.create_tenant("tenant-legacy", legacy)  # the README's remedy: register it

    world.cloudformation.delete_stack("tenant-legacy")

    assert serves_exactly(world)


def test_a_refused_add_cannot_make_the_last_pools_removal_loop(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    acme = world.tenant_pool("acme")
    world.create_tenant("tenant-acme", acme)
    # No operators' pool: acme's is the only one.
    world.remove_behind_the_registrys_back(world.api.operators_pool_arn)
    # Another tenant's registration is recorded, for a pool API Gateway will refuse (another
    # account's pool that does not exist), and has not been worked on yet.
    other_account = "210987654321"
    boto3.client("cognito-idp").create_user_pool(PoolName="elsewhere")  # moto knows the region
    refused = f"arn:aws:cognito-idp:us-east-1:{other_account}:userpool/us-east-1_gone"
    with monkeypatch.context() as patch:
        patch.setenv("MOTO_ACCOUNT_ID", other_account)
        boto3.client("cognito-idp").create_user_pool(PoolName="known-account")
    world.record_owner(refused, "tenant-refused")

    first = world.cloudformation.delete_stack("tenant-acme")
    assert first.status == "DELETE_COMPLETE", first.exchanges[-1].reason
    assert world.provider_arns() == [acme]  # kept: API Gateway refuses an empty list
    (warning,) = [
        line for line in log_lines(first.exchanges[-1].logs) if line["level"] == "WARNING"
    ]
    assert warning["message"]["outcome"] == "kept-last-pool"
    # Nothing loops: the refused pool's owner is marked refused, and further passes settle.
    world.create_tenant("tenant-globex", world.tenant_pool("globex"))
    assert acme not in world.provider_arns()


def test_a_stage_with_a_canary_is_refused_with_a_clear_reason(world: World) -> None:
    world.apigateway().create_deployment(
        restApiId=world.api.rest_api_id,
        stageName="prod",
        canarySettings={"percentTraffic": 10.0},
    )
    stack = world.create_tenant("tenant-acme", world.tenant_pool("acme"))

    assert stack.status == "ROLLBACK_COMPLETE"
    reason = stack.exchanges[0].reason
    assert reason.startswith("StageNames 'prod' has a canary release"), reason


def test_a_canary_made_after_a_registration_is_reported_and_never_replaced(
    world: World,
) -> None:
    acme = world.tenant_pool("acme")
    world.create_tenant("tenant-acme", acme)
    world.apigateway().create_deployment(
        restApiId=world.api.rest_api_id,
        stageName="prod",
        canarySettings={"percentTraffic": 10.0},
    )
    canary = world.apigateway().get_stage(restApiId=world.api.rest_api_id, stageName="prod")[
        "canarySettings"
    ]["deploymentId"]

    refused = world.create_tenant("tenant-initech", world.tenant_pool("initech"))
    assert refused.status == "ROLLBACK_COMPLETE"
    assert refused.exchanges[0].reason.startswith("StageNames 'prod' has a canary release")
    stack = world.create_tenant("tenant-globex", world.tenant_pool("globex"), StageNames=["dev"])
    assert stack.status == "CREATE_COMPLETE"
    deleted = world.cloudformation.delete_stack("tenant-acme")

    assert deleted.status == "DELETE_COMPLETE"  # a stack deletion is never blocked
    prod = world.apigateway().get_stage(restApiId=world.api.rest_api_id, stageName="prod")
    assert prod["canarySettings"]["deploymentId"] == canary, "someone's canary was replaced"
    assert acme not in (world.served("prod") or ())  # the base deployment no longer trusts it


def test_a_late_call_from_a_worker_whose_lease_expired_is_found_and_undone(
    world: World, aws_environment: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """W1 (acme's Create) deploys, then its UpdateStage of prod is stuck in flight past its
    lease. W2 (globex's Create) takes over, publishes acme and globex, answers SUCCESS. W1's
    call then lands and points prod back at W1's deployment, which lacks globex."""
    acme, globex = world.tenant_pool("acme"), world.tenant_pool("globex")
    config = template_function(aws_environment, time_scale=TIME_SCALE, timeout=900.0)
    stuck = world.aws.control_plane.inject_delay(
        "UpdateStage",
        STUCK_SECONDS,
        predicate=lambda info: info.stage_name == "prod",
    )
    with LambdaService(config) as service:
        cloudformation = registrar_cloudformation(service, world.receiver, service_timeout=120.0)
        with ThreadPoolExecutor(max_workers=2) as pool:
            first = pool.submit(
                cloudformation.create_stack,
                "tenant-acme",
                {REGISTRATION: world.registration(acme)},
            )
            assert stuck.held.wait(60), "W1 never reached its UpdateStage"
            second = cloudformation.create_stack(
                "tenant-globex", {REGISTRATION: world.registration(globex)}
            )
            assert second.status == "CREATE_COMPLETE", second.exchanges[0].reason
            assert not stuck.released.is_set(), "the stuck call landed before W2 answered"
            assert serves_exactly(world, acme, globex)  # what globex's SUCCESS promised
            assert first.result().status == "CREATE_COMPLETE"
        assert stuck.released.wait(60)
    assert globex not in (world.served("prod") or ()), "the late call did not land"

    out = io.StringIO()
    assert cli.main([*world.cli_target(), "reconcile", "--dry-run"], out=out) == cli.DRIFT_FOUND
    assert re.search(r"^prod +behind", out.getvalue(), re.MULTILINE), out.getvalue()

    scheduled_run(world)
    assert serves_exactly(world, acme, globex)


# -- the repair run


def test_the_scheduled_run_repairs_drift_without_any_tenant_event(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    acme = world.tenant_pool("acme")
    world.create_tenant("tenant-acme", acme)
    world.remove_behind_the_registrys_back(acme)
    world.redeploy_every_stage()  # and the shared API's stack redeploys
    assert not world.live_everywhere(acme)

    result = scheduled_run(world)

    assert serves_exactly(world, acme)
    # Both drifted: the authorizer lost the pool, and the stages serve a list without it.
    assert emitted(result.logs)["PoolsRepaired"] == 1
    assert emitted(result.logs)["StagesRepublished"] == 2


def test_the_scheduled_run_republishes_a_stage_pointed_at_an_old_deployment(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    acme = world.tenant_pool("acme")
    before = world.deployments()[0]["id"]
    world.create_tenant("tenant-acme", acme)
    world.apigateway().update_stage(
        restApiId=world.api.rest_api_id,
        stageName="prod",
        patchOperations=[{"op": "replace", "path": "/deploymentId", "value": before}],
    )

    result = scheduled_run(world)

    assert serves_exactly(world, acme)
    assert emitted(result.logs)["StagesRepublished"] == 1


def test_the_scheduled_run_changes_nothing_when_nothing_drifted(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    world.create_tenant("tenant-acme", world.tenant_pool("acme"))
    deployments = len(world.deployments())
    world.aws.control_plane.reset()

    result = scheduled_run(world)

    calls = [call.operation for call in world.calls() if call.service == "apigateway"]
    assert len(world.deployments()) == deployments
    assert sorted(set(calls)) == ["GetAuthorizer", "GetExport", "GetStages"], calls
    assert len(calls) <= 5
    assert emitted(result.logs)["Deployments"] == 0


def test_a_registry_written_before_0_1_0_keeps_its_pools_managed_and_its_owners_alive(
    world: World,
) -> None:
    """Versions before 0.1.0 counted owners on the pool's item (no ``managed``) and could leave
    a TTL attribute on a live owner (registry/migrations.py). Its registrations are still
    managed, and no live owner is left for time to take."""
    legacy, globex = world.tenant_pool("legacy"), world.tenant_pool("globex")
    stack = world.cloudformation.new_stack("tenant-legacy")
    pk = storage.authorizer_pk(world.api.rest_api_id, world.api.authorizer_id)
    client = boto3.client("dynamodb")
    client.put_item(
        TableName=REGISTRY_TABLE,
        Item={
            "pk": {"S": pk},
            "sk": {"S": storage.owner_item_sk(legacy, stack.stack_id, REGISTRATION)},
            "arn": {"S": legacy},
            "stack_id": {"S": stack.stack_id},
            "logical_id": {"S": REGISTRATION},
            "live": {"BOOL": True},
            "request_id": {"S": "a-request-of-the-previous-version"},
            "handled": {"SS": ["a-request-of-the-previous-version"]},
            "expires_at": {"N": str(int(time.time()) + 7 * 24 * 3600)},
        },
    )
    client.put_item(
        TableName=REGISTRY_TABLE,
        Item={
            "pk": {"S": pk},
            "sk": {"S": storage.pool_sk(legacy)},
            "arn": {"S": legacy},
            "owners": {"N": "1"},
            "version": {"N": "1"},
            "applied": {"N": "1"},
            "origin": {"S": "added"},
        },
    )
    world.apigateway().update_authorizer(
        restApiId=world.api.rest_api_id,
        authorizerId=world.api.authorizer_id,
        patchOperations=[{"op": "add", "path": "/providerARNs", "value": legacy}],
    )

    world.create_tenant("tenant-globex", globex)  # any pass
    dynamodb_model.expire_items(REGISTRY_TABLE, time.time() + A_WEEK_AND_A_DAY)
    assert legacy in world.owners(), "time took a live owner"
    assert serves_exactly(world, legacy, globex)

    physical_id = f"{world.api.rest_api_id}:{world.api.authorizer_id}:{legacy}"
    delete = world.cloudformation.send(
        "Delete", stack, REGISTRATION, world.registration(legacy), physical_id=physical_id
    )
    assert delete.status == "SUCCESS", delete.reason
    assert serves_exactly(world, globex)


@pytest.mark.parametrize(
    ("source", "detail_type"),
    [
        ("aws.events", "Scheduled Event"),
        ("aws.cloudformation", "CloudFormation Stack Status Change"),
        ("aws.apigateway", "AWS API Call via CloudTrail"),
    ],
)
def test_a_repair_event_that_did_not_come_through_the_repair_alias_is_refused(
    world: World, source: str, detail_type: str
) -> None:
    """Only the repair rules may invoke the repair alias; anyone with lambda:InvokeFunction
    on the ServiceToken could otherwise make the function spend the account's API Gateway
    calls as often as they like."""
    function = world.cloudformation.function
    assert isinstance(function, InProcessFunction)

    result = function.deliver({"source": source, "detail-type": detail_type, "detail": {}})

    assert result.ok
    assert result.payload == {"outcome": "refused"}
    assert '"ForgedRequests": 1' in result.logs
    assert not [call for call in world.calls() if call.service == "apigateway"]


# -- every stage that counts as serving a removal had its authorizer cache flushed
# A stage the scheduled run adopts (a deployment it did not make, whose export serves the wanted
# list: the shared API's own pipeline) is flushed before it counts: otherwise a deleted tenant's
# cached allows outlive its Delete's SUCCESS by up to the authorizer's TTL. (A regression found
# by an adversarial review.)


def test_a_stage_adopted_by_the_scheduled_run_is_flushed_before_a_removal_counts_as_live(
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


# -- a stage counts as serving only once it was seen serving
# A stage that moved between a pass's two reads of the stages (a late call of a stale worker,
# the console, the shared API's pipeline) is not recorded as serving the list on its new
# deployment: it is published again before any request naming it answers SUCCESS. (A
# regression found by an adversarial review.)


REGISTRAR_STAGES = ("dev", "prod")


def point(world: World, stage: str, deployment_id: str) -> None:
    world.apigateway().update_stage(
        restApiId=world.api.rest_api_id,
        stageName=stage,
        patchOperations=[{"op": "replace", "path": "/deploymentId", "value": deployment_id}],
    )


def test_a_stage_moved_while_another_is_published_counts_only_once_seen_serving(
    world: World,
) -> None:
    acme = world.tenant_pool("acme")
    # The shared API stack's own deployment: it lists only the operators' pool.
    (initial,) = [d["id"] for d in world.deployments()]
    world.create_tenant("tenant-acme", acme)
    assert world.live_everywhere(acme)
    # prod drifted (pointed back at the shared API's deployment): the next pass republishes it.
    point(world, "prod", initial)

    # While the worker's CreateDeployment for prod is in flight, dev is pointed back too (a
    # late UpdateStage of a worker whose lease expired, or the console).
    held = world.aws.control_plane.inject_delay("CreateDeployment", 2.0)

    def move_dev_meanwhile() -> None:
        assert held.held.wait(30)
        point(world, "dev", initial)
        held.release()

    mover = threading.Thread(target=move_dev_meanwhile)
    mover.start()
    first = world.cloudformation.update_stack(
        "tenant-acme", {REGISTRATION: world.registration(acme, StageNames=["prod"])}
    )
    mover.join()
    assert first.status == "UPDATE_COMPLETE", first.exchanges[-1].reason
    assert held.fired == 1, "dev was not moved in the window"
    # Every stage was seen serving again before the answer: dev was published once more.
    assert acme in (world.served("dev") or ()), "SUCCESS while dev serves an old deployment"

    # Any later request naming dev, with no pool change: the pass must notice that dev does
    # not serve acme, and publish it before answering SUCCESS.
    second = world.cloudformation.update_stack(
        "tenant-acme", {REGISTRATION: world.registration(acme, StageNames=list(REGISTRAR_STAGES))}
    )
    assert second.status == "UPDATE_COMPLETE", second.exchanges[-1].reason
    assert acme in (world.served("dev") or ()), (
        "SUCCESS for StageNames [dev, prod] while dev serves a deployment without the pool"
    )
