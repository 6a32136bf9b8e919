"""Making a change to the authorizer live: redeploy each stage, then flush its authorizer cache.

A stage serves a snapshot of the API (a deployment), so an authorizer change reaches callers only
once a deployment made after it serves the stage. CreateDeployment snapshots the *whole* API:
any other undeployed change on the shared API goes live with it. The flush comes after the
deployment, so no cached allow for a removed pool survives it (the cache otherwise keeps answers
for up to the authorizer's TTL, 300 s by default).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from botocore.exceptions import ClientError

from . import aws, retries
from .timing import Deadline

# CreateDeployment's description shows in the console's deployment history.
_DESCRIPTION_LIMIT = 200


@dataclass(frozen=True)
class PublishedStage:
    stage_name: str
    deployment_id: str


def existing_stages(rest_api_id: str, deadline: Deadline) -> frozenset[str]:
    """Names of the API's stages (one GetStages call, whatever their number)."""
    found = retries.call(
        "GetStages", lambda: aws.apigateway().get_stages(restApiId=rest_api_id), deadline
    )
    return frozenset(stage["stageName"] for stage in found.get("item", []) if "stageName" in stage)


def publish(
    rest_api_id: str, stage_names: Iterable[str], description: str, deadline: Deadline
) -> list[PublishedStage]:
    """Deploy the API to each stage and flush the stage's authorizer cache, in order."""
    published = []
    for stage_name in stage_names:
        # A repeated CreateDeployment only adds a deployment to the history, so retrying one
        # whose outcome is unknown is safe.
        deployment = retries.call(
            "CreateDeployment",
            lambda stage=stage_name: aws.apigateway().create_deployment(  # type: ignore[misc]
                restApiId=rest_api_id,
                stageName=stage,
                description=description[:_DESCRIPTION_LIMIT],
            ),
            deadline,
        )
        flush_authorizer_cache(rest_api_id, stage_name, deadline)
        published.append(PublishedStage(stage_name, deployment["id"]))
    return published


Throttled = retries.Throttled


def deploy(rest_api_id: str, stage_name: str, description: str, deadline: Deadline) -> str:
    """CreateDeployment to one stage; the deployment's id. Raises :class:`Throttled` instead of
    waiting out the account's once-per-5-s quota: the caller has better to do meanwhile."""
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
    return deployment["id"]


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
