"""The shared authorizer: reading it, and adding or removing pool ARNs.

Every change is one patch operation per ARN (``plan``), sent only when a fresh read shows it is
still needed: never the whole list, never an ``add`` of a listed ARN or a ``remove`` of an
unlisted one, whose effect API Gateway does not document. When the outcome of a call is
unknown (5xx, dropped connection), or API Gateway refuses it because another writer changed the
list meanwhile, the authorizer is read again and only what is still needed is sent again.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

from botocore.exceptions import ClientError

from . import aws, plan, retries
from .errors import AwsCallFailed
from .timing import Deadline

logger = logging.getLogger(__name__)

COGNITO_USER_POOLS = "COGNITO_USER_POOLS"
# Re-reads after a change refused because the list changed under it, before giving up; each
# needs another container to have changed the list in between, so a handful is plenty.
_MAX_DECISIONS = 6
# API Gateway refusing a pool (invalid, or gone), and IAM refusing it (a pool outside
# AllowedUserPoolArns, say after the parameter was narrowed): either concerns that pool only.
_REFUSALS = frozenset({"BadRequestException", "AccessDeniedException"})
# Patch operations per UpdateAuthorizer call (API Gateway documents no maximum; stay modest).
MAX_OPERATIONS = 50


@dataclass(frozen=True)
class AuthorizerState:
    rest_api_id: str
    authorizer_id: str
    type: str
    provider_arns: tuple[str, ...]
    # How a stage's export names the authorizer (its securitySchemes key).
    name: str = ""


def read(rest_api_id: str, authorizer_id: str, deadline: Deadline) -> AuthorizerState:
    """The authorizer as it is now. Raises botocore's NotFoundException when it or its API is
    gone."""
    found = retries.call(
        "GetAuthorizer",
        lambda: aws.apigateway().get_authorizer(restApiId=rest_api_id, authorizerId=authorizer_id),
        deadline,
    )
    return AuthorizerState(
        rest_api_id=rest_api_id,
        authorizer_id=authorizer_id,
        type=found.get("type", ""),
        provider_arns=tuple(found.get("providerARNs", [])),
        name=found.get("name", ""),
    )


def apply(
    state: AuthorizerState, changes: Sequence[tuple[plan.Change, str]], deadline: Deadline
) -> AuthorizerState:
    """Send ``changes`` (ADD or REMOVE of one ARN each) in one UpdateAuthorizer call; the
    authorizer as it is afterwards. ``state`` is a recent read.

    A change whose outcome is unknown (5xx, dropped connection) is waited out, the authorizer
    read again, and what is still needed sent again. A refusal (BadRequest) after which the
    list turns out to have changed (another writer) is decided again the same way; one with
    the list unchanged is about the changes themselves, and raised.
    """
    unknown_outcomes = 0
    races = 0
    while True:
        needed = [(change, arn) for change, arn in changes if _needed(change, arn, state)]
        if not needed:
            return state
        try:
            _patch(state, needed, deadline)
        except retries.AmbiguousOutcome as unknown:
            unknown_outcomes += 1
            retries.pause("UpdateAuthorizer", unknown.error, unknown_outcomes, deadline)
            state = read(state.rest_api_id, state.authorizer_id, deadline)
            continue
        except ClientError as error:
            if retries.describe(error)[0] != "BadRequestException":
                raise
            before = state.provider_arns
            state = read(state.rest_api_id, state.authorizer_id, deadline)
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
                ) from error
            continue
        listed = [arn for arn in state.provider_arns if (plan.Change.REMOVE, arn) not in needed]
        listed += [arn for change, arn in needed if change is plan.Change.ADD]
        return AuthorizerState(
            state.rest_api_id, state.authorizer_id, state.type, tuple(listed), state.name
        )


def apply_batches(
    state: AuthorizerState,
    changes: Sequence[tuple[plan.Change, str]],
    deadline: Deadline,
) -> tuple[AuthorizerState, dict[str, str]]:
    """Send ``changes`` (all adds, or all removes) in as few calls as API Gateway takes, one
    patch operation per ARN. When a batch is refused, its changes are sent one by one to find
    the ARNs API Gateway refuses: the authorizer as it is afterwards, and those ARNs with its
    message (everything else was applied)."""
    refused: dict[str, str] = {}
    for start in range(0, len(changes), MAX_OPERATIONS):
        batch = changes[start : start + MAX_OPERATIONS]
        try:
            state = apply(state, batch, deadline)
        except ClientError as error:
            if retries.describe(error)[0] not in _REFUSALS:
                raise
            for change in batch:
                try:
                    state = apply(state, [change], deadline)
                except ClientError as single:
                    code, message = retries.describe(single)
                    if code not in _REFUSALS:
                        raise
                    refused[change[1]] = message if code == "BadRequestException" else code
    return state, refused


def _needed(change: plan.Change, arn: str, state: AuthorizerState) -> bool:
    listed = arn in state.provider_arns
    return listed if change is plan.Change.REMOVE else not listed


def _patch(
    state: AuthorizerState, changes: Sequence[tuple[plan.Change, str]], deadline: Deadline
) -> None:
    retries.call(
        "UpdateAuthorizer",
        lambda: aws.apigateway().update_authorizer(
            restApiId=state.rest_api_id,
            authorizerId=state.authorizer_id,
            patchOperations=[plan.patch_operation(change, arn) for change, arn in changes],  # type: ignore[misc]
        ),
        deadline,
        idempotent=False,
    )
