"""CreateAuthorizer and UpdateAuthorizer of Cognito authorizers, as API Gateway validates them.

Reproduces:

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

Where AWS's behaviour is not documented, this module refuses (HTTP 400 BadRequestException):
``add`` of an ARN already listed, ``remove`` of an ARN not listed, a patch that would leave the
list empty (AWS refuses an empty ``providerARNs``), any other op on ``/providerARNs`` and a
``/providerARNs/...`` sub-path. An emulator kinder than AWS hides bugs.

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
from dataclasses import dataclass
from typing import Any

from moto.apigateway.exceptions import BadRequestException
from moto.apigateway.models import APIGatewayBackend, Authorizer
from moto.cognitoidp.models import cognitoidp_backends
from moto.utilities.utils import get_partition

from localaws.apigateway.state import MODEL_LOCK, ORIGINALS

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


@dataclass(frozen=True)
class _Owner:
    """The account and region of the API an authorizer belongs to."""

    account_id: str
    region_name: str


def create_authorizer(
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
    created: Authorizer = ORIGINALS["APIGatewayBackend.create_authorizer"](
        self, restapi_id, name, authorizer_type, **kwargs
    )
    return created


def update_authorizer(
    self: APIGatewayBackend, restapi_id: str, authorizer_id: str, patch_operations: Any
) -> Authorizer:
    # The backend knows the account and region; the Authorizer model does not, and the
    # partition and existence checks need them.
    with MODEL_LOCK:
        authorizer = self.get_authorizer(restapi_id, authorizer_id)
        return apply_operations(
            authorizer, patch_operations, owner=_Owner(self.account_id, self.region_name)
        )


def apply_operations(
    self: Authorizer, patch_operations: list[dict[str, Any]], *, owner: _Owner | None = None
) -> Authorizer:
    """Apply one UpdateAuthorizer request: all operations or none of them."""
    original = ORIGINALS["Authorizer.apply_operations"]
    with MODEL_LOCK:
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
