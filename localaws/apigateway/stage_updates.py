"""UpdateStage as API Gateway applies it to the base deployment and to a canary.

Reproduces (API Gateway
developer guide, "Update", "Promote" and "Turn off a canary release"; API reference,
UpdateStage patch paths): moto 5.2.5's UpdateStage matches any path containing
``/deploymentId``, so ``replace /canarySettings/deploymentId`` silently moves the *base*
deployment, while ``remove /canarySettings`` and ``copy`` (promotion) are ignored or
misapplied. Here ``UpdateStage``: ``replace /deploymentId`` moves the base only (the canary
keeps serving its own, older deployment); ``replace /canarySettings/deploymentId`` (the
deployment must exist) and ``replace /canarySettings/percentTraffic`` (0.0 to 100.0) turn a
canary on when there is none (canary on the given deployment at 0 %, resp. on the base
deployment); ``replace /canarySettings/useStageCache`` and ``replace|remove
/canarySettings/stageVariableOverrides/{name}`` change an existing canary; ``remove
/canarySettings`` ends it; ``copy`` from ``/canarySettings/deploymentId`` to ``/deploymentId``
and from ``/canarySettings/stageVariableOverrides`` to ``/variables`` promotes it. The error
messages are the ones AWS answers, as recorded against AWS by LocalStack's validated snapshot
tests (``tests/aws/services/apigateway/test_apigateway_canary.snapshot.json``). The request is
applied atomically. Every other path is moto's own handling.

Where AWS's behaviour is not documented, this module refuses (HTTP 400 BadRequestException):
``remove /canarySettings`` on a stage without a canary, turning a canary on through
``useStageCache`` or ``stageVariableOverrides`` (AWS was only observed to do it through
``deploymentId`` and ``percentTraffic``), removing a canary stage variable that is not set, and
a ``/deploymentId`` naming no deployment or with another op than ``replace``. An emulator kinder
than AWS hides bugs.
"""

from __future__ import annotations

import copy
from typing import Any

from moto.apigateway.exceptions import BadRequestException
from moto.apigateway.models import APIGatewayBackend, RestAPI, Stage

from localaws.apigateway.canary import (
    DEPLOYMENT_DOES_NOT_EXIST,
    OVERRIDES,
    Canary,
    canary_of,
    parse_percent_traffic,
    set_canary,
)
from localaws.apigateway.state import MODEL_LOCK

# AWS's answers to canary requests, as recorded against AWS by LocalStack's validated snapshot
# tests (tests/aws/services/apigateway/test_apigateway_canary.snapshot.json).
INVALID_ADD_OPERATION = "Invalid add operation with path: {path}"
INVALID_SETTING_PATH = (
    "Invalid method setting path: {path}. Must be one of: [/deploymentId, /description, "
    "/cacheClusterEnabled, /cacheClusterSize, /clientCertificateId, /accessLogSettings, "
    "/accessLogSettings/destinationArn, /accessLogSettings/format, "
    "/{{resourcePath}}/{{httpMethod}}/metrics/enabled, "
    "/{{resourcePath}}/{{httpMethod}}/logging/dataTrace, "
    "/{{resourcePath}}/{{httpMethod}}/logging/loglevel, "
    "/{{resourcePath}}/{{httpMethod}}/throttling/burstLimit"
    "/{{resourcePath}}/{{httpMethod}}/throttling/rateLimit"
    "/{{resourcePath}}/{{httpMethod}}/caching/ttlInSeconds, "
    "/{{resourcePath}}/{{httpMethod}}/caching/enabled, "
    "/{{resourcePath}}/{{httpMethod}}/caching/dataEncrypted, "
    "/{{resourcePath}}/{{httpMethod}}/caching/requireAuthorizationForCacheControl, "
    "/{{resourcePath}}/{{httpMethod}}/caching/unauthorizedCacheControlHeaderStrategy, "
    "/*/*/metrics/enabled, /*/*/logging/dataTrace, /*/*/logging/loglevel, "
    "/*/*/throttling/burstLimit /*/*/throttling/rateLimit /*/*/caching/ttlInSeconds, "
    "/*/*/caching/enabled, /*/*/caching/dataEncrypted, "
    "/*/*/caching/requireAuthorizationForCacheControl, "
    "/*/*/caching/unauthorizedCacheControlHeaderStrategy, /variables/{{variable_name}}, "
    "/tracingEnabled]"
)
CANNOT_REMOVE_SETTING = (
    "Cannot remove method setting {setting} because there is no method setting for this method "
)
INVALID_COPY_OPERATION = (
    "Invalid copy operation with path: {path} and from {source}. Valid copy:path are "
    "[/deploymentId, /variables] and valid copy:from are [/canarySettings/deploymentId, "
    "/canarySettings/stageVariableOverrides]"
)
NO_CANARY_TO_PROMOTE = "Promotion not available. Canary does not exist."
CANARY_SETTINGS_PATH = "/canarySettings"
# copy "from" -> copy "path": promoting a canary (developer guide, "Promote a canary release").
_PROMOTIONS = {
    f"{CANARY_SETTINGS_PATH}/deploymentId": "/deploymentId",
    f"{CANARY_SETTINGS_PATH}/{OVERRIDES}": "/variables",
}


