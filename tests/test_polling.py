"""Past Lambda's 900 s: when API Gateway stays busy longer than one invocation can wait, the
request is not answered yet; crhelper's polling (an EventBridge rule) invokes the function
again every minute until the change is live, or the ServiceTimeout draws near. Time runs
twenty times faster, for the model, the function and the schedules alike."""

from __future__ import annotations

import io
import threading
import zipfile
from collections.abc import Iterator

import boto3
import pytest
from conftest import REGISTRATION, World, template_function
from test_ownership import assert_invariant

from localaws.cloudformation import LambdaService, LocalCloudFormation
from localaws.eventbridge import Schedules

TIME_SCALE = 0.05
FUNCTION_TIMEOUT = 60.0  # model seconds: a busy spell of minutes outlasts one invocation
SERVICE_TIMEOUT = 3600.0


@pytest.fixture
def function(world: World, aws_environment: dict[str, str]) -> Iterator[LambdaService]:
    config = template_function(aws_environment, time_scale=TIME_SCALE, timeout=FUNCTION_TIMEOUT)
    # crhelper lets the polling rule invoke the function (lambda:AddPermission): the function
    # must exist in the local Lambda too.
    role = boto3.client("iam").create_role(
        RoleName="function-role",
        AssumeRolePolicyDocument='{"Version": "2012-10-17", "Statement": []}',
    )["Role"]["Arn"]
    code = io.BytesIO()
    with zipfile.ZipFile(code, "w") as archive:
        archive.writestr("stub.py", "def handler(event, context):\n    return None\n")
    boto3.client("lambda").create_function(
        FunctionName=config.function_name,
        Runtime="python3.12",
        Role=role,
        Handler="stub.handler",
        Code={"ZipFile": code.getvalue()},
    )
    with LambdaService(config) as service:
        yield service


def busy_for(world: World, seconds: float) -> threading.Timer:
    """Another team's deployments hold the account's CreateDeployment slot for a while."""
    world.aws.control_plane.inject(
        "CreateDeployment",
        429,
        "TooManyRequestsException",
        "Too Many Requests",
        headers={"Retry-After": "5"},
        service="apigateway",
    )
    timer = threading.Timer(seconds * TIME_SCALE, world.aws.control_plane.clear)
    timer.start()
    return timer


def test_a_registration_outlasting_an_invocation_is_finished_by_polling(
    world: World, function: LambdaService
) -> None:
    cloudformation = LocalCloudFormation(
        function, world.receiver, service_timeout=SERVICE_TIMEOUT * TIME_SCALE
    )
    pool = world.tenant_pool("acme")
    busy = busy_for(world, 150.0)

    with Schedules(function.arn, function.deliver, time_scale=TIME_SCALE) as schedules:
        stack = cloudformation.create_stack(
            "tenant-acme", {REGISTRATION: world.registration(pool, ServiceTimeout=SERVICE_TIMEOUT)}
        )
    busy.cancel()

    (create,) = stack.exchanges
    assert stack.status == "CREATE_COMPLETE", create.reason
    assert create.answers == 1
    # The first invocation handed over; polls finished it after the busy spell.
    assert create.seconds / TIME_SCALE > FUNCTION_TIMEOUT
    assert len(schedules.fired) >= 1
    assert create.data == {
        "UserPoolArn": pool,
        "RestApiId": world.api.rest_api_id,
        "AuthorizerId": world.api.authorizer_id,
    }
    assert_invariant(world, pool)
    # crhelper removed its rule and the permission once it answered.
    assert boto3.client("events").list_rules()["Rules"] == []


def test_when_the_service_timeout_draws_near_it_answers_failed_and_rolls_back_cleanly(
    world: World, function: LambdaService
) -> None:
    patience = 300.0
    cloudformation = LocalCloudFormation(
        function, world.receiver, service_timeout=patience * TIME_SCALE + 30
    )
    pool = world.tenant_pool("acme")
    busy = busy_for(world, 10_000.0)

    def calm_before_the_rollback(exchange: object) -> None:
        world.aws.control_plane.clear()

    cloudformation.on_exchange = calm_before_the_rollback
    with Schedules(function.arn, function.deliver, time_scale=TIME_SCALE):
        stack = cloudformation.create_stack(
            "tenant-acme", {REGISTRATION: world.registration(pool, ServiceTimeout=patience)}
        )
    busy.cancel()

    create, rollback = stack.exchanges
    assert create.status == "FAILED"
    assert "ServiceTimeout" in create.reason
    assert create.seconds / TIME_SCALE < patience
    assert create.physical_id.endswith(pool)  # the rollback Delete can take it back
    assert rollback.status == "SUCCESS"
    assert stack.status == "ROLLBACK_COMPLETE"
    assert_invariant(world)
