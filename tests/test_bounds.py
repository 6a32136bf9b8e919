"""The registrar's own bounds hold at every pass, whatever the registry holds, and a removal
fails closed: a tenant is never locked out, or kept in after it leaves, by a hand-edited
registry or a removal API Gateway refuses."""

from __future__ import annotations

import threading
import time
from typing import Any

import boto3
import pytest
from conftest import World, log_lines
from support import storage
from support.verification import scheduled_run

from demo.shared_api import REGISTRY_TABLE
from demo.world import REGISTRATION
from localaws.dynamodb import model as dynamodb_model
from localaws.middleware.routes import RequestInfo


def mark_managed(world: World, pool: str) -> None:
    """What an operator holding UpdateItem on the registry can do by hand."""
    boto3.client("dynamodb").update_item(
        TableName=REGISTRY_TABLE,
        Key=storage.key(world.api.rest_api_id, world.api.authorizer_id, storage.pool_sk(pool)),
        UpdateExpression="SET managed = :true, arn = :arn",
        ExpressionAttributeValues={":true": {"BOOL": True}, ":arn": {"S": pool}},
    )


def test_a_protected_pool_marked_managed_by_hand_is_never_removed(world: World) -> None:
    operators = world.api.operators_pool_arn
    token = world.sign_in(operators, "operator")
    assert world.create_tenant("tenant-acme", world.tenant_pool("acme")).status == (
        "CREATE_COMPLETE"
    )
    mark_managed(world, operators)

    result = scheduled_run(world)

    assert operators in world.provider_arns()
    assert world.answers(token) == world.everywhere(200)
    (summary,) = [
        line["message"]
        for line in log_lines(result.logs)
        if line["message"].get("step") == "repair"
    ]
    assert summary["removed"] == 0


def test_a_removal_no_deletion_asked_for_is_counted_and_warned_of(world: World) -> None:
    """A partner's pool, put on the authorizer by hand (unmanaged), then marked managed in the
    registry by hand: the next pass removes it (the registry says no owner wants it), and says
    that no registration's deletion asked for it."""
    partner = world.tenant_pool("partner")
    world.apigateway().update_authorizer(
        restApiId=world.api.rest_api_id,
        authorizerId=world.api.authorizer_id,
        patchOperations=[{"op": "add", "path": "/providerARNs", "value": partner}],
    )
    mark_managed(world, partner)

    result = scheduled_run(world)

    assert partner not in world.provider_arns()
    assert '"UnrequestedRemovals": 1' in result.logs
    warnings = [
        line["message"]
        for line in log_lines(result.logs)
        if line["message"].get("outcome") == "unrequested-removal"
    ]
    assert [w["pool"] for w in warnings] == [partner]


def refuse_removing(pool: str, code: str = "AccessDeniedException") -> object:
    def removes_it(info: RequestInfo) -> bool:
        body = info.json_body() or {}
        return any(
            op.get("op") == "remove" and op.get("value") == pool
            for op in body.get("patchOperations", [])
        )

    return removes_it


def test_a_removal_api_gateway_refuses_fails_the_delete_until_it_is_allowed(
    world: World,
) -> None:
    pool = world.tenant_pool("acme")
    token = world.sign_in(pool)
    world.create_tenant("tenant-acme", pool)
    world.aws.control_plane.inject(
        "UpdateAuthorizer",
        403,
        "AccessDeniedException",
        "User is not authorized to perform: apigateway:PATCH",
        predicate=refuse_removing(pool),  # type: ignore[arg-type]
        service="apigateway",
    )

    stack = world.cloudformation.delete_stack("tenant-acme")

    delete = stack.exchanges[-1]
    assert stack.status == "DELETE_FAILED"
    assert delete.status == "FAILED"
    assert delete.reason.startswith(
        "UserPoolArn still trusted. API Gateway refused to remove it: AccessDeniedException. "
        "The owner is forgotten; retry the deletion once the removal is allowed (request "
    )
    assert world.answers(token) == world.everywhere(200)  # the truth the FAILED tells

    world.aws.control_plane.clear()  # the removal is allowed again
    retried = world.cloudformation.delete_stack("tenant-acme")

    assert retried.status == "DELETE_COMPLETE"
    assert world.answers(token) == world.everywhere(401)


