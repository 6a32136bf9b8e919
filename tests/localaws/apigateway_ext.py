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
  snapshot; each deployment here records its authorizers' ``providerARNs`` as they were when it
  was made, and ``served_provider_arns`` tells what a stage really serves, so tests can check
  that a change reported as done is live.

Where AWS's behaviour is not documented, this module refuses (HTTP 400 BadRequestException):
``add`` of an ARN already listed, ``remove`` of an ARN not listed, a patch that would leave the
list empty (AWS refuses an empty ``providerARNs``), any other op on ``/providerARNs``, a
``/providerARNs/...`` sub-path, stage variables on a CreateDeployment to an existing stage. An
emulator kinder than AWS hides bugs.

The existence check: an ARN whose account is one moto holds Cognito state for (or the API's own
account) must name a pool that exists in moto's cognito-idp backend of that account and region.
Pools of accounts moto knows nothing about are accepted when well-formed, as a real
cross-account pool would be. The check applies to ``add``; a ``remove`` of a listed ARN whose
pool has since been deleted is accepted, because the ARN was valid when it was added and
refusing would make the list impossible to clean up (AWS documents neither way).
"""

from __future__ import annotations

import copy
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from moto.apigateway.exceptions import BadRequestException
from moto.apigateway.models import (
    APIGatewayBackend,
    Authorizer,
    Deployment,
    RestAPI,
    Stage,
    apigateway_backends,
)
from moto.apigateway.utils import ApigwDeploymentIdentifier
from moto.cognitoidp.models import cognitoidp_backends
from moto.utilities.utils import get_partition

from localaws.wire import HttpAnswer, empty_answer, error_answer

PROVIDER_ARNS_PATH = "/providerARNs"
COGNITO_USER_POOLS = "COGNITO_USER_POOLS"
INVALID_ARN_MESSAGE = "ProviderARNs need to be valid Cognito Userpools. Invalid ARNs- {arn}"

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
# (account, region, api id, deployment id) -> {authorizer id: providerARNs when deployed}.
_SNAPSHOTS: dict[tuple[str, str, str, str], dict[str, tuple[str, ...]]] = {}
_originals: dict[str, Callable[..., Any]] = {}


@dataclass(frozen=True)
class _Owner:
    """The account and region of the API an authorizer belongs to."""

    account_id: str
    region_name: str


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
        _originals["Authorizer.apply_operations"] = Authorizer.apply_operations
        _originals["APIGatewayBackend.update_authorizer"] = APIGatewayBackend.update_authorizer
        _originals["APIGatewayBackend.create_authorizer"] = APIGatewayBackend.create_authorizer
        _originals["RestAPI.create_deployment"] = RestAPI.create_deployment
        Authorizer.apply_operations = _apply_operations  # type: ignore[method-assign]
        APIGatewayBackend.update_authorizer = _update_authorizer  # type: ignore[method-assign]
        APIGatewayBackend.create_authorizer = _create_authorizer  # type: ignore[method-assign]
        RestAPI.create_deployment = _create_deployment  # type: ignore[method-assign]


def uninstall() -> None:
    """Restore moto's own methods (for tests of the extension itself)."""
    with _INSTALL_LOCK:
        if not _originals:
            return
        Authorizer.apply_operations = _originals.pop(  # type: ignore[method-assign]
            "Authorizer.apply_operations"
        )
        APIGatewayBackend.update_authorizer = _originals.pop(  # type: ignore[method-assign]
            "APIGatewayBackend.update_authorizer"
        )
        APIGatewayBackend.create_authorizer = _originals.pop(  # type: ignore[method-assign]
            "APIGatewayBackend.create_authorizer"
        )
        RestAPI.create_deployment = _originals.pop(  # type: ignore[method-assign]
            "RestAPI.create_deployment"
        )


def forget_history() -> None:
    """Drop the flush journal and deployment snapshots (with a reset of moto's state)."""
    FLUSH_JOURNAL.clear()
    with _MODEL_LOCK:
        _SNAPSHOTS.clear()


def is_installed() -> bool:
    return bool(_originals)


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


def _create_deployment(
    self: RestAPI, name: str, description: str, stage_variables: Any = None
) -> Deployment:
    """CreateDeployment as AWS does it: an existing stage keeps its settings."""
    with _MODEL_LOCK:
        variables: dict[str, Any] = dict(stage_variables or {})
        existing = self.stages.get(name) if name else None
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
        _SNAPSHOTS[(self.account_id, self.region_name, self.id, deployment_id)] = {
            authorizer_id: tuple(authorizer.provider_arns or ())
            for authorizer_id, authorizer in self.authorizers.items()
        }
        self.deployments[deployment_id] = deployment
        if name:
            if existing is None:
                self.stages[name] = Stage(
                    name=name, deployment_id=deployment_id, variables=variables
                )
            else:
                existing.deployment_id = deployment_id
        self.update_integration_mocks(name)
        return deployment


def served_provider_arns(
    account_id: str, region: str, api_id: str, stage_name: str, authorizer_id: str
) -> tuple[str, ...] | None:
    """The pools the stage's current deployment trusts, or None when the stage serves nothing
    (missing, or deployed before ``install()``)."""
    with _MODEL_LOCK:
        api = apigateway_backends[account_id][region].apis.get(api_id)
        stage = api.stages.get(stage_name) if api is not None else None
        if stage is None or stage.deployment_id is None:
            return None
        snapshot = _SNAPSHOTS.get((account_id, region, api_id, stage.deployment_id))
        return None if snapshot is None else snapshot.get(authorizer_id)


def flush_stage_authorizers_cache(
    account_id: str, region: str, api_id: str, stage_name: str
) -> HttpAnswer:
    """Answer FlushStageAuthorizersCache: 202 when the API and stage exist, 404 otherwise.

    The 404 has API Gateway's wire shape (code in ``x-amzn-ErrorType``, ``{"message": ...}``)
    and moto's messages for a missing API or stage, so botocore raises NotFoundException.
    """
    with _MODEL_LOCK:
        try:
            backend = apigateway_backends[account_id][region]
        except KeyError:
            # A region moto does not serve holds no API.
            backend = None
        api = backend.apis.get(api_id) if backend is not None else None
        if api is None:
            return error_answer(
                "rest-json", 404, "NotFoundException", "Invalid Rest API Id specified"
            )
        if stage_name not in api.stages:
            return error_answer(
                "rest-json", 404, "NotFoundException", "Invalid stage identifier specified"
            )
        FLUSH_JOURNAL.record(account_id, region, api_id, stage_name)
    return empty_answer(202)
