"""CreateDeployment and DeleteDeployment as AWS does them, and what a stage really serves.

Reproduces:

- ``CreateDeployment`` with a ``stageName`` keeps the existing stage and only points it at the
  new deployment, creating the stage if it does not exist (API Gateway API reference,
  CreateDeployment). moto replaces the Stage object and so loses its settings.
- Deployment ``createdDate`` keeps moto's one-second resolution, as AWS reports it.
- Each deployment records an ``apigateway.snapshots`` snapshot of the API (developer guide,
  "Deploy a REST API": a stage serves the deployment it points at, not the API's current state);
  ``served_provider_arns`` / ``served_provider_arn_lists`` tell what a stage really serves, so
  tests can check that a change reported as done is live, and ``served_deployments`` /
  ``find_api`` are what the data plane serves from.
- ``CreateDeployment`` with ``canarySettings`` (developer guide, "Create a canary release
  deployment"; API reference, CreateDeployment ``canarySettings``, which moto 5.2.5 drops)
  creates a deployment and makes it the stage's canary, base unchanged; the stage must exist
  ("you cannot specify any non-existing stage name when creating a canary release
  deployment"). A CreateDeployment without ``canarySettings`` moves the base only: the canary
  keeps serving its own, older deployment.
- ``DeleteDeployment`` refuses a deployment a stage serves, as base or canary, with AWS's
  message "Active stages pointing to this deployment must be moved or deleted" (moto checks
  only the stage the deployment was first made for).

Where AWS's behaviour is not documented, this module refuses (HTTP 400 BadRequestException):
stage variables on a CreateDeployment to an existing stage. An emulator kinder than AWS hides
bugs.
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any

from moto.apigateway.exceptions import (
    BadRequestException,
    DeploymentNotFoundException,
    NoIntegrationDefined,
    NoMethodDefined,
    StageStillActive,
)
from moto.apigateway.models import (
    APIGatewayBackend,
    Deployment,
    RestAPI,
    Stage,
    apigateway_backends,
)
from moto.apigateway.responses import APIGatewayResponse
from moto.apigateway.utils import ApigwDeploymentIdentifier
from moto.core.common_types import TYPE_RESPONSE

from localaws.apigateway.canary import (
    CANARY_NEEDS_EXISTING_STAGE,
    CANARY_NEEDS_STAGE_NAME,
    Canary,
    canary_from_request,
    canary_of,
    set_canary,
)
from localaws.apigateway.snapshots import SNAPSHOTS, DeploymentSnapshot, snapshot_of
from localaws.apigateway.state import MODEL_LOCK, ORIGINALS, api_or_none


def create_deployment(
    self: RestAPI,
    name: str,
    description: str,
    stage_variables: Any = None,
    canary: Canary | None = None,
) -> Deployment:
    """CreateDeployment as AWS does it: an existing stage keeps its settings; with ``canary``
    the new deployment becomes the stage's canary and the base stays where it was."""
    with MODEL_LOCK:
        variables: dict[str, Any] = dict(stage_variables or {})
        existing = self.stages.get(name) if name else None
        if canary is not None and existing is None:
            raise BadRequestException(CANARY_NEEDS_EXISTING_STAGE.format(name=name))
        if existing is not None and variables:
            raise BadRequestException(
                "Stage variables on a CreateDeployment to the existing stage "
                f"'{name}' are not modelled (AWS documents no merge rule): use UpdateStage"
            )
        # The same id scheme moto uses, so ids stay unique and custom-id tags keep working.
        deployment_id = ApigwDeploymentIdentifier(
            self.account_id, self.region_name, stage_name=name
        ).generate(list(self.deployments.keys()))
        # moto instantiates Deployment the same way; its CloudFormation hooks are unused here.
        deployment = Deployment(deployment_id, name, description)  # type: ignore[abstract]
        SNAPSHOTS[(self.account_id, self.region_name, self.id, deployment_id)] = snapshot_of(
            self, deployment.created_date
        )
        self.deployments[deployment_id] = deployment
        if name:
            if existing is None:
                self.stages[name] = Stage(
                    name=name, deployment_id=deployment_id, variables=variables
                )
            elif canary is not None:
                set_canary(existing, dataclasses.replace(canary, deployment_id=deployment_id))
            else:
                existing.deployment_id = deployment_id
        self.update_integration_mocks(name)
        return deployment


def backend_create_deployment(
    self: APIGatewayBackend,
    function_id: str,
    name: str,
    description: str = "",
    stage_variables: Any = None,
    canary_settings: Any = None,
) -> Deployment:
    """moto's CreateDeployment checks, then a deployment, a canary one if asked for."""
    if canary_settings is None:
        plain: Deployment = ORIGINALS["APIGatewayBackend.create_deployment"](
            self, function_id, name, description, stage_variables
        )
        return plain
    with MODEL_LOCK:
        api = self.get_rest_api(function_id)
        if not name:
            shown = "null" if name is None else name
            raise BadRequestException(CANARY_NEEDS_STAGE_NAME.format(value=shown))
        if name not in api.stages:
            raise BadRequestException(CANARY_NEEDS_EXISTING_STAGE.format(name=name))
        canary = canary_from_request(canary_settings, api, with_deployment_id=False)
        # The checks of moto's APIGatewayBackend.create_deployment, in its order.
        methods = [
            method
            for resource in self.get_resources(function_id)
            for method in resource.resource_methods.values()
        ]
        if not methods:
            raise NoMethodDefined()
        if not any(method.method_integration for method in methods):
            raise NoIntegrationDefined()
        return create_deployment(api, name, description, stage_variables, canary=canary)


