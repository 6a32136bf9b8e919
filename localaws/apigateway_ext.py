"""moto's API Gateway models, extended with the documented AWS behaviour this project relies on.

``install()`` (idempotent, process-wide) patches moto 5.2's classes in this process. It
reproduces, with sources as collected in ``shared/reference/aws-facts.md``:

- ``UpdateAuthorizer`` with ``{"op": "add"|"remove", "path": "/providerARNs", "value": ARN}``,
  one ARN per operation (the API Gateway API reference's PatchOperation; Terraform's AWS provider,
  ``internal/service/apigateway/authorizer.go``, builds exactly these). moto raises "not
  implemented" for that path. An ARN that is not a Cognito user pool is refused with AWS's
  message ``ProviderARNs need to be valid Cognito Userpools. Invalid ARNs- <arn>``
  (aws/chalice#1338, aws/aws-cdk#31735 for a cross-partition ARN); pools of other accounts are
  accepted (API Gateway developer guide, cross-account Cognito authorizer). The patch is
  applied atomically, as AWS applies one request.
- ``CreateAuthorizer`` of type COGNITO_USER_POOLS refuses what the update refuses: an empty
  list (AWS refuses an empty ``providerARNs``), an ARN that is not a user pool (chalice#1338 hit
  this message on creation), a pool missing from a known account, and a repeated ARN.
- ``CreateDeployment`` with a ``stageName`` keeps the existing stage and only points it at the
  new deployment, creating the stage if it does not exist (API Gateway API reference,
  CreateDeployment). moto replaces the Stage object and so loses its settings.
- ``FlushStageAuthorizersCache`` (``DELETE /restapis/{id}/stages/{stage}/cache/authorizers``,
  202; API Gateway API reference). moto does not route it; ``flush_stage_authorizers_cache`` is
  what the control-plane middleware calls, and every successful flush is recorded in
  ``FLUSH_JOURNAL``.
- Deployment ``createdDate`` keeps moto's one-second resolution, as AWS reports it.
- A deployment is a snapshot of the whole API (API Gateway developer guide, "Deploy a REST API":
  a stage serves the deployment it points at, not the API's current state). moto keeps no
  snapshot; each deployment here records, as they were when it was made, its authorizers (name,
  type, identity source, ``providerARNs``) and its methods, and ``served_provider_arns`` /
  ``served_provider_arn_lists`` tell what a stage really serves, so tests can check that a change
  reported as done is live.
- Canary releases (API Gateway developer guide, "Set up an API Gateway canary release
  deployment" and its pages "Create", "Update", "Promote" and "Turn off a canary release"; API
  reference, CreateDeployment ``canarySettings``, Stage ``canarySettings``, UpdateStage patch
  paths). moto 5.2.5 has no canary at all: CreateDeployment and CreateStage drop
  ``canarySettings``, GetStage never returns it, and its UpdateStage matches any path containing
  ``/deploymentId``, so ``replace /canarySettings/deploymentId`` silently moves the *base*
  deployment, while ``remove /canarySettings`` and ``copy`` (promotion) are ignored or misapplied.
  Here a stage carries ``canarySettings`` (``deploymentId``, ``percentTraffic``,
  ``stageVariableOverrides``, ``useStageCache``) and:

  * ``CreateDeployment`` with ``canarySettings`` creates a deployment and makes it the stage's
    canary, base unchanged; the stage must exist ("you cannot specify any non-existing stage name
    when creating a canary release deployment"). A CreateDeployment without ``canarySettings``,
    and ``UpdateStage replace /deploymentId``, move the base only: the canary keeps serving its
    own, older deployment.
  * ``UpdateStage``: ``replace /canarySettings/deploymentId`` (the deployment must exist) and
    ``replace /canarySettings/percentTraffic`` (0.0 to 100.0) turn a canary on when there is
    none (canary on the given deployment at 0 %, resp. on the base deployment); ``replace
    /canarySettings/useStageCache`` and ``replace|remove
    /canarySettings/stageVariableOverrides/{name}`` change an existing canary; ``remove
    /canarySettings`` ends it; ``copy`` from ``/canarySettings/deploymentId`` to
    ``/deploymentId`` and from ``/canarySettings/stageVariableOverrides`` to ``/variables``
    promotes it. The error messages are the ones AWS answers, as recorded against AWS by
    LocalStack's validated snapshot tests (``tests/aws/services/apigateway/
    test_apigateway_canary.snapshot.json``). The request is applied atomically.
  * ``CreateStage`` with ``canarySettings`` (its ``deploymentId`` must exist).
  * ``DeleteDeployment`` refuses a deployment a stage serves, as base or canary, with AWS's
    message "Active stages pointing to this deployment must be moved or deleted" (moto checks
    only the stage the deployment was first made for).
- ``GetExport`` (``GET /restapis/{id}/stages/{stage}/exports/{oas30|swagger}``; API reference,
  GetExport; developer guide, "Export a REST API from API Gateway" and the
  ``x-amazon-apigateway-authorizer`` / ``-authtype`` / ``-integration`` extension pages). moto's
  export ignores the stage and the type, reads the API's *current* state and knows no
  authorizer. ``get_export`` builds the document from the stage's base deployment snapshot:
  ``securitySchemes`` (OpenAPI 3) or ``securityDefinitions`` (Swagger 2) keyed by authorizer
  name, each ``{"type": "apiKey", "name": <identity-source header>, "in": "header"}``, with
  ``x-amazon-apigateway-authtype`` and ``x-amazon-apigateway-authorizer`` (for Cognito:
  ``{"type": "cognito_user_pools", "providerARNs": [...]}``) only when ``extensions`` includes
  ``authorizers`` or ``apigateway``; ``x-amazon-apigateway-integration`` only with
  ``integrations`` or ``apigateway``.

Where AWS's behaviour is not documented, this module refuses (HTTP 400 BadRequestException):
``add`` of an ARN already listed, ``remove`` of an ARN not listed, a patch that would leave the
list empty (AWS refuses an empty ``providerARNs``), any other op on ``/providerARNs``, a
``/providerARNs/...`` sub-path, stage variables on a CreateDeployment to an existing stage,
``remove /canarySettings`` on a stage without a canary, turning a canary on through
``useStageCache`` or ``stageVariableOverrides`` (AWS was only observed to do it through
``deploymentId`` and ``percentTraffic``), removing a canary stage variable that is not set, a
CreateStage canary without ``deploymentId``, an UpdateStage ``/deploymentId`` naming no
deployment or with another op than ``replace``, and in GetExport: ``extensions=postman``, an
unknown extension or parameter, ``Accept: application/yaml`` (no YAML writer here). An emulator
kinder than AWS hides bugs.

What GetExport puts around the security schemes is API Gateway's usual export layout (``info``
with the deployment's date as ``version``, ``servers`` / ``host`` + ``basePath``, ``paths`` with
each method's ``security`` and responses) but AWS does not document it field by field: code
should read only ``components.securitySchemes`` / ``securityDefinitions``. Only authorizers some
method of the deployment uses are exported (undocumented either way: code must not rely on an
unused authorizer appearing).

The existence check: an ARN whose account is one moto holds Cognito state for (or the API's own
account) must name a pool that exists in moto's cognito-idp backend of that account and region.
Pools of accounts moto knows nothing about are accepted when well-formed, as a real
cross-account pool would be. The check applies to ``add``; a ``remove`` of a listed ARN whose
pool has since been deleted is accepted, because the ARN was valid when it was added and
refusing would make the list impossible to clean up (AWS documents neither way).
"""

