"""The registrar acts only for CloudFormation: a request is checked against CloudFormation's
own record of the resource it names before anything changes, its answer goes only to
CloudFormation's response bucket, and an event that is not a request never reaches crhelper.

A forgery here is what anyone allowed ``lambda:InvokeFunction`` on the ServiceToken (every
tenant pipeline) can send: an event shaped like CloudFormation's, naming any stack. Each one
changes nothing, gets no answer, logs a WARNING saying what did not match, and counts in
``ForgedRequests``.
"""

from __future__ import annotations

import socket
import time
import uuid
from collections.abc import Iterator, Mapping
from typing import Any

import pytest
from conftest import TIME_SCALE, World, log_lines, template_function

from authorizer_pools.registry import Registry
from authorizer_pools.request import parse
from authorizer_pools.timing import Deadline
from demo.shared_api import REGISTRY_TABLE
from demo.world import REGISTRATION, registrar_cloudformation
from localaws.awslambda.runtime import InvocationResult
from localaws.cloudformation.stacks import LambdaService, RequestType, Stack

FORGED = "ForgedRequests"


def forge(
    world: World, kind: RequestType, stack: Stack, properties: Mapping[str, Any], **more: Any
) -> dict[str, Any]:
    """An event as CloudFormation shapes it, which CloudFormation never sent."""
    return world.cloudformation.build_event(kind, stack, REGISTRATION, properties, **more)


def invoke(world: World, event: Mapping[str, Any]) -> InvocationResult:
    """A direct invoke of the function: what lambda:InvokeFunction on the ServiceToken allows."""
    return world.cloudformation.function.deliver(dict(event))


def refused(result: InvocationResult) -> list[dict[str, Any]]:
    lines = [line for line in log_lines(result.logs) if line.get("level") == "WARNING"]
    return [line["message"] for line in lines if line["message"].get("outcome") == "refused"]


def forged_count(result: InvocationResult) -> int:
    return sum(f'"{FORGED}": 1' in line for line in result.logs.splitlines())


def assert_refused(world: World, result: InvocationResult, event: Mapping[str, Any]) -> str:
    """Nothing answered, one WARNING and one count: what did not match."""
    time.sleep(0.2)
    assert world.receiver.answers(str(event["RequestId"])) == []
    (line,) = refused(result)
    assert forged_count(result) == 1
    return str(line["mismatch"])


def registry_of(world: World) -> Registry:
    return Registry(REGISTRY_TABLE, world.api.rest_api_id, world.api.authorizer_id, Deadline(1e18))


@pytest.fixture
def acme(world: World) -> tuple[Stack, str, str]:
    """Tenant acme, registered; its user is let in on every stage."""
    pool = world.tenant_pool("acme")
    stack = world.create_tenant("tenant-acme", pool)
    assert stack.status == "CREATE_COMPLETE"
    token = world.sign_in(pool)
    assert world.answers(token) == world.everywhere(200)
    return stack, pool, token


def test_a_delete_naming_a_stack_that_is_not_being_deleted_changes_nothing(
    world: World, acme: tuple[Stack, str, str]
) -> None:
    stack, pool, token = acme
    before = world.snapshot()
    physical_id = stack.resources[REGISTRATION].physical_id

    event = forge(world, "Delete", stack, world.registration(pool), physical_id=physical_id)

    mismatch = assert_refused(world, invoke(world, event), event)
    assert "CREATE_COMPLETE" in mismatch
    assert world.snapshot() == before
    assert world.owners() == {pool: [f"tenant-acme/{REGISTRATION}"]}
    assert world.answers(token) == world.everywhere(200)


def test_a_create_naming_a_stack_cloudformation_never_made_changes_nothing(world: World) -> None:
    pool = world.tenant_pool("made-up")
    made_up = Stack("tenant-ghost", f"arn:aws:cloudformation:us-east-1:123456789012:stack/"
                    f"tenant-ghost/{uuid.uuid4()}")  # fmt: skip
    before = world.snapshot()

    event = forge(world, "Create", made_up, world.registration(pool))
    mismatch = assert_refused(world, invoke(world, event), event)

    assert "no such stack or resource" in mismatch
    assert world.snapshot() == before
    assert world.owners() == {}


