"""Faults on every call the function makes: transient ones are retried; a lasting outage is
answered FAILED before the deadline, naming the call and the error, and the rollback leaves the
authorizer as it was. (Lasting congestion, 409 or 429, is waited out past the invocation
instead: see test_polling.)"""

from __future__ import annotations

import pytest
from conftest import TIME_SCALE, World
from support.api_gateway import OUTAGE_MESSAGE

from demo.world import REGISTRATION
from localaws.cloudformation.stacks import Exchange
from localaws.middleware.faults import TransientKind

# (operation, service) of every call on the Create and Delete paths.
CALLS = [
    ("DescribeUserPool", "cognito-idp"),
    ("GetAuthorizer", "apigateway"),
    ("GetStages", "apigateway"),
    ("UpdateAuthorizer", "apigateway"),
    ("CreateDeployment", "apigateway"),
    ("FlushStageAuthorizersCache", "apigateway"),
]
DELETE_CALLS = [call for call in CALLS if call[0] != "DescribeUserPool"]
# A function timeout (model seconds) for tests that wait for the function to give up.
SHORT_TIMEOUT = 20.0


def outage(world: World, operation: str, service: str = "apigateway") -> None:
    """The call answers 500 until the fault is cleared."""
    code = "InternalErrorException" if service == "cognito-idp" else "InternalFailure"
    world.aws.control_plane.inject(operation, 500, code, OUTAGE_MESSAGE, service=service)


@pytest.mark.parametrize("kind", ["conflict", "throttle", "internal"])
@pytest.mark.parametrize(("operation", "service"), CALLS)
def test_a_transient_failure_on_create_is_retried(
    world: World, operation: str, service: str, kind: TransientKind
) -> None:
    pool = world.tenant_pool("acme")
    fault = world.aws.control_plane.inject_transient(operation, kind, times=2, service=service)

    stack = world.create_tenant("tenant-acme", pool)

    assert stack.status == "CREATE_COMPLETE", stack.exchanges[0].reason
    assert fault.fired == 2
    assert world.provider_arns().count(pool) == 1
    assert world.live_everywhere(pool)


@pytest.mark.parametrize("kind", ["conflict", "throttle", "internal"])
@pytest.mark.parametrize(("operation", "service"), DELETE_CALLS)
def test_a_transient_failure_on_delete_is_retried(
    world: World, operation: str, service: str, kind: TransientKind
) -> None:
    pool = world.tenant_pool("acme")
    world.create_tenant("tenant-acme", pool)
    fault = world.aws.control_plane.inject_transient(operation, kind, times=2, service=service)

    stack = world.cloudformation.delete_stack("tenant-acme")

    assert stack.status == "DELETE_COMPLETE", stack.exchanges[-1].reason
    assert fault.fired == 2
    assert world.provider_arns() == [world.api.operators_pool_arn]
    assert world.gone_everywhere(pool)


def clear_faults_after(world: World, request_type: str) -> None:
    """The fault lasts for one request; CloudFormation's next one finds AWS healthy again."""

    def clear(exchange: Exchange) -> None:
        if exchange.request_type == request_type:
            world.aws.control_plane.clear()

    world.cloudformation.on_exchange = clear


@pytest.mark.parametrize(("operation", "service"), CALLS)
def test_a_permanent_failure_answers_failed_in_time_and_the_rollback_restores_the_authorizer(
    world: World, operation: str, service: str
) -> None:
    world.cloudformation.function.timeout = SHORT_TIMEOUT  # type: ignore[attr-defined]
    pool = world.tenant_pool("acme")
    before = world.provider_arns()
    outage(world, operation, service)
    clear_faults_after(world, "Create")

    stack = world.create_tenant("tenant-acme", pool)

    create, rollback = stack.exchanges
    assert create.status == "FAILED"
    assert create.reason.startswith(f"{operation} failed after ")
    assert f"Internal{'Error' if service == 'cognito-idp' else 'Failure'}" in create.reason
    assert OUTAGE_MESSAGE in create.reason
    # Answered by the function itself, with time to spare, not by crhelper's timeout timer.
    assert create.seconds < SHORT_TIMEOUT * TIME_SCALE
    assert "Execution timed out" not in create.reason
    assert rollback.request_type == "Delete"
    assert rollback.status == "SUCCESS"
    assert stack.status == "ROLLBACK_COMPLETE"
    assert world.provider_arns() == before
    assert world.gone_everywhere(pool)