from __future__ import annotations

import copy
import dataclasses
import json
import math
import re
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl

from moto.apigateway.exceptions import (
    BadRequestException,
    DeploymentNotFoundException,
    NoIntegrationDefined,
    NoMethodDefined,
    StageStillActive,
)
from moto.apigateway.models import (
    APIGatewayBackend,
    Authorizer,
    Deployment,
    Integration,
    RestAPI,
    Stage,
    apigateway_backends,
)
from moto.apigateway.responses import APIGatewayResponse
from moto.apigateway.utils import ApigwDeploymentIdentifier
from moto.cognitoidp.models import cognitoidp_backends
from moto.core.common_types import TYPE_RESPONSE
from moto.utilities.utils import get_partition

from localaws.authorizer_cache import AUTHORIZER_CACHE, StageKey
from localaws.wire import HttpAnswer, empty_answer, error_answer, new_request_id

PROVIDER_ARNS_PATH = "/providerARNs"
COGNITO_USER_POOLS = "COGNITO_USER_POOLS"
INVALID_ARN_MESSAGE = "ProviderARNs need to be valid Cognito Userpools. Invalid ARNs- {arn}"

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
_OVERRIDES = "stageVariableOverrides"
# copy "from" -> copy "path": promoting a canary (developer guide, "Promote a canary release").
_PROMOTIONS = {
    f"{CANARY_SETTINGS_PATH}/deploymentId": "/deploymentId",
    f"{CANARY_SETTINGS_PATH}/{_OVERRIDES}": "/variables",
}

# GetExport (API reference): exportType 'oas30' or 'swagger'; parameters
# extensions=integrations|apigateway|authorizers|postman ("any combination").
EXPORT_TYPES = ("oas30", "swagger")
_EXTENSIONS = frozenset({"integrations", "apigateway", "authorizers", "postman"})
_HEADER_SOURCE = re.compile(r"^method\.request\.header\.(?P<name>[^\s,]+)$")

# A user pool ARN: arn:PARTITION:cognito-idp:REGION:ACCOUNT:userpool/REGION_ID. Cognito pool ids
# are "<region>_<alphanumerics>" (Cognito API reference, UserPoolId pattern [\w-]+_[0-9a-zA-Z]+);
# the id's region must be the ARN's region, or it names no pool that can exist.
_REGION = r"[a-z]{2}(?:-[a-z]+)+-\d+"
_POOL_ARN = re.compile(
    rf"^arn:(?P<partition>[a-z][a-z-]*):cognito-idp:(?P<region>{_REGION}):(?P<account>\d{{12}}):"
    rf"userpool/(?P<pool_id>(?P<pool_region>{_REGION})_[0-9A-Za-z]+)$"
)

# moto's models are not thread-safe and the server is threaded: without this lock two
# concurrent UpdateAuthorizer calls would each validate a copy and the second commit would
# silently drop the first one's ARN, a lost update AWS never produces.
_MODEL_LOCK = threading.RLock()
_INSTALL_LOCK = threading.Lock()
_originals: dict[str, Callable[..., Any]] = {}
# The attribute of a moto Stage that holds its canary (moto's Stage has none).
_CANARY_ATTRIBUTE = "_localaws_canary"


@dataclass(frozen=True)
class _Owner:
    """The account and region of the API an authorizer belongs to."""

    account_id: str
    region_name: str


