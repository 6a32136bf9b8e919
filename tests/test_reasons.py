"""FAILED reasons name the problem and the request, never what is not the tenant's own."""

from __future__ import annotations

import re

import pytest
from conftest import World

from authorizer_pools import reasons
from authorizer_pools.errors import REASON_LIMIT

# The fast tier (make test-fast): no local AWS, seconds in all.
pytestmark = pytest.mark.fast

OWN = "arn:aws:cognito-idp:us-east-1:123456789012:userpool/us-east-1_Own1"
DENIED = (
    "GetAuthorizer failed: AccessDeniedException: User: arn:aws:sts::123456789012:assumed-role/"
    "shared-authorizer-pools-FunctionRole-1A2B/fn is not authorized to perform: apigateway:GET "
    "on resource: arn:aws:apigateway:us-east-1::/restapis/a1b2c3d4e5/authorizers/x9y8z7"
)


def test_role_arns_and_account_ids_are_replaced_and_the_tenants_own_arn_kept() -> None:
    told = reasons.for_tenant(f"{DENIED}; pool {OWN}", own=[OWN], request_id="r-1")
    assert "assumed-role" not in told
    assert "FunctionRole" not in told
    assert OWN in told
    assert not re.search(r"\d{12}", told.replace(OWN, ""))
    assert told.startswith("GetAuthorizer failed: AccessDeniedException: User: <an ARN> is not")
    assert told.endswith("(request r-1: details in the function's log)")


def test_a_long_reason_keeps_its_beginning_and_the_request_id() -> None:
    told = reasons.for_tenant("UserPoolArn 'x' " + "y" * 400, own=[], request_id="r-2")
    assert len(told) <= REASON_LIMIT
    assert told.startswith("UserPoolArn 'x' ")
    assert told.endswith("(request r-2: details in the function's log)")


def test_a_failure_that_quotes_the_role_reaches_the_tenant_without_it(world: World) -> None:
    pool = world.tenant_pool("acme")
    world.aws.control_plane.inject(
        "GetAuthorizer",
        403,
        "AccessDeniedException",
        DENIED.split("AccessDeniedException: ", 1)[1],
        service="apigateway",
    )
    stack = world.create_tenant("tenant-acme", pool)

    create = stack.exchanges[0]
    assert create.status == "FAILED"
    assert create.reason.startswith("GetAuthorizer failed: AccessDeniedException"), create.reason
    assert "assumed-role" not in create.reason
    assert not re.search(r"\d{12}", create.reason.replace(pool, ""))
    request_id = re.search(r"\(request ([0-9a-f-]+):", create.reason)
    assert request_id, create.reason
    # The whole message is in the log line of that request, for the operator.
    assert "assumed-role" in create.logs
    assert request_id.group(1) in create.logs


def test_an_internal_error_names_no_exception_class(world: World) -> None:
    stack = world.create_tenant("tenant-acme", world.tenant_pool("acme"), StageNames=7)
    reason = stack.exchanges[0].reason
    assert "Error" not in reason.split(" (request ")[0] or reason.startswith("StageNames")


def test_the_tenants_own_value_is_quoted_whole_even_when_it_looks_like_an_arn() -> None:
    value = "arn:aws:cognito-idp:us-east-1:123456789012:userpool/not a pool"
    message = f"UserPoolArn {value!r} is not a Cognito user pool ARN"
    told = reasons.for_tenant(message, own=[value], request_id="r-3")
    assert told.startswith(f"UserPoolArn {value!r} is not")
