"""Checking that what the properties name exists, before anything changes.

API Gateway allows 10 control-plane calls per second per account. On launch day hundreds of
registrations would spend that on the same two reads (the authorizer, the stages) and starve
the one worker that changes and deploys. So the answer of those two reads is kept in the
registry for a short while (``FRESH_SECONDS``), and registrations on the same authorizer within
that time reuse it. The pool itself is checked every time (Cognito, another quota).
"""

from __future__ import annotations

import random

from . import cognito, retries, timing
from .api_gateway import COGNITO_USER_POOLS, ApiGateway, AuthorizerState
from .aws_errors import NotFound
from .errors import InvalidProperty, ResourceError
from .plan import has_canary
from .properties import (
    AUTHORIZER_ID,
    REST_API_ID,
    STAGE_NAMES,
    USER_POOL_ARN,
    RegistrationProperties,
)
from .registry import Check, Registry
from .settings import Settings
from .timing import Deadline

_LISTED_STAGES = 5
# How long a check of the authorizer and the stages is reused by other registrations. Short:
# an API or stage deleted meanwhile makes the worker's own calls fail, or is skipped by it.
FRESH_SECONDS = 30.0
# How long one request may take to check for the others before someone else does.
_CHECK_SECONDS = 10.0
_WAIT = retries.Backoff(base=0.2, cap=1.0)
_rng = random.Random()
CANARY_PROBLEM = (
    "has a canary release: a pool change cannot reach the canary's deployment without ending "
    "the release; promote or delete the canary first"
)


def validate(
    props: RegistrationProperties,
    settings: Settings,
    registry: Registry,
    deadline: Deadline,
    *,
    refuse_canary: bool = True,
) -> None:
    if props.user_pool_arn.account == settings.account_id:
        _require_user_pool(props, deadline)
    _require_stages(props, _checked(props, registry, deadline), refuse_canary=refuse_canary)


def _checked(props: RegistrationProperties, registry: Registry, deadline: Deadline) -> Check:
    """A fresh enough check of the authorizer and the stages: another request's, or ours."""
    waits = 0
    while True:
        checked = registry.checks.last()
        now = timing.clock.time()
        if now - checked.at < FRESH_SECONDS:
            if checked.problem:
                raise ResourceError(checked.problem)
            if set(props.stage_names) <= set(checked.stage_names):
                return checked
            break  # a stage the last check did not see: look for ourselves
        if checked.checking_until < now and registry.checks.claim(now, now + _CHECK_SECONDS):
            break
        # Someone else is checking for everyone: wait for their answer.
        waits += 1
        wait = _WAIT.delay(waits, _rng) + 0.1
        if not deadline.allows(wait):
            break
        timing.clock.sleep(wait)
    try:
        _require_cognito_authorizer(props, deadline)
    except InvalidProperty as problem:
        registry.checks.record(Check(timing.clock.time(), (), problem=str(problem)))
        raise
    views = ApiGateway(props.rest_api_id, props.authorizer_id).stages(deadline)
    check = Check(
        timing.clock.time(),
        tuple(sorted(views)),
        canary_stages=tuple(sorted(name for name, view in views.items() if has_canary(view))),
    )
    registry.checks.record(check)
    return check


def _require_stages(props: RegistrationProperties, check: Check, *, refuse_canary: bool) -> None:
    for stage_name in props.stage_names:
        if stage_name not in check.stage_names:
            listed = ", ".join(check.stage_names[:_LISTED_STAGES]) or "none"
            raise InvalidProperty(
                STAGE_NAMES,
                stage_name,
                f"is not a stage of REST API {props.rest_api_id} (its stages: {listed})",
            )
        if refuse_canary and stage_name in check.canary_stages:
            raise InvalidProperty(STAGE_NAMES, stage_name, CANARY_PROBLEM)


def _require_cognito_authorizer(props: RegistrationProperties, deadline: Deadline) -> None:
    state = _read_authorizer(props, deadline)
    if state.type != COGNITO_USER_POOLS:
        raise InvalidProperty(
            AUTHORIZER_ID,
            props.authorizer_id,
            f"is an authorizer of type {state.type}; it must be {COGNITO_USER_POOLS}",
        )


def _require_user_pool(props: RegistrationProperties, deadline: Deadline) -> None:
    """Pools of this account are checked; other accounts' pools cannot be read from here
    (API Gateway's cross-account authorizers still accept them)."""
    pool = props.user_pool_arn
    if not cognito.pool_exists(pool, deadline):
        raise InvalidProperty(USER_POOL_ARN, str(pool), "names no user pool: it does not exist")


def _read_authorizer(props: RegistrationProperties, deadline: Deadline) -> AuthorizerState:
    api = ApiGateway(props.rest_api_id, props.authorizer_id)
    try:
        return api.authorizer(deadline)
    except NotFound:
        pass
    # Tell which of the two is missing: one more read, on the failure path only.
    if not api.has_rest_api(deadline):
        raise InvalidProperty(
            REST_API_ID, props.rest_api_id, "names no REST API in this account and region"
        )
    raise InvalidProperty(
        AUTHORIZER_ID,
        props.authorizer_id,
        f"names no authorizer of REST API {props.rest_api_id}",
    )
