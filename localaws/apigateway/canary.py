"""Canary releases: a stage's ``canarySettings``, and CreateStage / GetStage carrying them.

Reproduces, canary releases (API
Gateway developer guide, "Set up an API Gateway canary release deployment" and its pages
"Create", "Update", "Promote" and "Turn off a canary release"; API reference, CreateDeployment
``canarySettings``, Stage ``canarySettings``, UpdateStage patch paths). moto 5.2.5 has no canary
at all: CreateDeployment and CreateStage drop ``canarySettings`` and GetStage never returns it.
Here a stage carries ``canarySettings`` (``deploymentId``, ``percentTraffic``,
``stageVariableOverrides``, ``useStageCache``), which GetStage returns, and:

- ``CreateStage`` with ``canarySettings`` (its ``deploymentId`` must exist).
- ``CreateDeployment`` with ``canarySettings``: ``apigateway.deployments``.
- ``UpdateStage`` of the canary, its promotion and its end: ``apigateway.stage_updates``.

Where AWS's behaviour is not documented, this module refuses (HTTP 400 BadRequestException): a
CreateStage canary without ``deploymentId``. An emulator kinder than AWS hides bugs.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from typing import Any

from moto.apigateway.exceptions import BadRequestException
from moto.apigateway.models import RestAPI, Stage
from moto.apigateway.responses import APIGatewayResponse
from moto.core.common_types import TYPE_RESPONSE

from localaws.apigateway.state import MODEL_LOCK, ORIGINALS

# AWS's answers to canary requests, as recorded against AWS by LocalStack's validated snapshot
# tests (tests/aws/services/apigateway/test_apigateway_canary.snapshot.json).
CANARY_NEEDS_STAGE_NAME = (
    "Invalid deployment content specified.Non null and non empty stageName must be provided "
    "for canary deployment. Provided value is {value}"
)
CANARY_NEEDS_EXISTING_STAGE = (
    "Invalid deployment content specified.Stage {name} must already be created before making a "
    "canary release deployment"
)
DEPLOYMENT_DOES_NOT_EXIST = "Deployment id does not exist"
OVERRIDES = "stageVariableOverrides"
# The attribute of a moto Stage that holds its canary (moto's Stage has none).
_CANARY_ATTRIBUTE = "_localaws_canary"


@dataclass
class Canary:
    """A stage's canarySettings (API reference, CanarySettings)."""

    deployment_id: str
    percent_traffic: float = 0.0
    stage_variable_overrides: dict[str, str] = field(default_factory=dict)
    use_stage_cache: bool = False

    def to_json(self) -> dict[str, Any]:
        # As AWS answers: stageVariableOverrides only when some are set.
        dct: dict[str, Any] = {
            "deploymentId": self.deployment_id,
            "percentTraffic": self.percent_traffic,
            "useStageCache": self.use_stage_cache,
        }
        if self.stage_variable_overrides:
            dct[OVERRIDES] = dict(self.stage_variable_overrides)
        return dct


def canary_of(stage: Stage) -> Canary | None:
    canary = getattr(stage, _CANARY_ATTRIBUTE, None)
    return canary if isinstance(canary, Canary) else None


def set_canary(stage: Stage, canary: Canary | None) -> None:
    setattr(stage, _CANARY_ATTRIBUTE, canary)


def stage_to_json(self: Stage) -> dict[str, Any]:
    """moto's Stage JSON, with ``canarySettings`` when the stage has a canary."""
    dct: dict[str, Any] = ORIGINALS["Stage.to_json"](self)
    canary = canary_of(self)
    if canary is not None:
        dct["canarySettings"] = canary.to_json()
    return dct


def canary_from_request(settings: Any, api: RestAPI, *, with_deployment_id: bool) -> Canary:
    """The canary a CreateDeployment (DeploymentCanarySettings) or CreateStage (CanarySettings)
    asks for; CreateDeployment's deployment id is filled in once the deployment exists."""
    allowed = {"percentTraffic", OVERRIDES, "useStageCache"}
    if with_deployment_id:
        allowed.add("deploymentId")
    if not isinstance(settings, dict):
        raise BadRequestException("canarySettings must be an object")
    unknown = sorted(set(settings) - allowed)
    if unknown:
        raise BadRequestException(f"canarySettings: unknown field(s) {', '.join(unknown)}")
    deployment_id = ""
    if with_deployment_id:
        # AWS documents no default for a CreateStage canary without one: refuse.
        deployment_id = settings.get("deploymentId") or ""
        if not deployment_id:
            raise BadRequestException(
                "canarySettings.deploymentId is required on CreateStage here (AWS documents "
                "no default)"
            )
        if deployment_id not in api.deployments:
            raise BadRequestException(DEPLOYMENT_DOES_NOT_EXIST)
    percent = settings.get("percentTraffic", 0.0)
    if isinstance(percent, bool) or not isinstance(percent, int | float):
        raise BadRequestException("canarySettings.percentTraffic must be a number")
    overrides = settings.get(OVERRIDES) or {}
    if not isinstance(overrides, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in overrides.items()
    ):
        raise BadRequestException(f"canarySettings.{OVERRIDES} must map names to strings")
    use_stage_cache = settings.get("useStageCache", False)
    if not isinstance(use_stage_cache, bool):
        raise BadRequestException("canarySettings.useStageCache must be a boolean")
    return Canary(
        deployment_id=deployment_id,
        percent_traffic=parse_percent_traffic(percent),
        stage_variable_overrides=dict(overrides),
        use_stage_cache=use_stage_cache,
    )


def parse_percent_traffic(value: Any) -> float:
    """A canary's share of traffic: 0.0 to 100.0 inclusive (developer guide, "Update a canary
    release"); UpdateStage sends it as a string."""
    try:
        percent = float(value)
    except (TypeError, ValueError):
        raise BadRequestException(f"Invalid percentTraffic {value!r}: not a number") from None
    if not math.isfinite(percent) or not 0.0 <= percent <= 100.0:
        raise BadRequestException(
            f"Invalid percentTraffic {value!r}: must be between 0.0 and 100.0"
        )
    return percent


def create_stage_response(self: APIGatewayResponse) -> TYPE_RESPONSE:
    """moto's CreateStage handler, plus the ``canarySettings`` moto drops."""
    settings = self._get_param("canarySettings")
    if settings is None:
        plain: TYPE_RESPONSE = ORIGINALS["APIGatewayResponse.create_stage"](self)
        return plain
    function_id = self.path.split("/")[2]
    with MODEL_LOCK:
        api = self.backend.get_rest_api(function_id)
        canary = canary_from_request(settings, api, with_deployment_id=True)
        status, headers, _ = ORIGINALS["APIGatewayResponse.create_stage"](self)
        stage = api.stages[self._get_param("stageName")]
        set_canary(stage, canary)
        return status, headers, json.dumps(stage.to_json())