def test_the_last_pool_kept_answers_success_with_a_warning_and_the_alarmed_metric(
    world: World,
) -> None:
    """API Gateway refuses an empty list: with the operators' pool gone, a tenant's pool that
    is the last one stays, the Delete answers SUCCESS (documented: "The last pool"), warns, and
    counts in LastPoolKept, which LastPoolKeptAlarm watches."""
    pool = world.tenant_pool("acme")
    world.create_tenant("tenant-acme", pool)
    world.remove_behind_the_registrys_back(world.api.operators_pool_arn)

    stack = world.cloudformation.delete_stack("tenant-acme")

    delete = stack.exchanges[-1]
    assert stack.status == "DELETE_COMPLETE"
    assert world.provider_arns() == [pool]
    assert '"LastPoolKept": 1' in delete.logs
    assert any(
        line["level"] == "WARNING" and line["message"].get("outcome") == "kept-last-pool"
        for line in log_lines(delete.logs)
    )


def partition_items(world: World) -> list[dict[str, Any]]:
    found = boto3.client("dynamodb").query(
        TableName=REGISTRY_TABLE,
        KeyConditionExpression="pk = :pk",
        ExpressionAttributeValues={
            ":pk": {"S": storage.authorizer_pk(world.api.rest_api_id, world.api.authorizer_id)}
        },
    )
    return [dict(item) for item in found["Items"]]


def test_the_registry_a_pass_reads_grows_with_live_tenants_not_with_history(
    world: World,
) -> None:
    """Tenants come and go, one registration is updated again and again: once DynamoDB's TTL
    has run, the partition every pass reads holds the live tenants' items, and no item grows
    with the requests that touched it."""
    stayed = world.tenant_pool("stays")
    world.create_tenant("tenant-stays", stayed)
    for form in (["dev"], ["prod"], ["dev", "prod"], ["prod"]):
        world.cloudformation.update_stack(
            "tenant-stays", {REGISTRATION: world.registration(stayed, StageNames=form)}
        )
    for n in range(4):
        world.create_tenant(f"tenant-gone-{n}", world.tenant_pool(f"gone-{n}"))
        world.cloudformation.delete_stack(f"tenant-gone-{n}")
    before = len(partition_items(world))

    dynamodb_model.expire_items(REGISTRY_TABLE, time.time() + 8 * 24 * 3600)

    items = partition_items(world)
    kinds = sorted(str(item["sk"]["S"]).split("#", 1)[0] for item in items)
    assert kinds == ["authorizer", "owner", "pool", "stage", "stage"], (before, kinds)
    (owner,) = [item for item in items if storage.is_owner_item(item)]
    assert "handled" not in owner  # nothing lists every request that touched it
    assert world.live_everywhere(stayed)
    world.create_tenant("tenant-probe", world.tenant_pool("probe"))  # a pass after it all
    assert world.live_everywhere(stayed)


# -- stages: the registrar publishes only its own, and a stage that vanishes holds nobody back
# A tenant may name only a stage the registrar publishes (its StageNames parameter, which its
# role's PublishToNamedStages grants); naming another is refused at once, for that tenant only.
# A stage deleted while a pass publishes serves nothing, and every other stage is still
# published and flushed. (Regressions found by an adversarial review.)
#
# IAM is emulated with injected AccessDenied answers matching exactly what template.yaml's role
# does not allow (the local AWS does not evaluate IAM; tests/test_permissions.py checks the role
# against the calls statically).


ALLOWED = ("dev", "prod")  # template.yaml's StageNames parameter, as deployed for this API
ACCESS_DENIED = (
    "User: arn:aws:sts::123456789012:assumed-role/registrar/fn is not authorized to perform: "
    "apigateway:{method} on resource: {path}"
)


