"""Found by an adversarial review: stages a registration names that the registrar may not
publish, or that vanish while it publishes.

template.yaml's role lets the function deploy only to its ``StageNames`` parameter's stages
(``apigateway:Request/StageName`` on POST .../deployments) and PATCH / flush only those stages
(``PublishToNamedStages``, one slot per stage). Validation (validation.py ``_require_stages``) only
checks that a named stage *exists* on the API. So a tenant may name another stage of the shared
API (its pipeline's, a QA stage): ``await_live`` adds it to the authorizer's ``stages`` set, which
never shrinks (lease.want_stages: ``ADD stages``), and every later pass of every request tries
to publish it (``Worker._publish``: ``names = sorted(state.status.stages)``) and is denied. One
registration's input makes every tenant's Create and Delete on that authorizer fail, forever.

IAM is emulated with injected AccessDenied answers matching exactly what template.yaml's role
does not allow (the local AWS does not evaluate IAM; tests/test_permissions.py checks the role
against the calls statically).
"""

from __future__ import annotations

import threading

import pytest
from conftest import World

from localaws.routes import RequestInfo

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


def test_one_tenant_naming_an_unpublishable_stage_breaks_every_other_tenant(
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


def test_a_stage_deleted_during_a_deletes_pass_makes_it_answer_success_unpublished(
    world: World,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """convergence.Worker._deploy points each stage behind at the new deployment in name
    order; UpdateStage of a stage deleted since GetStages answers NotFoundException, a
    ClientError that lifecycle.delete takes for "the API or authorizer is gone" (its
    ``except ClientError`` around ``request.await_live``) and answers SUCCESS, although the
    stages after it in the order still serve the removed pool, and no stage was flushed."""
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