def test_a_forged_create_then_delete_cannot_remove_a_pool_nobody_registered(world: World) -> None:
    partner = world.tenant_pool("partner")
    world.apigateway().update_authorizer(
        restApiId=world.api.rest_api_id,
        authorizerId=world.api.authorizer_id,
        patchOperations=[{"op": "add", "path": "/providerARNs", "value": partner}],
    )
    world.redeploy_every_stage()
    stack = world.cloudformation.new_stack("tenant-evil")
    registration = world.registration(partner)

    create = forge(world, "Create", stack, registration)
    assert_refused(world, invoke(world, create), create)
    physical_id = f"{world.api.rest_api_id}:{world.api.authorizer_id}:{partner}"
    delete = forge(world, "Delete", stack, registration, physical_id=physical_id)
    world.cloudformation.phase(stack, "DELETE_IN_PROGRESS")  # its stack is even being deleted
    assert_refused(world, invoke(world, delete), delete)

    assert partner in world.provider_arns()
    assert world.owners() == {}


def test_forged_creates_leave_no_owner_behind(world: World) -> None:
    stacks = [world.cloudformation.new_stack(f"tenant-f{n}") for n in range(25)]
    for stack in stacks:
        world.cloudformation.phase(stack, "CREATE_COMPLETE")
    for n, stack in enumerate(stacks):
        event = forge(world, "Create", stack, world.registration(world.tenant_pool(f"f{n}")))
        assert_refused(world, invoke(world, event), event)
    assert world.owners() == {}
    assert world.provider_arns() == [world.api.operators_pool_arn]


def test_a_request_of_another_account_or_region_is_refused_without_asking(world: World) -> None:
    pool = world.tenant_pool("acme")
    for stack_id in (
        f"arn:aws:cloudformation:us-east-1:999999999999:stack/tenant-acme/{uuid.uuid4()}",
        f"arn:aws:cloudformation:eu-west-1:123456789012:stack/tenant-acme/{uuid.uuid4()}",
        "tenant-acme",
    ):
        event = forge(world, "Create", Stack("tenant-acme", stack_id), world.registration(pool))
        mismatch = assert_refused(world, invoke(world, event), event)
        assert "account" in mismatch or "not a CloudFormation stack ARN" in mismatch
    assert not [c for c in world.calls() if c.service == "cloudformation"]
    assert world.owners() == {}


def test_a_request_whose_type_is_not_cloudformations_record_is_refused(world: World) -> None:
    pool = world.tenant_pool("acme")
    stack = world.cloudformation.new_stack("tenant-acme")
    event = forge(world, "Create", stack, world.registration(pool))
    world.cloudformation.begin({**event, "ResourceType": "AWS::SNS::Topic"})

    mismatch = assert_refused(world, invoke(world, event), event)

    assert "AWS::SNS::Topic" in mismatch
    assert world.owners() == {}


def test_an_update_naming_another_physical_id_is_refused(
    world: World, acme: tuple[Stack, str, str]
) -> None:
    stack, pool, _ = acme
    other = world.tenant_pool("other")
    event = forge(
        world,
        "Update",
        stack,
        world.registration(other),
        physical_id=f"{world.api.rest_api_id}:{world.api.authorizer_id}:{other}",
        old_properties=world.registration(pool),
    )
    world.cloudformation.phase(stack, "UPDATE_IN_PROGRESS")

    mismatch = assert_refused(world, invoke(world, event), event)

    assert "another physical id" in mismatch
    assert world.owners() == {pool: [f"tenant-acme/{REGISTRATION}"]}


def test_a_continuation_the_function_did_not_start_changes_nothing(world: World) -> None:
    pool = world.tenant_pool("acme")
    stack = world.cloudformation.new_stack("tenant-acme")
    event = forge(world, "Create", stack, world.registration(pool))
    world.cloudformation.begin(event)
    for marker in ({"attempt": 1, "nonce": "guessed"}, {"attempt": 3, "nonce": "x" * 32}):
        forged = {**event, "AuthorizerPoolsContinuation": marker}
        mismatch = assert_refused(world, invoke(world, forged), forged)
        assert "continuation" in mismatch
    assert world.owners() == {}


# -- the answer goes to CloudFormation only -----------------------------------------------------


@pytest.fixture
def listener() -> Iterator[socket.socket]:
    """A TCP port that takes connections and never answers."""
    server = socket.create_server(("127.0.0.1", 0))
    server.settimeout(0.1)
    yield server
    server.close()


