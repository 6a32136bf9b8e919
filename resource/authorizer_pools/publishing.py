"""The stages: what each serves, and making a change live on them.

A stage serves a snapshot of the API (a deployment), so an authorizer change reaches callers only
once a deployment made after it serves the stage. CreateDeployment snapshots the *whole* API:
any other undeployed change on the shared API goes live with it. The flush comes after the
deployment, so no cached allow for a removed pool survives it (the cache otherwise keeps answers
for up to the authorizer's TTL, 300 s by default).

A stage with a canary release sends a share of its traffic to the canary's own deployment, which
CreateDeployment and UpdateStage of ``/deploymentId`` leave alone (API Gateway developer guide,
"Set up an API Gateway canary release deployment"). That share keeps its old pool list; the
worker never replaces a canary (it would end someone's release), it reports it.
"""

from __future__ import annotations

import json
from collections.abc import Iterable

from botocore.exceptions import ClientError

from . import aws, retries
from .plan import StageView
from .timing import Deadline

# CreateDeployment's description shows in the console's deployment history.
_DESCRIPTION_LIMIT = 200
COGNITO_USER_POOLS_EXPORT = "cognito_user_pools"

Throttled = retries.Throttled


def stage_views(
    rest_api_id: str, deadline: Deadline, names: Iterable[str] | None = None
) -> dict[str, StageView]:
    """What each stage serves, from one GetStages call (whatever their number): the stages
    ``names`` lists (those missing shown as not existing), or every stage of the API."""
    found = retries.call(
        "GetStages", lambda: aws.apigateway().get_stages(restApiId=rest_api_id), deadline
    )
    stages = {stage["stageName"]: stage for stage in found.get("item", []) if "stageName" in stage}
    views = {}
    for name in stages if names is None else names:
        stage = stages.get(name)
        if stage is None:
            views[name] = StageView(name, exists=False)
            continue
        canary = stage.get("canarySettings") or {}
        views[name] = StageView(
            name,
            exists=True,
            deployment_id=stage.get("deploymentId"),
            canary_deployment_id=canary.get("deploymentId"),
        )
    return views


def exported_pools(
    rest_api_id: str, stage_name: str, authorizer_name: str, deadline: Deadline
) -> tuple[str, ...] | None:
    """The pool list the stage's deployment serves for the authorizer named ``authorizer_name``,
    read from the stage's OpenAPI export with its authorizer extensions (GetExport: the one
    documented read of a deployed authorizer). None when the export does not show it (no method
    uses the authorizer, or a shape this code does not know): the caller must not conclude."""
    found = retries.call(
        "GetExport",
        lambda: aws.apigateway().get_export(
            restApiId=rest_api_id,
            stageName=stage_name,
            exportType="oas30",
            parameters={"extensions": "authorizers"},
            accepts="application/json",
        ),
        deadline,
    )
    try:
        document = json.loads(found["body"].read())
        schemes = (document.get("components") or {}).get("securitySchemes") or {}
        authorizer = (schemes.get(authorizer_name) or {}).get("x-amazon-apigateway-authorizer")
    except (ValueError, AttributeError, KeyError):
        return None
    if not isinstance(authorizer, dict):
        return None
    if str(authorizer.get("type", "")).lower() != COGNITO_USER_POOLS_EXPORT:
        return None
    arns = authorizer.get("providerARNs")
    if not isinstance(arns, list) or not all(isinstance(arn, str) for arn in arns):
        return None
    return tuple(arns)


def deploy(rest_api_id: str, stage_name: str, description: str, deadline: Deadline) -> str:
    """CreateDeployment to one stage; the deployment's id. Raises :class:`Throttled` instead of
    waiting out the account's once-per-5-s quota: the caller has better to do meanwhile. A
    repeated CreateDeployment only adds a deployment to the history, so retrying one whose
    outcome is unknown is safe."""
    deployment = retries.call(
        "CreateDeployment",
        lambda: aws.apigateway().create_deployment(
            restApiId=rest_api_id,
            stageName=stage_name,
            description=description[:_DESCRIPTION_LIMIT],
        ),
        deadline,
        retry_throttling=False,
    )
    return str(deployment["id"])


def point_stage(rest_api_id: str, stage_name: str, deployment_id: str, deadline: Deadline) -> None:
    """UpdateStage: make another stage serve an existing deployment (no CreateDeployment quota)."""
    retries.call(
        "UpdateStage",
        lambda: aws.apigateway().update_stage(
            restApiId=rest_api_id,
            stageName=stage_name,
            patchOperations=[{"op": "replace", "path": "/deploymentId", "value": deployment_id}],
        ),
        deadline,
    )


def flush_authorizer_cache(rest_api_id: str, stage_name: str, deadline: Deadline) -> None:
    retries.call(
        "FlushStageAuthorizersCache",
        lambda: aws.apigateway().flush_stage_authorizers_cache(
            restApiId=rest_api_id, stageName=stage_name
        ),
        deadline,
    )


def is_not_found(error: ClientError) -> bool:
    return retries.describe(error)[0] == "NotFoundException"