def test_a_create_that_changed_the_authorizer_answers_failed_with_its_deterministic_id(
    world: World,
) -> None:
    world.cloudformation.function.timeout = SHORT_TIMEOUT  # type: ignore[attr-defined]
    pool = world.tenant_pool("acme")
    outage(world, "CreateDeployment")
    clear_faults_after(world, "Create")

    stack = world.create_tenant("tenant-acme", pool)

    create, rollback = stack.exchanges
    expected_id = f"{world.api.rest_api_id}:{world.api.authorizer_id}:{pool}"
    assert create.physical_id == expected_id
    assert rollback.event["PhysicalResourceId"] == expected_id
    assert world.provider_arns() == [world.api.operators_pool_arn]


def test_a_create_refused_before_its_owner_is_recorded_answers_with_its_registrations_id(
    world: World,
) -> None:
    world.cloudformation.function.timeout = SHORT_TIMEOUT  # type: ignore[attr-defined]
    outage(world, "GetStages")
    clear_faults_after(world, "Create")
    pool = world.tenant_pool("acme")

    stack = world.create_tenant("tenant-acme", pool)

    create, rollback = stack.exchanges
    # The same id whichever invocation of the request fails: the rollback Delete finds every
    # owner the request may have recorded (here none).
    assert create.physical_id == f"{world.api.rest_api_id}:{world.api.authorizer_id}:{pool}"
    assert rollback.status == "SUCCESS"
    assert world.provider_arns() == [world.api.operators_pool_arn]
    assert world.owners() == {}


def test_a_delete_that_cannot_publish_fails_and_its_retry_publishes_the_removal(
    world: World,
) -> None:
    world.cloudformation.function.timeout = SHORT_TIMEOUT  # type: ignore[attr-defined]
    pool = world.tenant_pool("acme")
    world.create_tenant("tenant-acme", pool)
    outage(world, "CreateDeployment")

    stack = world.cloudformation.delete_stack("tenant-acme")

    assert stack.status == "DELETE_FAILED"
    assert stack.exchanges[-1].reason.startswith("CreateDeployment failed after ")
    # The removal is recorded and made, but not yet served.
    assert world.owners() == {}
    assert world.provider_arns() == [world.api.operators_pool_arn]
    assert world.live_everywhere(pool)

    world.aws.control_plane.clear()
    stack = world.cloudformation.delete_stack("tenant-acme")

    assert stack.status == "DELETE_COMPLETE"
    assert world.gone_everywhere(pool)


def test_an_update_that_cannot_publish_its_new_pool_takes_the_registration_back(
    world: World,
) -> None:
    old, new = world.tenant_pool("acme-v1"), world.tenant_pool("acme-v2")
    world.create_tenant("tenant-acme", old)
    world.cloudformation.function.timeout = SHORT_TIMEOUT  # type: ignore[attr-defined]
    outage(world, "CreateDeployment")
    clear_faults_after(world, "Update")

    stack = world.cloudformation.update_stack(
        "tenant-acme", {REGISTRATION: world.registration(new)}
    )

    failed = stack.exchanges[1]
    assert failed.status == "FAILED"
    assert failed.reason.startswith("CreateDeployment failed")
    assert stack.status == "UPDATE_ROLLBACK_COMPLETE"
    assert world.provider_arns() == [world.api.operators_pool_arn, old]
    assert set(world.owners()) == {old}
    assert world.live_everywhere(old)
    assert world.gone_everywhere(new)
