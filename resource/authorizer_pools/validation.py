"""Checking that what the properties name exists, before anything changes.

Reads only. Returns the authorizer as read, so the change is planned from this read.
"""

from __future__ import annotations

from botocore.exceptions import ClientError

from . import authorizer, aws, publishing, retries
from .authorizer import AuthorizerState
from .errors import InvalidProperty
from .properties import (
    AUTHORIZER_ID,
    REST_API_ID,
    STAGE_NAMES,
    USER_POOL_ARN,
    RegistrationProperties,
)
from .settings import Settings
from .timing import Deadline

_LISTED_STAGES = 5


def validate(
    props: RegistrationProperties, settings: Settings, deadline: Deadline
) -> AuthorizerState:
    if props.user_pool_arn.account == settings.account_id:
        _require_user_pool(props, deadline)
    state = _read_authorizer(props, deadline)
    if state.type != authorizer.COGNITO_USER_POOLS:
        raise InvalidProperty(
            AUTHORIZER_ID,
            props.authorizer_id,
            f"is an authorizer of type {state.type}; it must be {authorizer.COGNITO_USER_POOLS}",
        )
    stages = publishing.existing_stages(props.rest_api_id, deadline)
    for stage_name in props.stage_names:
        if stage_name not in stages:
            listed = ", ".join(sorted(stages)[:_LISTED_STAGES]) or "none"
            raise InvalidProperty(
                STAGE_NAMES,
                stage_name,
                f"is not a stage of REST API {props.rest_api_id} (its stages: {listed})",
            )
    return state


def _require_user_pool(props: RegistrationProperties, deadline: Deadline) -> None:
    """Pools of this account are checked; other accounts' pools cannot be read from here
    (API Gateway's cross-account authorizers still accept them)."""
    pool = props.user_pool_arn
    try:
        retries.call(
            "DescribeUserPool",
            lambda: aws.cognito(pool.region).describe_user_pool(UserPoolId=pool.pool_id),
            deadline,
        )
    except ClientError as error:
        if retries.describe(error)[0] != "ResourceNotFoundException":
            raise
        raise InvalidProperty(
            USER_POOL_ARN, str(pool), "names no user pool: it does not exist"
        ) from None


def _read_authorizer(props: RegistrationProperties, deadline: Deadline) -> AuthorizerState:
    try:
        return authorizer.read(props.rest_api_id, props.authorizer_id, deadline)
    except ClientError as error:
        if not publishing.is_not_found(error):
            raise
    # Tell which of the two is missing: one more read, on the failure path only.
    try:
        retries.call(
            "GetRestApi",
            lambda: aws.apigateway().get_rest_api(restApiId=props.rest_api_id),
            deadline,
        )
    except ClientError as error:
        if not publishing.is_not_found(error):
            raise
        raise InvalidProperty(
            REST_API_ID, props.rest_api_id, "names no REST API in this account and region"
        ) from None
    raise InvalidProperty(
        AUTHORIZER_ID,
        props.authorizer_id,
        f"names no authorizer of REST API {props.rest_api_id}",
    )