@dataclass(frozen=True)
class AuthorizerSnapshot:
    """An authorizer as a deployment captured it."""

    name: str
    type: str
    provider_arns: tuple[str, ...]
    identity_source: str | None
    identity_validation_expression: str | None
    authorizer_uri: str | None
    authorizer_credentials: str | None
    result_ttl: int | None
    auth_type: str | None


@dataclass(frozen=True)
class MethodSnapshot:
    """A method as a deployment captured it."""

    path: str
    http_method: str
    authorization_type: str
    authorizer_id: str | None
    authorization_scopes: tuple[str, ...]
    api_key_required: bool
    response_codes: tuple[str, ...]
    # The method's x-amazon-apigateway-integration object, built when it was deployed.
    integration: Mapping[str, Any] | None


@dataclass(frozen=True)
class DeploymentSnapshot:
    """What a deployment serves: the API as it was when the deployment was made."""

    api_name: str
    api_description: str
    created_date: int
    authorizers: Mapping[str, AuthorizerSnapshot]
    methods: tuple[MethodSnapshot, ...]


# (account, region, api id, deployment id) -> the API as that deployment captured it.
_SNAPSHOTS: dict[tuple[str, str, str, str], DeploymentSnapshot] = {}


@dataclass
class _Canary:
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
            dct[_OVERRIDES] = dict(self.stage_variable_overrides)
        return dct


@dataclass(frozen=True)
class FlushRecord:
    """One successful FlushStageAuthorizersCache."""

    monotonic: float
    wall_time: float
    account_id: str
    region: str
    api_id: str
    stage_name: str


class FlushJournal:
    """A thread-safe list of successful flushes, in the order they happened."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._records: list[FlushRecord] = []

    def record(self, account_id: str, region: str, api_id: str, stage_name: str) -> FlushRecord:
        entry = FlushRecord(
            monotonic=time.monotonic(),
            wall_time=time.time(),
            account_id=account_id,
            region=region,
            api_id=api_id,
            stage_name=stage_name,
        )
        with self._lock:
            self._records.append(entry)
        return entry

    def records(
        self, *, api_id: str | None = None, stage_name: str | None = None
    ) -> list[FlushRecord]:
        """A snapshot of the journal, optionally filtered by API and stage."""
        with self._lock:
            snapshot = list(self._records)
        return [
            r
            for r in snapshot
            if (api_id is None or r.api_id == api_id)
            and (stage_name is None or r.stage_name == stage_name)
        ]

    def clear(self) -> None:
        with self._lock:
            self._records.clear()

    def __len__(self) -> int:
        with self._lock:
            return len(self._records)


FLUSH_JOURNAL = FlushJournal()


def install() -> None:
    """Patch moto's API Gateway classes in this process. Calling it again changes nothing."""
    with _INSTALL_LOCK:
        if _originals:
            return
        for owner, name, replacement in _patches():
            _originals[f"{owner.__name__}.{name}"] = getattr(owner, name)
            setattr(owner, name, replacement)


def uninstall() -> None:
    """Restore moto's own methods (for tests of the extension itself)."""
    with _INSTALL_LOCK:
        if not _originals:
            return
        for owner, name, _ in _patches():
            setattr(owner, name, _originals.pop(f"{owner.__name__}.{name}"))


def forget_history() -> None:
    """Drop the flush journal and deployment snapshots (with a reset of moto's state)."""
    FLUSH_JOURNAL.clear()
    with _MODEL_LOCK:
        _SNAPSHOTS.clear()


def is_installed() -> bool:
    return bool(_originals)


# -- authorizers --------------------------------------------------------------------------------


def _create_authorizer(
    self: APIGatewayBackend, restapi_id: str, name: str, authorizer_type: str, **kwargs: Any
) -> Authorizer:
    """CreateAuthorizer refuses a Cognito authorizer AWS would refuse (moto accepts anything)."""
    if authorizer_type == COGNITO_USER_POOLS:
        arns = kwargs.get("provider_arns") or []
        if not arns:
            raise BadRequestException(
                f"{PROVIDER_ARNS_PATH} of a {COGNITO_USER_POOLS} authorizer cannot be empty"
            )
        if len(set(arns)) != len(arns):
            # Undocumented in AWS: refuse rather than guess whether it de-duplicates.
            raise BadRequestException(f"{PROVIDER_ARNS_PATH} lists the same ARN twice")
        owner = _Owner(self.account_id, self.region_name)
        for arn in arns:
            if not isinstance(arn, str):
                raise BadRequestException(INVALID_ARN_MESSAGE.format(arn=arn))
            _check_pool_arn(arn, owner, must_exist=True)
    created: Authorizer = _originals["APIGatewayBackend.create_authorizer"](
        self, restapi_id, name, authorizer_type, **kwargs
    )
    return created


def _update_authorizer(
    self: APIGatewayBackend, restapi_id: str, authorizer_id: str, patch_operations: Any
) -> Authorizer:
    # The backend knows the account and region; the Authorizer model does not, and the
    # partition and existence checks need them.
    with _MODEL_LOCK:
        authorizer = self.get_authorizer(restapi_id, authorizer_id)
        return _apply_operations(
            authorizer, patch_operations, owner=_Owner(self.account_id, self.region_name)
        )