def update_stage(
    self: APIGatewayBackend, function_id: str, stage_name: str, patch_operations: Any
) -> Stage:
    """Apply one UpdateStage request: all operations, in order, or none of them."""
    with MODEL_LOCK:
        api = self.get_rest_api(function_id)
        stage = self.get_stage(function_id, stage_name)
        candidate = copy.deepcopy(stage)
        for operation in patch_operations or []:
            _apply_stage_operation(candidate, operation, api)
        stage.__dict__.update(candidate.__dict__)
        return stage


def _apply_stage_operation(stage: Stage, operation: dict[str, Any], api: RestAPI) -> None:
    kind = operation.get("op")
    path = operation.get("path")
    if kind == "copy":
        _promote(stage, operation.get("from"), path)
    elif isinstance(path, str) and (
        path == CANARY_SETTINGS_PATH or path.startswith(f"{CANARY_SETTINGS_PATH}/")
    ):
        _apply_canary_operation(stage, kind, path, operation.get("value"), api)
    elif path == "/deploymentId":
        # moto accepts any op and any id here (and any path *containing* /deploymentId).
        if kind != "replace":
            raise BadRequestException(f"Invalid {kind} operation with path: {path}")
        value = operation.get("value")
        if not isinstance(value, str) or value not in api.deployments:
            raise BadRequestException(DEPLOYMENT_DOES_NOT_EXIST)
        stage.deployment_id = value
    else:
        # Every other path: moto's own handling (not replaced).
        Stage.apply_operations(stage, [operation])


def _override_name(setting: str) -> str | None:
    """``stageVariableOverrides/{name}`` -> name."""
    prefix = f"{OVERRIDES}/"
    name = setting[len(prefix) :] if setting.startswith(prefix) else ""
    return name if name and "/" not in name else None


def _apply_canary_operation(stage: Stage, kind: Any, path: str, value: Any, api: RestAPI) -> None:
    canary = canary_of(stage)
    setting = path[len(CANARY_SETTINGS_PATH) + 1 :]
    override = _override_name(setting)
    if kind == "add":
        raise BadRequestException(INVALID_ADD_OPERATION.format(path=path))
    if kind == "remove":
        if path == CANARY_SETTINGS_PATH:
            if canary is None:
                raise BadRequestException(
                    f"Cannot remove {CANARY_SETTINGS_PATH}: the stage has no canary (what AWS "
                    "answers is not documented)"
                )
            set_canary(stage, None)
        elif override is None:
            raise BadRequestException(CANNOT_REMOVE_SETTING.format(setting=path[1:]))
        elif canary is None or override not in canary.stage_variable_overrides:
            raise BadRequestException(
                f"Cannot remove canary stage variable {override}: it is not set (what AWS "
                "answers is not documented)"
            )
        else:
            del canary.stage_variable_overrides[override]
        return
    if kind != "replace":
        raise BadRequestException(f"Invalid {kind} operation with path: {path}")
    if setting == "deploymentId":
        if not isinstance(value, str) or value not in api.deployments:
            raise BadRequestException(DEPLOYMENT_DOES_NOT_EXIST)
        # Turns a canary on when there is none, at 0 % (as recorded against AWS).
        if canary is None:
            set_canary(stage, Canary(deployment_id=value))
        else:
            canary.deployment_id = value
    elif setting == "percentTraffic":
        percent = parse_percent_traffic(value)
        # Turns a canary on when there is none, on the base deployment (as recorded).
        if canary is None:
            if stage.deployment_id is None:
                raise BadRequestException(DEPLOYMENT_DOES_NOT_EXIST)
            set_canary(stage, Canary(deployment_id=stage.deployment_id, percent_traffic=percent))
        else:
            canary.percent_traffic = percent
    elif setting == "useStageCache" or override is not None:
        if canary is None:
            raise BadRequestException(
                f"Cannot replace {path}: the stage has no canary, and whether AWS turns one on "
                "for this path is not documented (turn it on with /canarySettings/deploymentId "
                "or /canarySettings/percentTraffic)"
            )
        if override is not None:
            if not isinstance(value, str):
                raise BadRequestException(f"Invalid value for {path}: must be a string")
            canary.stage_variable_overrides[override] = value
        elif value in ("true", "false"):
            canary.use_stage_cache = value == "true"
        else:
            raise BadRequestException(f"Invalid value for {path}: must be 'true' or 'false'")
    else:
        raise BadRequestException(INVALID_SETTING_PATH.format(path=path))


def _promote(stage: Stage, source: Any, path: Any) -> None:
    """``copy`` in UpdateStage: promoting the canary's deployment or its variables."""
    if not isinstance(source, str) or _PROMOTIONS.get(source) != path:
        raise BadRequestException(INVALID_COPY_OPERATION.format(path=path, source=source))
    canary = canary_of(stage)
    if canary is None:
        raise BadRequestException(NO_CANARY_TO_PROMOTE)
    if path == "/deploymentId":
        stage.deployment_id = canary.deployment_id
    else:
        stage.variables = {**stage.variables, **canary.stage_variable_overrides}
