"""The shared API, as the registrar reads and changes it: one authorizer and its stages.

Every API Gateway call the function makes is a method of :class:`ApiGateway`, and each takes
the deadline it must finish by. Errors leave as ``aws_errors``' typed errors (``NotFound``,
``Refused``, ``Throttled``, ``AmbiguousOutcome``), never as error codes.

**The authorizer.** Every change is one patch operation per ARN (``plan``), sent only when a
fresh read shows it is still needed: never the whole list, never an ``add`` of a listed ARN or a
``remove`` of an unlisted one, whose effect API Gateway does not document. When the outcome of a
call is unknown (5xx, dropped connection), or API Gateway refuses it because another writer
changed the list meanwhile, the authorizer is read again and only what is still needed is sent
again.

**The stages.** A stage serves a snapshot of the API (a deployment), so an authorizer change
reaches callers only once a deployment made after it serves the stage. CreateDeployment
snapshots the *whole* API: any other undeployed change on the shared API goes live with it. A
stage with a canary release sends a share of its traffic to the canary's own deployment, which
CreateDeployment and UpdateStage of ``/deploymentId`` leave alone (API Gateway developer guide,
"Set up an API Gateway canary release deployment").
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from . import aws, plan, retries
from .aws_errors import AmbiguousOutcome, NotFound, Refused
from .errors import AwsCallFailed
from .plan import Change, StageView
from .timing import Deadline

COGNITO_USER_POOLS = "COGNITO_USER_POOLS"
# How a stage's OpenAPI export writes the authorizer's type.
_COGNITO_USER_POOLS_EXPORT = "cognito_user_pools"
# Re-reads after a change refused because the list changed under it, before giving up; each
# needs another container to have changed the list in between, so a handful is plenty.
_MAX_DECISIONS = 6
# Patch operations per UpdateAuthorizer call (API Gateway documents no maximum; stay modest).
MAX_OPERATIONS = 50
# CreateDeployment's description shows in the console's deployment history.
_DESCRIPTION_LIMIT = 200

PoolChange = tuple[Change, str]


@dataclass(frozen=True)
class AuthorizerState:
    type: str
    provider_arns: tuple[str, ...]
    # How a stage's export names the authorizer (its securitySchemes key).
    name: str = ""


class ApiGateway:
    """One REST API and the authorizer the registrar manages on it."""

    def __init__(self, rest_api_id: str, authorizer_id: str) -> None:
        self.rest_api_id = rest_api_id
        self.authorizer_id = authorizer_id

    # -- the authorizer ---------------------------------------------------------------------

    def authorizer(self, deadline: Deadline) -> AuthorizerState:
        """The authorizer as it is now. Raises ``NotFound`` when it or its API is gone."""
        found = retries.call(
            "GetAuthorizer",
            lambda: aws.apigateway().get_authorizer(
                restApiId=self.rest_api_id, authorizerId=self.authorizer_id
            ),
            deadline,
        )
        return AuthorizerState(
            type=found.get("type", ""),
            provider_arns=tuple(found.get("providerARNs", [])),
            name=found.get("name", ""),
        )

    def has_rest_api(self, deadline: Deadline) -> bool:
        try:
            retries.call(
                "GetRestApi",
                lambda: aws.apigateway().get_rest_api(restApiId=self.rest_api_id),
                deadline,
            )
        except NotFound:
            return False
        return True

    def patch_pools(
        self, state: AuthorizerState, changes: Sequence[PoolChange], deadline: Deadline
    ) -> tuple[AuthorizerState, dict[str, str]]:
        """Send ``changes`` (all adds, or all removes) in as few calls as API Gateway takes,
        one patch operation per ARN. When a batch is refused, its changes are sent one by one
        to find the ARNs API Gateway (or IAM) refuses: the authorizer as it is afterwards, and
        those ARNs with the reason (everything else was applied)."""
        refused: dict[str, str] = {}
        for start in range(0, len(changes), MAX_OPERATIONS):
            batch = changes[start : start + MAX_OPERATIONS]
            try:
                state = self._apply(state, batch, deadline)
            except Refused:
                for change in batch:
                    try:
                        state = self._apply(state, [change], deadline)
                    except Refused as refusal:
                        refused[change[1]] = refusal.reason
        return state, refused

    def _apply(
        self, state: AuthorizerState, changes: Sequence[PoolChange], deadline: Deadline
    ) -> AuthorizerState:
        """Send ``changes`` in one UpdateAuthorizer call; the authorizer as it is afterwards.
        ``state`` is a recent read. A change whose outcome is unknown is waited out, the
        authorizer read again, and what is still needed sent again. A refusal after which the
        list turns out to have changed (another writer) is decided again the same way; one
        with the list unchanged, or IAM's, is about the changes themselves, and raised."""
        unknown_outcomes = 0
        races = 0
        while True:
            needed = [(change, arn) for change, arn in changes if _needed(change, arn, state)]
            if not needed:
                return state
            try:
                self._patch(needed, deadline)
            except AmbiguousOutcome as unknown:
                unknown_outcomes += 1
                retries.pause("UpdateAuthorizer", unknown.error, unknown_outcomes, deadline)
                state = self.authorizer(deadline)
                continue
            except Refused as refusal:
                if refusal.by_iam:
                    raise
                before = state.provider_arns
                state = self.authorizer(deadline)
                if state.provider_arns == before:
                    raise  # nobody changed the list: the refusal is about our changes
                races += 1
                if races >= _MAX_DECISIONS:
                    raise AwsCallFailed(
                        "UpdateAuthorizer",
                        "TooManyRaces",
                        f"the pool list kept changing under {races} attempts",
                        attempts=races,
                        transient=True,
                    ) from refusal
                continue
            listed = [arn for arn in state.provider_arns if (Change.REMOVE, arn) not in needed]
            listed += [arn for change, arn in needed if change is Change.ADD]
            return AuthorizerState(state.type, tuple(listed), state.name)

    def _patch(self, changes: Sequence[PoolChange], deadline: Deadline) -> None:
        retries.call(
            "UpdateAuthorizer",
            lambda: aws.apigateway().update_authorizer(
                restApiId=self.rest_api_id,
                authorizerId=self.authorizer_id,
                patchOperations=[plan.patch_operation(change, arn) for change, arn in changes],  # type: ignore[misc]
            ),
            deadline,
            idempotent=False,
        )

    # -- the stages -------------------------------------------------------------------------

    def stages(
        self, deadline: Deadline, names: Iterable[str] | None = None
    ) -> dict[str, StageView]:
        """What each stage serves, from one GetStages call (whatever their number): the stages
        ``names`` lists (those missing shown as not existing), or every stage of the API."""
        found = retries.call(
            "GetStages", lambda: aws.apigateway().get_stages(restApiId=self.rest_api_id), deadline
        )
        stages = {s["stageName"]: s for s in found.get("item", []) if "stageName" in s}
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
        self, stage_name: str, authorizer_name: str, deadline: Deadline
    ) -> tuple[str, ...] | None:
        """The pool list the stage's deployment serves for the authorizer named
        ``authorizer_name``, read from the stage's OpenAPI export with its authorizer
        extensions (GetExport: the one documented read of a deployed authorizer). None when the
        export does not show it (no method uses the authorizer, or a shape this code does not
        know): the caller must not conclude."""
        found = retries.call(
            "GetExport",
            lambda: aws.apigateway().get_export(
                restApiId=self.rest_api_id,
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
            exported = (schemes.get(authorizer_name) or {}).get("x-amazon-apigateway-authorizer")
        except (ValueError, AttributeError, KeyError):
            return None
        if not isinstance(exported, dict):
            return None
        if str(exported.get("type", "")).lower() != _COGNITO_USER_POOLS_EXPORT:
            return None
        arns = exported.get("providerARNs")
        if not isinstance(arns, list) or not all(isinstance(arn, str) for arn in arns):
            return None
        return tuple(arns)

    def deploy(self, stage_name: str, description: str, deadline: Deadline) -> str:
        """CreateDeployment to one stage; the deployment's id. Raises ``Throttled`` instead of
        waiting out the account's once-per-5-s quota: the caller has better to do meanwhile. A
        repeated CreateDeployment only adds a deployment to the history, so retrying one whose
        outcome is unknown is safe."""
        deployment = retries.call(
            "CreateDeployment",
            lambda: aws.apigateway().create_deployment(
                restApiId=self.rest_api_id,
                stageName=stage_name,
                description=description[:_DESCRIPTION_LIMIT],
            ),
            deadline,
            retry_throttling=False,
        )
        return str(deployment["id"])

    def point(self, stage_name: str, deployment_id: str, deadline: Deadline) -> None:
        """UpdateStage: make another stage serve an existing deployment (no CreateDeployment
        quota). Raises ``NotFound`` when the stage is gone."""
        retries.call(
            "UpdateStage",
            lambda: aws.apigateway().update_stage(
                restApiId=self.rest_api_id,
                stageName=stage_name,
                patchOperations=[
                    {"op": "replace", "path": "/deploymentId", "value": deployment_id}
                ],
            ),
            deadline,
        )

    def flush(self, stage_name: str, deadline: Deadline) -> None:
        """Flush the stage's authorizer cache. Raises ``NotFound`` when the stage is gone."""
        retries.call(
            "FlushStageAuthorizersCache",
            lambda: aws.apigateway().flush_stage_authorizers_cache(
                restApiId=self.rest_api_id, stageName=stage_name
            ),
            deadline,
        )


def _needed(change: Change, arn: str, state: AuthorizerState) -> bool:
    listed = arn in state.provider_arns
    return listed if change is Change.REMOVE else not listed