def connected(server: socket.socket) -> bool:
    try:
        server.accept()[0].close()
    except TimeoutError:
        return False
    return True


@pytest.mark.parametrize(
    "url",
    [
        "https://localhost:{port}/answer?X-Amz-Signature=x",
        "http://cloudformation-custom-resource-response-useast1.s3.amazonaws.com/k?X-Amz-Date=1",
        "https://127.0.0.1:{port}/cloudformation-custom-resource-response-useast1/k",
        "https://attacker.example.com/collect",
        "https://cloudformation-custom-resource-response-euwest1.s3.amazonaws.com/k",
    ],
)
def test_an_answer_is_never_sent_anywhere_but_cloudformations_bucket(
    world: World, url: str, listener: socket.socket
) -> None:
    port = listener.getsockname()[1]
    pool = world.tenant_pool("acme")
    stack = world.cloudformation.new_stack("tenant-acme")
    event = forge(world, "Create", stack, world.registration(pool))
    event["ResponseURL"] = url.format(port=port)
    world.cloudformation.begin(event)  # even a request CloudFormation really has in progress

    started = time.monotonic()
    result = invoke(world, event)

    assert time.monotonic() - started < 5
    assert "ResponseURL" in assert_refused(world, result, event)
    assert world.owners() == {}
    assert not connected(listener)
    assert world.receiver.rejected() == []


def test_an_unreachable_response_url_is_tried_a_few_times_not_for_ever(
    world: World, monkeypatch: pytest.MonkeyPatch, listener: socket.socket
) -> None:
    port = listener.getsockname()[1]
    pool = world.tenant_pool("acme")
    stack = world.cloudformation.new_stack("tenant-acme")
    event = forge(world, "Create", stack, world.registration(pool))
    world.cloudformation.begin(event)
    # S3 accepts the connection and never answers.
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", f"https://127.0.0.1:{port}")
    monkeypatch.setattr("authorizer_pools.delivery.READ_SECONDS", 0.3)
    monkeypatch.setattr("authorizer_pools.delivery.CONNECT_SECONDS", 0.3)

    started = time.monotonic()
    result = invoke(world, event)

    assert time.monotonic() - started < 10  # crhelper's sender looped for the whole 900 s
    assert not result.ok  # the invocation fails: Lambda retries it, and the retry answers
    assert "AnswerNotDelivered" in str(result.error)
    lines = [line["message"] for line in log_lines(result.logs)]
    assert [line["outcome"] for line in lines if line.get("step") == "send"].count("retry") == 3
    monkeypatch.undo()
    retried = invoke(world, event)
    assert retried.ok
    (answer,) = world.receiver.answers(str(event["RequestId"]))
    assert answer.status == "SUCCESS"


def test_an_event_that_is_not_a_request_answers_no_earlier_request(
    world: World, aws_environment: dict[str, str]
) -> None:
    """The Lambda console's default test event, sent to a warm execution environment that
    served a registration just before."""
    config = template_function(aws_environment, time_scale=0.1, timeout=60)
    with LambdaService(config) as service:
        cloudformation = registrar_cloudformation(service, world.receiver, service_timeout=30)
        stack = cloudformation.create_stack(
            "tenant-acme", {REGISTRATION: world.registration(world.tenant_pool("acme"))}
        )
        (create,) = stack.exchanges
        assert create.succeeded

        result = service.deliver({"key1": "value1", "key2": "value2", "key3": "value3"})

        assert service.environments == 1  # the same warm environment
        assert result.ok
        time.sleep(0.2)
        assert len(world.receiver.answers(str(create.event["RequestId"]))) == 1
        assert "not-a-request" in result.logs