def _apply_operations(
    self: Authorizer, patch_operations: list[dict[str, Any]], *, owner: _Owner | None = None
) -> Authorizer:
    """Apply one UpdateAuthorizer request: all operations or none of them."""
    original = _originals["Authorizer.apply_operations"]
    with _MODEL_LOCK:
        # Work on a copy so a refusal halfway leaves the authorizer exactly as it was, as a
        # failed AWS request does.
        candidate = copy.deepcopy(self)
        for operation in patch_operations or []:
            path = operation.get("path")
            if isinstance(path, str) and path.startswith(PROVIDER_ARNS_PATH):
                _apply_provider_arn_operation(candidate, operation, owner)
            else:
                original(candidate, [operation])
        self.__dict__.update(candidate.__dict__)
        return self


def _apply_provider_arn_operation(
    authorizer: Authorizer, operation: dict[str, Any], owner: _Owner | None
) -> None:
    path = operation.get("path")
    kind = operation.get("op")
    value = operation.get("value")
    if path != PROVIDER_ARNS_PATH:
        # "/providerARNs/0" and the like: AWS documents one ARN per add/remove on the list
        # itself, nothing about indexed paths.
        raise BadRequestException(
            f"Invalid patch path '{path}': use '{PROVIDER_ARNS_PATH}' with one ARN as value"
        )
    if kind not in ("add", "remove"):
        # replace would be a whole-list read-modify-write (loses concurrent tenants); move,
        # copy and test have no documented meaning here.
        raise BadRequestException(
            f"Invalid patch operation '{kind}' on {PROVIDER_ARNS_PATH}: "
            "only 'add' and 'remove' of one ARN are supported"
        )
    if authorizer.type != COGNITO_USER_POOLS:
        raise BadRequestException(
            f"{PROVIDER_ARNS_PATH} can only be patched on an authorizer of type "
            f"{COGNITO_USER_POOLS}, not {authorizer.type}"
        )
    if not isinstance(value, str):
        raise BadRequestException(INVALID_ARN_MESSAGE.format(arn=value))
    _check_pool_arn(value, owner, must_exist=kind == "add")
    current: list[str] = list(authorizer.provider_arns or [])
    if kind == "add":
        if value in current:
            raise BadRequestException(
                f"Cannot add {value} to {PROVIDER_ARNS_PATH}: it is already listed"
            )
        current.append(value)
    else:
        if value not in current:
            raise BadRequestException(
                f"Cannot remove {value} from {PROVIDER_ARNS_PATH}: it is not listed"
            )
        current.remove(value)
        if not current:
            raise BadRequestException(
                f"Cannot remove {value}: {PROVIDER_ARNS_PATH} of a {COGNITO_USER_POOLS} "
                "authorizer cannot be empty"
            )
    authorizer.provider_arns = current


def _check_pool_arn(arn: str, owner: _Owner | None, *, must_exist: bool) -> None:
    match = _POOL_ARN.match(arn)
    if match is None:
        raise BadRequestException(INVALID_ARN_MESSAGE.format(arn=arn))
    region = match["region"]
    # Cross-partition is refused by AWS (aws-cdk#31735); every moto region is in the API's
    # partition only if the ARN's own region agrees with its partition, too.
    api_partition = get_partition(owner.region_name) if owner else "aws"
    if match["partition"] != api_partition or get_partition(region) != api_partition:
        raise BadRequestException(INVALID_ARN_MESSAGE.format(arn=arn))
    if match["pool_region"] != region:
        raise BadRequestException(INVALID_ARN_MESSAGE.format(arn=arn))
    if must_exist and _known_missing_pool(match["account"], region, match["pool_id"], owner):
        raise BadRequestException(INVALID_ARN_MESSAGE.format(arn=arn))


def _known_missing_pool(account: str, region: str, pool_id: str, owner: _Owner | None) -> bool:
    """True when moto holds that account's Cognito state and the pool is not in it."""
    # dict.get, not [], so that looking does not create moto state for a foreign account.
    account_backends = cognitoidp_backends.get(account)
    if account_backends is None:
        return owner is not None and owner.account_id == account
    region_backend = account_backends.get(region)
    if region_backend is None:
        return True
    return pool_id not in region_backend.user_pools


# -- deployments and their snapshots ------------------------------------------------------------


def _create_deployment(
    self: RestAPI,
    name: str,
    description: str,
    stage_variables: Any = None,
    canary: _Canary | None = None,
) -> Deployment:
    """CreateDeployment as AWS does it: an existing stage keeps its settings; with ``canary``
    the new deployment becomes the stage's canary and the base stays where it was."""
    with _MODEL_LOCK:
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
        _SNAPSHOTS[(self.account_id, self.region_name, self.id, deployment_id)] = _snapshot_of(
            self, deployment.created_date
        )
        self.deployments[deployment_id] = deployment
        if name:
            if existing is None:
                self.stages[name] = Stage(
                    name=name, deployment_id=deployment_id, variables=variables
                )
            elif canary is not None:
                _set_canary(existing, dataclasses.replace(canary, deployment_id=deployment_id))
            else:
                existing.deployment_id = deployment_id
        self.update_integration_mocks(name)
        return deployment


def _backend_create_deployment(
    self: APIGatewayBackend,
    function_id: str,
    name: str,
    description: str = "",
    stage_variables: Any = None,
    canary_settings: Any = None,
) -> Deployment:
    """moto's CreateDeployment checks, then a deployment, a canary one if asked for."""
    if canary_settings is None:
        plain: Deployment = _originals["APIGatewayBackend.create_deployment"](
            self, function_id, name, description, stage_variables
        )
        return plain
    with _MODEL_LOCK:
        api = self.get_rest_api(function_id)
        if not name:
            shown = "null" if name is None else name
            raise BadRequestException(CANARY_NEEDS_STAGE_NAME.format(value=shown))
        if name not in api.stages:
            raise BadRequestException(CANARY_NEEDS_EXISTING_STAGE.format(name=name))
        canary = _canary_from_request(canary_settings, api, with_deployment_id=False)
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
        return _create_deployment(api, name, description, stage_variables, canary=canary)