def create_deployment_response(self: APIGatewayResponse) -> TYPE_RESPONSE:
    """moto's CreateDeployment handler, passing ``canarySettings`` on (moto drops it)."""
    function_id = self.path.replace("/restapis/", "", 1).split("/")[0]
    deployment = backend_create_deployment(
        self.backend,
        function_id,
        self._get_param("stageName"),
        self._get_param("description"),
        self._get_param("variables", if_none={}),
        canary_settings=self._get_param("canarySettings"),
    )
    return 201, {"status": 201}, json.dumps(deployment.to_json())


def delete_deployment(self: RestAPI, deployment_id: str) -> Deployment:
    """DeleteDeployment refuses a deployment some stage serves, as its base or its canary."""
    with MODEL_LOCK:
        if deployment_id not in self.deployments:
            raise DeploymentNotFoundException()
        for stage in self.stages.values():
            canary = canary_of(stage)
            if stage.deployment_id == deployment_id or (
                canary is not None and canary.deployment_id == deployment_id
            ):
                raise StageStillActive()
        SNAPSHOTS.pop((self.account_id, self.region_name, self.id, deployment_id), None)
        return self.deployments.pop(deployment_id)


def _served(
    account_id: str, region: str, api_id: str, deployment_id: str | None, authorizer_id: str
) -> tuple[str, ...] | None:
    if deployment_id is None:
        return None
    snapshot = SNAPSHOTS.get((account_id, region, api_id, deployment_id))
    authorizer = snapshot.authorizers.get(authorizer_id) if snapshot is not None else None
    return None if authorizer is None else authorizer.provider_arns


def served_provider_arns(
    account_id: str, region: str, api_id: str, stage_name: str, authorizer_id: str
) -> tuple[str, ...] | None:
    """The pools the stage's base deployment trusts, or None when the stage serves nothing
    (missing, deployed before ``install()``, or deployed before the authorizer existed).

    A canary is not looked at: see ``served_provider_arn_lists``."""
    with MODEL_LOCK:
        api = api_or_none(account_id, region, api_id)
        stage = api.stages.get(stage_name) if api is not None else None
        if stage is None:
            return None
        return _served(account_id, region, api_id, stage.deployment_id, authorizer_id)


def served_provider_arn_lists(
    account_id: str, region: str, api_id: str, stage_name: str, authorizer_id: str
) -> list[tuple[str, ...]]:
    """Every pool list the stage serves: the base deployment's first, then, when the stage has
    a canary on another deployment, the canary's (whatever its ``percentTraffic``: an
    UpdateStage can raise it at any time without a deployment).

    A deployment that serves no list for this authorizer (made before ``install()`` or before
    the authorizer existed) contributes nothing; a missing stage gives ``[]``.
    """
    with MODEL_LOCK:
        api = api_or_none(account_id, region, api_id)
        stage = api.stages.get(stage_name) if api is not None else None
        if stage is None:
            return []
        deployments = [stage.deployment_id]
        canary = canary_of(stage)
        if canary is not None and canary.deployment_id != stage.deployment_id:
            deployments.append(canary.deployment_id)
        served = [
            _served(account_id, region, api_id, deployment_id, authorizer_id)
            for deployment_id in deployments
        ]
        return [arns for arns in served if arns is not None]


def find_api(api_id: str) -> tuple[str, str] | None:
    """The (account, region) holding the REST API with this id, or None: what the data plane
    needs to serve ``https://{api_id}.execute-api.{region}.amazonaws.com``."""
    with MODEL_LOCK:
        for account_id, regions in apigateway_backends.items():
            for region, backend in regions.items():
                if api_id in backend.apis:
                    return account_id, region
    return None


def served_deployments(
    account_id: str, region: str, api_id: str, stage_name: str
) -> list[tuple[DeploymentSnapshot, float]]:
    """What the stage serves, with each deployment's share of the traffic: the base deployment's
    ``1 - percentTraffic/100`` and, when the stage has a canary on another deployment, the
    canary's ``percentTraffic/100`` (developer guide, "Set up an API Gateway canary release
    deployment"). ``[]`` for a missing stage or one serving nothing this module snapshotted."""
    with MODEL_LOCK:
        api = api_or_none(account_id, region, api_id)
        stage = api.stages.get(stage_name) if api is not None else None
        if stage is None:
            return []
        if stage.deployment_id is None:
            return []
        canary = canary_of(stage)
        shares: list[tuple[str, float]] = [(stage.deployment_id, 1.0)]
        if canary is not None and canary.deployment_id != stage.deployment_id:
            to_canary = canary.percent_traffic / 100
            shares = [(stage.deployment_id, 1.0 - to_canary), (canary.deployment_id, to_canary)]
        served = []
        for deployment_id, share in shares:
            snapshot = SNAPSHOTS.get((account_id, region, api_id, deployment_id))
            if snapshot is not None:
                served.append((snapshot, share))
        return served
