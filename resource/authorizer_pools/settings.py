"""The function's configuration: template.yaml's parameters, passed as environment variables.

The registrar is deployed for one shared API: its REST API, its authorizer and the stages it
publishes. Every registration is bounded by them (``properties``). The partition and account
the function runs in come from its own ARN.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass

from .errors import ResourceError
from .plan import Bounds

REST_API_ID = "REST_API_ID"
AUTHORIZER_ID = "AUTHORIZER_ID"
STAGE_NAMES = "STAGE_NAMES"
ALLOWED_USER_POOL_ARNS = "ALLOWED_USER_POOL_ARNS"
PROTECTED_USER_POOL_ARNS = "PROTECTED_USER_POOL_ARNS"
SHARED_USER_POOL_ARNS = "SHARED_USER_POOL_ARNS"
REGISTRY_TABLE = "REGISTRY_TABLE"

# template.yaml grants the function one stage per slot (FillsStageSlot1..10): as many as API
# Gateway's default quota of stages per API. A stage past the slots could never be published.
STAGE_SLOTS = 10
# template.yaml's AllowedPattern for each StageNames item: API Gateway's characters, 64 at most
# so that ten fit IAM's policy sizes. An item the slots would grant differently (empty, a
# wildcard IAM would expand, a space) is refused, never dropped or trimmed.
STAGE_NAME_PATTERN = "[A-Za-z0-9_-]{1,64}"
_SHOWN = 70


def split_list(text: str) -> tuple[str, ...]:
    """A CloudFormation CommaDelimitedList as it arrives in one string."""
    return tuple(item.strip() for item in text.split(",") if item.strip())


def pool_patterns(allowed: tuple[str, ...], partition: str, account_id: str) -> tuple[str, ...]:
    """The pools registrations may name: AllowedUserPoolArns, or when it is empty, every pool of
    the registrar's own account."""
    return allowed or (f"arn:{partition}:cognito-idp:*:{account_id}:userpool/*",)


@dataclass(frozen=True)
class Settings:
    partition: str
    account_id: str
    # What the registrar was deployed for (template.yaml's RestApiId, AuthorizerId, StageNames).
    rest_api_id: str
    authorizer_id: str
    stage_names: tuple[str, ...]
    # IAM ArnLike patterns of the pools registrations may name (empty: this account's pools).
    allowed_user_pool_arns: tuple[str, ...]
    # The ownership registry's DynamoDB table (template.yaml creates it).
    registry_table: str | None = None
    # Pools no registration may name, whatever AllowedUserPoolArns allows: the shared API's own
    # (operators') pool. A tenant that registered it would make it managed, and its Delete
    # would take it off the authorizer.
    protected_user_pool_arns: tuple[str, ...] = ()
    # The function's own Region: requests come from stacks of this Region, answers go to its
    # response bucket.
    region: str = ""
    # Pools any registration may name although its stack does not hold them (a pooled tier's
    # shared pool): ``authority``.
    shared_user_pool_arns: tuple[str, ...] = ()

    def require_registry_table(self) -> str:
        if not self.registry_table:
            raise ResourceError(
                f"the function has no {REGISTRY_TABLE}: deploy it with template.yaml, which "
                "creates the ownership registry and passes its name"
            )
        return self.registry_table

    @property
    def bounds(self) -> Bounds:
        """What a pass may change, whatever the registry holds."""
        return Bounds(self.allowed_user_pool_arns, frozenset(self.protected_user_pool_arns))

    def serves(self, rest_api_id: str, authorizer_id: str) -> bool:
        return (rest_api_id, authorizer_id) == (self.rest_api_id, self.authorizer_id)

    @classmethod
    def load(cls, function_arn: str, environ: Mapping[str, str] | None = None) -> Settings:
        """The settings of the function whose ARN (``context.invoked_function_arn``) is given."""
        env = os.environ if environ is None else environ
        parts = function_arn.split(":")
        if len(parts) < 7 or parts[0] != "arn" or parts[2] != "lambda":
            raise ResourceError(
                f"cannot tell partition and account from the function ARN {function_arn!r}"
            )
        partition, region, account_id = parts[1], parts[3], parts[4]
        missing = [name for name in (REST_API_ID, AUTHORIZER_ID, STAGE_NAMES) if not env.get(name)]
        if missing:
            raise ResourceError(
                f"the function has no {', '.join(missing)}: deploy it with template.yaml, whose "
                "parameters name the shared API, its authorizer and its stages"
            )
        stage_names = tuple(env[STAGE_NAMES].split(","))
        for name in stage_names:
            if not re.fullmatch(STAGE_NAME_PATTERN, name):
                raise ResourceError(
                    f"StageNames has the item {name[:_SHOWN]!r}: each must be 1 to 64 letters, "
                    "digits, hyphens or underscores (template.yaml's AllowedPattern)"
                )
        if len(stage_names) > STAGE_SLOTS:
            raise ResourceError(
                f"StageNames lists {len(stage_names)} stages; "
                f"template.yaml grants the function at most {STAGE_SLOTS}: deploy one registrar "
                "per group of stages"
            )
        return cls(
            partition=partition,
            account_id=account_id,
            rest_api_id=env[REST_API_ID],
            authorizer_id=env[AUTHORIZER_ID],
            stage_names=stage_names,
            allowed_user_pool_arns=pool_patterns(
                split_list(env.get(ALLOWED_USER_POOL_ARNS, "")), partition, account_id
            ),
            registry_table=env.get(REGISTRY_TABLE) or None,
            protected_user_pool_arns=split_list(env.get(PROTECTED_USER_POOL_ARNS, "")),
            region=region,
            shared_user_pool_arns=split_list(env.get(SHARED_USER_POOL_ARNS, "")),
        )