def _create_deployment_response(self: APIGatewayResponse) -> TYPE_RESPONSE:
    """moto's CreateDeployment handler, passing ``canarySettings`` on (moto drops it)."""
    function_id = self.path.replace("/restapis/", "", 1).split("/")[0]
    deployment = _backend_create_deployment(
        self.backend,
        function_id,
        self._get_param("stageName"),
        self._get_param("description"),
        self._get_param("variables", if_none={}),
        canary_settings=self._get_param("canarySettings"),
    )
    return 201, {"status": 201}, json.dumps(deployment.to_json())


def _delete_deployment(self: RestAPI, deployment_id: str) -> Deployment:
    """DeleteDeployment refuses a deployment some stage serves, as its base or its canary."""
    with _MODEL_LOCK:
        if deployment_id not in self.deployments:
            raise DeploymentNotFoundException()
        for stage in self.stages.values():
            canary = _canary_of(stage)
            if stage.deployment_id == deployment_id or (
                canary is not None and canary.deployment_id == deployment_id
            ):
                raise StageStillActive()
        _SNAPSHOTS.pop((self.account_id, self.region_name, self.id, deployment_id), None)
        return self.deployments.pop(deployment_id)


def _snapshot_of(api: RestAPI, created_date: int) -> DeploymentSnapshot:
    authorizers = {
        authorizer_id: AuthorizerSnapshot(
            name=str(authorizer.name),
            type=str(authorizer.type),
            provider_arns=tuple(authorizer.provider_arns or ()),
            identity_source=authorizer.identity_source,
            identity_validation_expression=authorizer.identity_validation_expression,
            authorizer_uri=authorizer.authorizer_uri,
            authorizer_credentials=authorizer.authorizer_credentials,
            result_ttl=authorizer.authorizer_result_ttl,
            auth_type=authorizer.auth_type,
        )
        for authorizer_id, authorizer in api.authorizers.items()
    }
    methods = [
        MethodSnapshot(
            path=resource.get_path(),
            http_method=http_method.upper(),
            authorization_type=str(method.authorization_type or "NONE").upper(),
            authorizer_id=method.authorizer_id,
            authorization_scopes=tuple(method.authorization_scopes or ()),
            api_key_required=bool(method.api_key_required),
            response_codes=tuple(sorted(method.method_responses)),
            integration=_integration_extension(method.method_integration),
        )
        for resource in api.resources.values()
        for http_method, method in resource.resource_methods.items()
    ]
    return DeploymentSnapshot(
        api_name=str(api.name),
        api_description=str(api.description or ""),
        created_date=int(created_date),
        authorizers=authorizers,
        methods=tuple(sorted(methods, key=lambda m: (m.path, m.http_method))),
    )


def _integration_extension(integration: Integration | None) -> dict[str, Any] | None:
    """The x-amazon-apigateway-integration object of an integration (developer guide,
    "x-amazon-apigateway-integration object"): lower-case type and passthroughBehavior,
    integration responses keyed by selection pattern ("default" without one)."""
    if integration is None:
        return None
    extension: dict[str, Any] = {"type": str(integration.integration_type).lower()}
    optional: dict[str, Any] = {
        "httpMethod": integration.http_method,
        "uri": integration.uri,
        "credentials": integration.credentials,
        "requestParameters": integration.request_parameters,
        "requestTemplates": integration.request_templates,
        "contentHandling": integration.content_handling,
        "connectionType": integration.connection_type,
    }
    extension.update({key: value for key, value in optional.items() if value})
    if integration.passthrough_behaviour:
        extension["passthroughBehavior"] = str(integration.passthrough_behaviour).lower()
    if integration.timeout_in_millis and str(integration.timeout_in_millis).isdigit():
        extension["timeoutInMillis"] = int(integration.timeout_in_millis)
    responses: dict[str, Any] = {}
    for response in (integration.integration_responses or {}).values():
        entry: dict[str, Any] = {"statusCode": str(response.status_code)}
        if response.response_templates:
            entry["responseTemplates"] = {
                key: value or "" for key, value in response.response_templates.items()
            }
        if response.response_parameters:
            entry["responseParameters"] = response.response_parameters
        if response.content_handling:
            entry["contentHandling"] = response.content_handling
        responses[response.selection_pattern or "default"] = entry
    if responses:
        extension["responses"] = responses
    # A copy: later changes to the API must not reach into a deployment.
    return copy.deepcopy(extension)


def _api_or_none(account_id: str, region: str, api_id: str) -> RestAPI | None:
    try:
        backend = apigateway_backends[account_id][region]
    except KeyError:
        # A region moto does not serve holds no API.
        return None
    return backend.apis.get(api_id)


def _served(
    account_id: str, region: str, api_id: str, deployment_id: str | None, authorizer_id: str
) -> tuple[str, ...] | None:
    if deployment_id is None:
        return None
    snapshot = _SNAPSHOTS.get((account_id, region, api_id, deployment_id))
    authorizer = snapshot.authorizers.get(authorizer_id) if snapshot is not None else None
    return None if authorizer is None else authorizer.provider_arns