def emulate_the_roles_stage_limits(world: World) -> None:
    def deploys_elsewhere(info: RequestInfo) -> bool:
        body = info.json_body() or {}
        return body.get("stageName") not in ALLOWED

    def touches_another_stage(info: RequestInfo) -> bool:
        return info.stage_name is not None and info.stage_name not in ALLOWED

    for operation, predicate in (
        ("CreateDeployment", deploys_elsewhere),
        ("UpdateStage", touches_another_stage),
        ("FlushStageAuthorizersCache", touches_another_stage),
    ):
        world.aws.control_plane.inject(
            operation,
            403,
            "AccessDeniedException",
            ACCESS_DENIED.format(method="*", path="stage"),
            predicate=predicate,
            service="apigateway",
        )


def test_a_tenant_naming_a_stage_the_registrar_does_not_publish_affects_no_other_tenant(
    world: World,
) -> None:
    # The shared API has one more stage than the registrar was deployed for.
    initial = world.deployments()[0]["id"]
    world.apigateway().create_stage(
        restApiId=world.api.rest_api_id, stageName="qa", deploymentId=initial
    )
    acme = world.tenant_pool("acme")
    world.create_tenant("tenant-acme", acme)
    emulate_the_roles_stage_limits(world)

    # One tenant names the QA stage: it exists, but the registrar does not publish it.
    odd = world.create_tenant("tenant-odd", world.tenant_pool("odd"), StageNames=["qa"])
    assert odd.status == "ROLLBACK_COMPLETE"
    assert odd.exchanges[0].reason.startswith(
        "StageNames 'qa' is not a stage this registrar publishes (dev, prod) (request "
    )

    # Every other tenant, naming only the registrar's own stages, must be unaffected.
    globex = world.tenant_pool("globex")
    created = world.create_tenant("tenant-globex", globex)
    deleted = world.cloudformation.delete_stack("tenant-acme")
    assert created.status == "CREATE_COMPLETE", created.exchanges[0].reason
    assert deleted.status == "DELETE_COMPLETE", deleted.exchanges[-1].reason
    assert world.live_everywhere(globex)


def test_a_stage_deleted_during_a_deletes_pass_leaves_no_other_stage_unpublished(
    world: World,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A pass points each stage behind at the new deployment in name order; a stage deleted
    after the pass read the stages answers UpdateStage with NotFound. The Delete still answers
    SUCCESS only once every remaining stage serves the list without the pool, flushed: the
    missing stage is not taken for a missing API or authorizer."""
    initial = world.deployments()[0]["id"]
    # A short-lived stage the registrar publishes too ("pr", for a pull request: it sorts
    # before "prod").
    world.apigateway().create_stage(
        restApiId=world.api.rest_api_id, stageName="pr", deploymentId=initial
    )
    monkeypatch.setenv("STAGE_NAMES", "dev,pr,prod")
    world.create_tenant("tenant-preview", world.tenant_pool("preview"), StageNames=["pr"])
    acme = world.tenant_pool("acme")
    world.create_tenant("tenant-acme", acme)
    assert world.live_everywhere(acme)
    flushes = world.flushes()

    held = world.aws.control_plane.inject_delay("CreateDeployment", 2.0)

    def delete_pr_meanwhile() -> None:
        assert held.held.wait(30)
        world.apigateway().delete_stage(restApiId=world.api.rest_api_id, stageName="pr")
        held.release()

    remover = threading.Thread(target=delete_pr_meanwhile)
    remover.start()
    stack = world.cloudformation.delete_stack("tenant-acme")
    remover.join()

    assert stack.status == "DELETE_COMPLETE", stack.exchanges[-1].reason
    assert acme not in world.provider_arns()
    assert world.gone_everywhere(acme), (
        f"Delete answered SUCCESS while prod still serves acme: prod={world.served('prod')}"
    )
    assert world.flushes() > flushes, "no stage's authorizer cache was flushed"