def test_every_legitimate_phase_of_a_stack_passes_the_check(world: World) -> None:
    """Create, update in place, replacement and its cleanup, rollback and its cleanup, delete,
    and the Delete after a failed Create: CloudFormation's record matches each."""
    first, second = world.tenant_pool("acme-1"), world.tenant_pool("acme-2")
    cfn = world.cloudformation
    cfn.create_stack("tenant-acme", {REGISTRATION: world.registration(first)})
    cfn.update_stack("tenant-acme", {REGISTRATION: world.registration(first, ServiceTimeout=900)})
    cfn.update_stack("tenant-acme", {REGISTRATION: world.registration(second)})
    cfn.update_stack(
        "tenant-acme", {REGISTRATION: world.registration(first)}, fail_after_resources=True
    )
    cfn.delete_stack("tenant-acme")
    failed = cfn.create_stack("tenant-typo", {REGISTRATION: world.registration(first, Typo="x")})

    exchanges = [*cfn.stacks["tenant-acme"].exchanges, *failed.exchanges]
    kinds = [(e.request_type, e.status) for e in exchanges]
    assert kinds == [
        ("Create", "SUCCESS"),
        ("Update", "SUCCESS"),
        ("Update", "SUCCESS"),  # replaced: a new physical id
        ("Delete", "SUCCESS"),  # the cleanup of the old id
        ("Update", "SUCCESS"),  # replaced again, then the stack fails
        ("Update", "SUCCESS"),  # the rollback
        ("Delete", "SUCCESS"),  # the rollback's cleanup
        ("Delete", "SUCCESS"),
        ("Create", "FAILED"),
        ("Delete", "SUCCESS"),  # the Delete after a failed Create
    ]
    assert not any(refused(delivery) for e in exchanges for delivery in e.deliveries)
    assert cfn.stacks["tenant-acme"].status == "DELETE_COMPLETE"
    assert failed.status == "ROLLBACK_COMPLETE"
    assert world.owners() == {}


def test_a_rollback_is_lenient_only_for_a_registration_the_failed_update_touched(
    world: World,
) -> None:
    """During UPDATE_ROLLBACK_IN_PROGRESS CloudFormation may not have marked a resource in
    progress when it sends its rollback Update, so one it updated in the failed update passes
    as UPDATE_COMPLETE or UPDATE_FAILED too; one the update never touched does not."""
    acme, other = world.tenant_pool("acme"), world.tenant_pool("offboarded")
    cfn = world.cloudformation
    stack = cfn.create_stack("tenant-acme", {REGISTRATION: world.registration(acme)})
    cfn.update_stack("tenant-acme", {REGISTRATION: world.registration(acme, StageNames=["dev"])})
    physical_id = stack.resources[REGISTRATION].physical_id
    time.sleep(0.05)
    cfn.phase(stack, "UPDATE_IN_PROGRESS")  # a later update, of another resource, fails
    cfn.phase(stack, "UPDATE_ROLLBACK_IN_PROGRESS")
    event = forge(
        world,
        "Update",
        stack,
        world.registration(other),
        physical_id=physical_id,
        old_properties=world.registration(acme, StageNames=["dev"]),
    )

    mismatch = assert_refused(world, invoke(world, event), event)

    assert "UPDATE_COMPLETE" in mismatch
    assert other not in world.owners()


def test_a_continuation_is_honoured_only_with_its_requests_own_event(world: World) -> None:
    """The nonce proves the function started a continuation; the event must still be the one
    its request was first seen with, so that a nonce read somewhere changes nothing else."""
    pool, victim = world.tenant_pool("acme"), world.tenant_pool("victim")
    victims = world.create_tenant("tenant-victim", victim)
    stack = world.cloudformation.new_stack("tenant-acme")
    event = forge(world, "Create", stack, world.registration(pool))
    world.cloudformation.begin(event)
    request = parse(event)
    requests = registry_of(world).requests
    requests.seen(
        request.request_id,
        started=time.time() / TIME_SCALE,  # on the function's (compressed) clock
        stack_id=request.stack_id,
        logical_id=request.logical_id,
        digest=request.digest,
        request_type=request.type,
        pool=pool,
    )
    nonce = requests.claim(request.request_id, 0)
    assert nonce is not None
    marker = {"AuthorizerPoolsContinuation": {"attempt": 1, "nonce": nonce}}
    another = forge(
        world,
        "Delete",
        victims,
        world.registration(victim),
        physical_id=victims.resources[REGISTRATION].physical_id,
    )
    forged = {**another, "RequestId": event["RequestId"], **marker}

    mismatch = assert_refused(world, invoke(world, forged), forged)

    assert "another event" in mismatch
    assert world.owners() == {victim: [f"tenant-victim/{REGISTRATION}"]}
    honoured = invoke(world, {**event, **marker})
    assert refused(honoured) == []
    assert world.owners()[pool] == [f"tenant-acme/{REGISTRATION}"]