def served_provider_arns(
    account_id: str, region: str, api_id: str, stage_name: str, authorizer_id: str
) -> tuple[str, ...] | None:
    """The pools the stage's base deployment trusts, or None when the stage serves nothing
    (missing, deployed before ``install()``, or deployed before the authorizer existed).

    A canary is not looked at: see ``served_provider_arn_lists``."""
    with _MODEL_LOCK:
        api = _api_or_none(account_id, region, api_id)
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
    with _MODEL_LOCK:
        api = _api_or_none(account_id, region, api_id)
        stage = api.stages.get(stage_name) if api is not None else None
        if stage is None:
            return []
        deployments = [stage.deployment_id]
        canary = _canary_of(stage)
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
    with _MODEL_LOCK:
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
    with _MODEL_LOCK:
        api = _api_or_none(account_id, region, api_id)
        stage = api.stages.get(stage_name) if api is not None else None
        if stage is None:
            return []
        if stage.deployment_id is None:
            return []
        canary = _canary_of(stage)
        shares: list[tuple[str, float]] = [(stage.deployment_id, 1.0)]
        if canary is not None and canary.deployment_id != stage.deployment_id:
            to_canary = canary.percent_traffic / 100
            shares = [(stage.deployment_id, 1.0 - to_canary), (canary.deployment_id, to_canary)]
        served = []
        for deployment_id, share in shares:
            snapshot = _SNAPSHOTS.get((account_id, region, api_id, deployment_id))
            if snapshot is not None:
                served.append((snapshot, share))
        return served


# -- canary releases ----------------------------------------------------------------------------


def _canary_of(stage: Stage) -> _Canary | None:
    canary = getattr(stage, _CANARY_ATTRIBUTE, None)
    return canary if isinstance(canary, _Canary) else None


def _set_canary(stage: Stage, canary: _Canary | None) -> None:
    setattr(stage, _CANARY_ATTRIBUTE, canary)


def _stage_to_json(self: Stage) -> dict[str, Any]:
    """moto's Stage JSON, with ``canarySettings`` when the stage has a canary."""
    dct: dict[str, Any] = _originals["Stage.to_json"](self)
    canary = _canary_of(self)
    if canary is not None:
        dct["canarySettings"] = canary.to_json()
    return dct


def _canary_from_request(settings: Any, api: RestAPI, *, with_deployment_id: bool) -> _Canary:
    """The canary a CreateDeployment (DeploymentCanarySettings) or CreateStage (CanarySettings)
    asks for; CreateDeployment's deployment id is filled in once the deployment exists."""
    allowed = {"percentTraffic", _OVERRIDES, "useStageCache"}
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
    overrides = settings.get(_OVERRIDES) or {}
    if not isinstance(overrides, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in overrides.items()
    ):
        raise BadRequestException(f"canarySettings.{_OVERRIDES} must map names to strings")
    use_stage_cache = settings.get("useStageCache", False)
    if not isinstance(use_stage_cache, bool):
        raise BadRequestException("canarySettings.useStageCache must be a boolean")
    return _Canary(
        deployment_id=deployment_id,
        percent_traffic=_percent_traffic(percent),
        stage_variable_overrides=dict(overrides),
        use_stage_cache=use_stage_cache,
    )


def _percent_traffic(value: Any) -> float:
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


def _create_stage_response(self: APIGatewayResponse) -> TYPE_RESPONSE:
    """moto's CreateStage handler, plus the ``canarySettings`` moto drops."""
    settings = self._get_param("canarySettings")
    if settings is None:
        plain: TYPE_RESPONSE = _originals["APIGatewayResponse.create_stage"](self)
        return plain
    function_id = self.path.split("/")[2]
    with _MODEL_LOCK:
        api = self.backend.get_rest_api(function_id)
        canary = _canary_from_request(settings, api, with_deployment_id=True)
        status, headers, _ = _originals["APIGatewayResponse.create_stage"](self)
        stage = api.stages[self._get_param("stageName")]
        _set_canary(stage, canary)
        return status, headers, json.dumps(stage.to_json())


def _update_stage(
    self: APIGatewayBackend, function_id: str, stage_name: str, patch_operations: Any
) -> Stage:
    """Apply one UpdateStage request: all operations, in order, or none of them."""
    with _MODEL_LOCK:
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
    prefix = f"{_OVERRIDES}/"
    name = setting[len(prefix) :] if setting.startswith(prefix) else ""
    return name if name and "/" not in name else None


def _apply_canary_operation(stage: Stage, kind: Any, path: str, value: Any, api: RestAPI) -> None:
    canary = _canary_of(stage)
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
            _set_canary(stage, None)
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
            _set_canary(stage, _Canary(deployment_id=value))
        else:
            canary.deployment_id = value
    elif setting == "percentTraffic":
        percent = _percent_traffic(value)
        # Turns a canary on when there is none, on the base deployment (as recorded).
        if canary is None:
            if stage.deployment_id is None:
                raise BadRequestException(DEPLOYMENT_DOES_NOT_EXIST)
            _set_canary(stage, _Canary(deployment_id=stage.deployment_id, percent_traffic=percent))
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
    canary = _canary_of(stage)
    if canary is None:
        raise BadRequestException(NO_CANARY_TO_PROMOTE)
    if path == "/deploymentId":
        stage.deployment_id = canary.deployment_id
    else:
        stage.variables = {**stage.variables, **canary.stage_variable_overrides}


# -- FlushStageAuthorizersCache -----------------------------------------------------------------


