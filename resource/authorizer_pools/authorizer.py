"""The shared authorizer: reading it, and adding or removing one pool ARN.

Every change is decided from a fresh read (``plan``) and sent as one per-ARN patch operation.
When API Gateway refuses the change as a bad request (another container changed the list since
we read it) or its outcome is unknown (5xx, dropped connection), we read again and decide again:
correct whatever ``add`` of a listed ARN or ``remove`` of an unlisted one turns out to do.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
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


@dataclass(frozen=True)
class AuthorizerState:
    rest_api_id: str
    authorizer_id: str
    type: str
    provider_arns: tuple[str, ...]


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
    )


def add_pool(state: AuthorizerState, arn: str, deadline: Deadline) -> plan.Change:
    """Make sure ``arn`` is listed; ``state`` is a recent read. Returns ADD when this call added
    it, NONE_PRESENT when it was there already."""
    return _converge(state, arn, deadline, plan.to_register)


def remove_pool(state: AuthorizerState, arn: str, deadline: Deadline) -> plan.Change:
    """Make sure ``arn`` is not listed, unless it is the last pool (API Gateway refuses an empty
    list). Returns REMOVE, NONE_ABSENT or KEEP_LAST_POOL."""
    return _converge(state, arn, deadline, plan.to_deregister)


def _patch(state: AuthorizerState, change: plan.Change, arn: str, deadline: Deadline) -> None:
    retries.call(
        "UpdateAuthorizer",
        lambda: aws.apigateway().update_authorizer(
            restApiId=state.rest_api_id,
            authorizerId=state.authorizer_id,
            patchOperations=[plan.patch_operation(change, arn)],  # type: ignore[list-item]
        ),
        deadline,
        idempotent=False,
    )


def _converge(
    state: AuthorizerState,
    arn: str,
    deadline: Deadline,
    decide: Callable[[tuple[str, ...], str], plan.Change],
) -> plan.Change:
    races = 0
    unknown_outcomes = 0
    while True:
        change = decide(state.provider_arns, arn)
        if not change.changes_authorizer:
            return change
        try:
            _patch(state, change, arn, deadline)
        except retries.AmbiguousOutcome as unknown:
            # It may have been applied: wait as for any retry (until the deadline says stop,
            # naming this error), then read what happened and decide again.
            unknown_outcomes += 1
            retries.pause("UpdateAuthorizer", unknown.error, unknown_outcomes, deadline)
            state = read(state.rest_api_id, state.authorizer_id, deadline)
            continue
        except ClientError as error:
            if retries.describe(error)[0] != "BadRequestException":
                raise
            logger.debug({"reread": "UpdateAuthorizer", "reason": retries.describe(error)[1]})
            before = state.provider_arns
            state = read(state.rest_api_id, state.authorizer_id, deadline)
            if state.provider_arns == before:
                # Nobody changed the list: the refusal was about our change, not a race.
                raise
            races += 1
            if races >= _MAX_DECISIONS:
                raise AwsCallFailed(
                    "UpdateAuthorizer",
                    "TooManyRaces",
                    f"the pool list kept changing under {races} attempts to {change.value} {arn}",
                    attempts=races,
                ) from error
            continue
        return change
