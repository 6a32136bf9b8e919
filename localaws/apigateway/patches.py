"""moto's API Gateway models, extended with the documented AWS behaviour this project relies on.

``install()`` (idempotent, process-wide) patches moto 5.2's classes in this process with the
replacements of the modules that reproduce each behaviour (each module's docstring cites its
sources):

- ``apigateway.authorizers``: per-ARN ``/providerARNs`` patches on UpdateAuthorizer and
  CreateAuthorizer with API Gateway's validation of Cognito user pool ARNs.
- ``apigateway.deployments``: CreateDeployment keeping the stage and snapshotting the API
  (``apigateway.snapshots``) per deployment, DeleteDeployment refusing a served deployment, and
  what a stage serves (``served_provider_arns``, ``served_provider_arn_lists``,
  ``served_deployments``, ``find_api``).
- ``apigateway.canary`` and ``apigateway.stage_updates``: canary releases on stages (CreateStage,
  GetStage, UpdateStage).

Not patched into moto but answered by the control-plane middleware: ``apigateway.flush``
(FlushStageAuthorizersCache and ``FLUSH_JOURNAL``) and ``apigateway.export`` (GetExport of a
stage). Where AWS's behaviour is not documented, these modules refuse: an emulator kinder than
AWS hides bugs.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from moto.apigateway.models import APIGatewayBackend, Authorizer, RestAPI, Stage
from moto.apigateway.responses import APIGatewayResponse

from localaws.apigateway.authorizers import apply_operations, create_authorizer, update_authorizer
from localaws.apigateway.canary import create_stage_response, stage_to_json
from localaws.apigateway.deployments import (
    backend_create_deployment,
    create_deployment,
    create_deployment_response,
    delete_deployment,
)
from localaws.apigateway.flush import FLUSH_JOURNAL
from localaws.apigateway.snapshots import SNAPSHOTS
from localaws.apigateway.stage_updates import update_stage
from localaws.apigateway.state import MODEL_LOCK, ORIGINALS

_INSTALL_LOCK = threading.Lock()


def install() -> None:
    """Patch moto's API Gateway classes in this process. Calling it again changes nothing."""
    with _INSTALL_LOCK:
        if ORIGINALS:
            return
        for owner, name, replacement in _patches():
            ORIGINALS[f"{owner.__name__}.{name}"] = getattr(owner, name)
            setattr(owner, name, replacement)


def uninstall() -> None:
    """Restore moto's own methods (for tests of the extension itself)."""
    with _INSTALL_LOCK:
        if not ORIGINALS:
            return
        for owner, name, _ in _patches():
            setattr(owner, name, ORIGINALS.pop(f"{owner.__name__}.{name}"))


def forget_history() -> None:
    """Drop the flush journal and deployment snapshots (with a reset of moto's state)."""
    FLUSH_JOURNAL.clear()
    with MODEL_LOCK:
        SNAPSHOTS.clear()


def is_installed() -> bool:
    return bool(ORIGINALS)


def _patches() -> tuple[tuple[type, str, Callable[..., Any]], ...]:
    """(class, attribute, replacement) for every method ``install()`` replaces."""
    return (
        (Authorizer, "apply_operations", apply_operations),
        (APIGatewayBackend, "update_authorizer", update_authorizer),
        (APIGatewayBackend, "create_authorizer", create_authorizer),
        (APIGatewayBackend, "create_deployment", backend_create_deployment),
        (APIGatewayBackend, "update_stage", update_stage),
        (RestAPI, "create_deployment", create_deployment),
        (RestAPI, "delete_deployment", delete_deployment),
        (Stage, "to_json", stage_to_json),
        (APIGatewayResponse, "create_deployment", create_deployment_response),
        (APIGatewayResponse, "create_stage", create_stage_response),
    )