def flush_stage_authorizers_cache(
    account_id: str, region: str, api_id: str, stage_name: str
) -> HttpAnswer:
    """Answer FlushStageAuthorizersCache: 202 when the API and stage exist, 404 otherwise.

    The 404 has API Gateway's wire shape (code in ``x-amzn-ErrorType``, ``{"message": ...}``)
    and moto's messages for a missing API or stage, so botocore raises NotFoundException.
    """
    with _MODEL_LOCK:
        api = _api_or_none(account_id, region, api_id)
        if api is None:
            return error_answer(
                "rest-json", 404, "NotFoundException", "Invalid Rest API Id specified"
            )
        if stage_name not in api.stages:
            return error_answer(
                "rest-json", 404, "NotFoundException", "Invalid stage identifier specified"
            )
        FLUSH_JOURNAL.record(account_id, region, api_id, stage_name)
        AUTHORIZER_CACHE.flush(StageKey(account_id, region, api_id, stage_name))
    return empty_answer(202)


# -- GetExport ----------------------------------------------------------------------------------


def get_export(
    account_id: str,
    region: str,
    api_id: str,
    stage_name: str,
    export_type: str,
    query: str = "",
    accept: str | None = None,
) -> HttpAnswer:
    """Answer GetExport of a stage: the OpenAPI document of the deployment the stage's *base*
    serves (a canary is not exported), as ``application/json``.

    ``query`` is the raw query string (``extensions=authorizers`` ...), ``accept`` the
    request's Accept header. 404 NotFoundException for a missing API or stage (API Gateway's
    wire shape and moto's messages), 400 BadRequestException for an unknown export type and
    for what is not modelled (see the module docstring).
    """
    with _MODEL_LOCK:
        api = _api_or_none(account_id, region, api_id)
        if api is None:
            return error_answer(
                "rest-json", 404, "NotFoundException", "Invalid Rest API Id specified"
            )
        stage = api.stages.get(stage_name)
        if stage is None:
            return error_answer(
                "rest-json", 404, "NotFoundException", "Invalid stage identifier specified"
            )
        if export_type not in EXPORT_TYPES:
            # moto's message for an unknown type (AWS documents only the two accepted ones).
            return _bad_request(f"No API exporter for type '{export_type}'")
        extensions = _export_extensions(query)
        if isinstance(extensions, HttpAnswer):
            return extensions
        refused = _refused_accept(accept)
        if refused is not None:
            return refused
        deployment_id = stage.deployment_id
        snapshot = (
            _SNAPSHOTS.get((account_id, region, api_id, deployment_id))
            if deployment_id is not None
            else None
        )
        if snapshot is None:
            return _bad_request(
                f"Stage '{stage_name}' serves deployment {deployment_id!r}, of which this "
                "emulator holds no snapshot (made before install(), or no such deployment)"
            )
        document = export_document(
            snapshot, export_type, extensions, api_id=api_id, region=region, stage=stage_name
        )
    body = json.dumps(document, indent=2).encode()
    headers = (
        ("x-amzn-RequestId", new_request_id()),
        ("Content-Type", "application/json"),
        ("Content-Disposition", f'attachment; filename="{api_id}-{stage_name}-{export_type}.json"'),
        ("Content-Length", str(len(body))),
    )
    return HttpAnswer(status=200, headers=headers, body=body)


def _bad_request(message: str) -> HttpAnswer:
    return error_answer("rest-json", 400, "BadRequestException", message)


def _export_extensions(query: str) -> frozenset[str] | HttpAnswer:
    """The ``extensions`` asked for (comma-separated), or the 400 refusing the query."""
    pairs = parse_qsl(query, keep_blank_values=True)
    names = [name for name, _ in pairs]
    unknown = sorted({name for name in names if name != "extensions"})
    if unknown:
        return _bad_request(f"GetExport parameter(s) not modelled: {', '.join(unknown)}")
    if len(names) > 1:
        return _bad_request("GetExport parameter 'extensions' given more than once")
    if not pairs:
        return frozenset()
    requested = [part.strip() for part in pairs[0][1].split(",")]
    wrong = sorted({part for part in requested if part not in _EXTENSIONS})
    if wrong:
        return _bad_request(f"Unknown export extension(s): {', '.join(repr(w) for w in wrong)}")
    if "postman" in requested:
        return _bad_request("extensions=postman is not modelled (no Postman extension writer)")
    return frozenset(requested)


def _refused_accept(accept: str | None) -> HttpAnswer | None:
    """None when a JSON document may be answered; botocore always sends an Accept header."""
    types = {part.split(";", 1)[0].strip().lower() for part in (accept or "").split(",")}
    types.discard("")
    if not types or types & {"application/json", "*/*"}:
        return None
    if "application/yaml" in types:
        return _bad_request("Accept: application/yaml is not modelled: ask for application/json")
    return _bad_request(f"Unsupported Accept {accept!r}: application/json or application/yaml")


def export_document(
    snapshot: DeploymentSnapshot,
    export_type: str,
    extensions: frozenset[str],
    *,
    api_id: str,
    region: str,
    stage: str,
) -> dict[str, Any]:
    """The OpenAPI 3.0 (``oas30``) or Swagger 2.0 (``swagger``) document of a deployment."""
    with_authorizers = bool(extensions & {"authorizers", "apigateway"})
    with_integrations = bool(extensions & {"integrations", "apigateway"})
    oas30 = export_type == "oas30"
    info: dict[str, Any] = {"title": snapshot.api_name}
    if snapshot.api_description:
        info["description"] = snapshot.api_description
    info["version"] = datetime.fromtimestamp(snapshot.created_date, UTC).strftime(
        "%Y-%m-%dT%H:%M:%SZ"
    )
    schemes: dict[str, Any] = {}
    paths: dict[str, Any] = {}
    for method in snapshot.methods:
        operation: dict[str, Any] = {
            "responses": {
                code: {"description": f"{code} response", **({"content": {}} if oas30 else {})}
                for code in method.response_codes
            }
        }
        security = _method_security(method, snapshot, schemes, with_authorizers)
        if security:
            operation["security"] = security
        if with_integrations and method.integration is not None:
            operation["x-amazon-apigateway-integration"] = copy.deepcopy(dict(method.integration))
        key = "x-amazon-apigateway-any-method" if method.http_method == "ANY" else None
        paths.setdefault(method.path, {})[key or method.http_method.lower()] = operation
    host = f"{api_id}.execute-api.{region}.amazonaws.com" + (
        ".cn" if region.startswith("cn-") else ""
    )
    document: dict[str, Any]
    if oas30:
        document = {
            "openapi": "3.0.1",
            "info": info,
            "servers": [
                {
                    "url": f"https://{host}/{{basePath}}",
                    "variables": {"basePath": {"default": f"/{stage}"}},
                }
            ],
            "paths": paths,
        }
        if schemes:
            document["components"] = {"securitySchemes": schemes}
    else:
        document = {
            "swagger": "2.0",
            "info": info,
            "host": host,
            "basePath": f"/{stage}",
            "schemes": ["https"],
            "paths": paths,
        }
        if schemes:
            document["securityDefinitions"] = schemes
    return document


def _method_security(
    method: MethodSnapshot,
    snapshot: DeploymentSnapshot,
    schemes: dict[str, Any],
    with_authorizers: bool,
) -> list[dict[str, list[str]]]:
    """A method's OpenAPI ``security``; adds the schemes it names to ``schemes``."""
    security: list[dict[str, list[str]]] = []
    authorizer = snapshot.authorizers.get(method.authorizer_id or "")
    if method.authorization_type in (COGNITO_USER_POOLS, "CUSTOM") and authorizer is not None:
        scopes = list(method.authorization_scopes) if authorizer.type == COGNITO_USER_POOLS else []
        security.append({authorizer.name: scopes})
        schemes[authorizer.name] = _security_scheme(authorizer, with_authorizers)
    elif method.authorization_type == "AWS_IAM":
        security.append({"sigv4": []})
        sigv4: dict[str, Any] = {"type": "apiKey", "name": "Authorization", "in": "header"}
        if with_authorizers:
            sigv4["x-amazon-apigateway-authtype"] = "awsSigv4"
        schemes["sigv4"] = sigv4
    if method.api_key_required:
        security.append({"api_key": []})
        schemes["api_key"] = {"type": "apiKey", "name": "x-api-key", "in": "header"}
    return security


def _security_scheme(authorizer: AuthorizerSnapshot, with_extension: bool) -> dict[str, Any]:
    """An authorizer's security scheme (developer guide, "x-amazon-apigateway-authorizer
    object"): an apiKey scheme on its identity-source header, and with the extension its
    x-amazon-apigateway-authtype and x-amazon-apigateway-authorizer."""
    header = _HEADER_SOURCE.match(authorizer.identity_source or "")
    scheme: dict[str, Any] = {
        "type": "apiKey",
        # The docs' name for identity sources that are not one header.
        "name": header["name"] if header else "Unused",
        "in": "header",
    }
    if not with_extension:
        return scheme
    extension: dict[str, Any]
    if authorizer.type == COGNITO_USER_POOLS:
        scheme["x-amazon-apigateway-authtype"] = "cognito_user_pools"
        extension = {"type": "cognito_user_pools", "providerARNs": list(authorizer.provider_arns)}
    else:
        scheme["x-amazon-apigateway-authtype"] = authorizer.auth_type or "custom"
        extension = {"type": authorizer.type.lower()}
        optional: dict[str, Any] = {
            "authorizerUri": authorizer.authorizer_uri,
            "authorizerCredentials": authorizer.authorizer_credentials,
            "identitySource": authorizer.identity_source if authorizer.type == "REQUEST" else None,
            "identityValidationExpression": authorizer.identity_validation_expression,
        }
        extension.update({key: value for key, value in optional.items() if value})
        if authorizer.result_ttl is not None:
            extension["authorizerResultTtlInSeconds"] = int(authorizer.result_ttl)
    scheme["x-amazon-apigateway-authorizer"] = extension
    return scheme


def _patches() -> tuple[tuple[type, str, Callable[..., Any]], ...]:
    """(class, attribute, replacement) for every method ``install()`` replaces."""
    return (
        (Authorizer, "apply_operations", _apply_operations),
        (APIGatewayBackend, "update_authorizer", _update_authorizer),
        (APIGatewayBackend, "create_authorizer", _create_authorizer),
        (APIGatewayBackend, "create_deployment", _backend_create_deployment),
        (APIGatewayBackend, "update_stage", _update_stage),
        (RestAPI, "create_deployment", _create_deployment),
        (RestAPI, "delete_deployment", _delete_deployment),
        (Stage, "to_json", _stage_to_json),
        (APIGatewayResponse, "create_deployment", _create_deployment_response),
        (APIGatewayResponse, "create_stage", _create_stage_response),
    )
