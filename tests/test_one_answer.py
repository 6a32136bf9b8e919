"""An answer once recorded is the answer, whatever invocation comes later, and it comes in time.

Lambda delivers CloudFormation's event and every continuation at least once, sometimes late,
and retries an invocation that failed; an invocation can die anywhere. Whatever the order, a
request gets one answer (or identical ones) before its ServiceTimeout, no owner is live after
FAILED and none is lost after SUCCESS. Time runs faster (conftest's TIME_SCALE) for the model
and the function.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from conftest import TIME_SCALE, World, log_lines, template_function
from support.crashes import Crasher
from support.storage import owner_write, registry_write, touches_requests
from support.waiting import busy_for, on_continuation, settled

from authorizer_pools import aws, tenure
from authorizer_pools.registry import Registry
from authorizer_pools.timing import Deadline
from demo.shared_api import REGISTRY_TABLE
from demo.world import REGISTRATION, registrar_cloudformation
from localaws.cloudformation.stacks import LambdaService, LocalCloudFormation

MARKER = "AuthorizerPoolsContinuation"
THROTTLED = (
    400,
    "ProvisionedThroughputExceededException",
    "The level of configured provisioned throughput for the table was exceeded.",
)


def identical(answers: list[Any]) -> bool:
    return len({(a.status, a.physical_resource_id, a.reason) for a in answers}) == 1


@pytest.fixture
def service(world: World, aws_environment: dict[str, str]) -> Iterator[LambdaService]:
    """The function in Lambda-like execution environments (one process each), so that two
    invocations can run at once and one can die."""
    config = template_function(aws_environment, time_scale=TIME_SCALE, timeout=60.0)
    with LambdaService(config) as started:
        world.aws.control_plane.lambda_async.attach(started, time_scale=TIME_SCALE)
        yield started


def cloudformation_for(
    world: World, service: LambdaService, patience: float
) -> LocalCloudFormation:
    return registrar_cloudformation(
        service,
        world.receiver,
        service_timeout=patience * TIME_SCALE + 30,
        lambda_async=world.aws.control_plane.lambda_async,
    )


def test_a_late_duplicate_never_takes_back_a_registration_that_answered_success(
    world: World,
) -> None:
    """Continuation 1 is delivered twice. One copy carries the request on, a later
    continuation goes live and answers SUCCESS; the other copy arrives only then, and meets
    DynamoDB throttling on its first reads of the request's record."""
    pool = world.tenant_pool("acme")
    plane = world.aws.control_plane
    plane.lambda_async.duplicate_next(1)
    answered = threading.Event()
    world.receiver.on_answer(lambda answer: answered.set())
    copies: list[Mapping[str, Any]] = []

    def late_copy(event: Mapping[str, Any]) -> None:
        if event.get(MARKER, {}).get("attempt") != 1:
            return
        copies.append(event)
        if len(copies) == 2:
            assert answered.wait(60)
            fault = plane.inject(*("GetItem", *THROTTLED), predicate=touches_requests,
                                 service="dynamodb")  # fmt: skip
            plane.inject(*("UpdateItem", *THROTTLED), predicate=touches_requests,
                         service="dynamodb")  # fmt: skip
            # The burst lasts longer than the copy's own retries, not than Lambda's.
            threading.Timer(90 * TIME_SCALE, plane.clear).start()
            assert fault

    on_continuation(world, late_copy)
    busy = busy_for(world, 100.0)
    stack = world.create_tenant("tenant-acme", pool)
    busy.cancel()
    settled(world)
    plane.clear()

    (create,) = stack.exchanges
    assert len(copies) >= 2  # and Lambda's retries of the late copy
    assert stack.status == "CREATE_COMPLETE", create.reason
    answers = world.receiver.answers(str(create.event["RequestId"]))
    assert {a.status for a in answers} == {"SUCCESS"}
    world.create_tenant("tenant-probe", world.tenant_pool("probe"))  # one more pass
    assert world.owners()[pool] == [f"tenant-acme/{REGISTRATION}"]
    assert world.live_everywhere(pool)


def test_a_crash_between_claiming_the_next_continuation_and_starting_it_is_carried_on(
    world: World, service: LambdaService
) -> None:
    """The invocation claims continuation 1 and dies before it invokes it (a hung Invoke runs
    into its timeout, or it runs out of memory). Lambda retries it; the retry finds 1 claimed
    but never started, and starts it."""
    pool = world.tenant_pool("acme")
    crasher = Crasher(world, service, registry_write("SET attempt = :next"))
    busy = busy_for(world, 100.0)
    patience = 600.0
    cloudformation = cloudformation_for(world, service, patience)

    stack = cloudformation.create_stack(
        "tenant-acme", {REGISTRATION: world.registration(pool, ServiceTimeout=patience)}
    )
    busy.cancel()
    settled(world)

    assert crasher.fired.is_set()
    (create,) = stack.exchanges
    assert stack.status == "CREATE_COMPLETE", create.reason
    assert create.seconds / TIME_SCALE < patience
    assert identical(world.receiver.answers(str(create.event["RequestId"])))
    assert world.live_everywhere(pool)


def test_the_give_up_answer_comes_before_the_service_timeout_whatever_the_function_timeout(
    world: World, aws_environment: dict[str, str]
) -> None:
    """The function's timeout is Lambda's maximum (900 s), acme's ServiceTimeout 120 s;
    another team holds the CreateDeployment quota for 300 s, and tenant globex (the default
    ServiceTimeout) waits too, so no pass can publish until the quota is free: acme's FAILED
    must not wait for one."""
    acme, globex = world.tenant_pool("acme"), world.tenant_pool("globex")
    config = template_function(aws_environment, time_scale=TIME_SCALE, timeout=900.0)
    patience = 120.0
    with LambdaService(config) as service:
        world.aws.control_plane.lambda_async.attach(service, time_scale=TIME_SCALE)
        cloudformation = cloudformation_for(world, service, 900.0)
        busy = busy_for(world, 300.0)
        with ThreadPoolExecutor(2) as threads:
            waiting = threads.submit(
                cloudformation.create_stack,
                "tenant-globex",
                {REGISTRATION: world.registration(globex)},
            )
            time.sleep(5 * TIME_SCALE)
            given_up = threads.submit(
                cloudformation.create_stack,
                "tenant-acme",
                {REGISTRATION: world.registration(acme, ServiceTimeout=patience)},
            )
            acme_stack, globex_stack = given_up.result(), waiting.result()
        busy.cancel()
        settled(world, 120)
    world.aws.control_plane.lambda_async.attach(world.cloudformation.function)

    create = acme_stack.exchanges[0]
    assert create.status == "FAILED"
    assert create.seconds / TIME_SCALE < patience - 5, create.seconds / TIME_SCALE
    assert identical(world.receiver.answers(str(create.event["RequestId"])))
    assert globex_stack.status == "CREATE_COMPLETE", globex_stack.exchanges[0].reason
    assert list(world.owners()) == [globex]
    assert world.gone_everywhere(acme)
    assert world.live_everywhere(globex)


def test_an_answer_that_cannot_be_recorded_is_not_sent_so_no_later_one_contradicts_it(
    world: World,
) -> None:
    """The first delivery decides (API Gateway refuses the pool: FAILED) but cannot record
    its answer while DynamoDB throttles; a duplicate delivery, once API Gateway accepts the
    pool, would decide SUCCESS. Only what is recorded is ever sent."""
    pool = world.tenant_pool("acme")
    plane = world.aws.control_plane
    # The batch, then the pool on its own: API Gateway refuses it, so the pass marks it.
    plane.inject(
        "UpdateAuthorizer", 400, "BadRequestException", "Invalid provider ARN", times=2,
        service="apigateway",
    )  # fmt: skip
    answer_writes = registry_write("SET answer")
    plane.inject(*("TransactWriteItems", *THROTTLED), predicate=answer_writes, service="dynamodb")
    plane.inject(*("UpdateItem", *THROTTLED), predicate=answer_writes, service="dynamodb")
    threading.Timer(100 * TIME_SCALE, plane.clear).start()
    stack = world.cloudformation.new_stack("tenant-acme")

    create = world.cloudformation.send(
        "Create", stack, REGISTRATION, world.registration(pool), deliveries=2
    )
    settled(world)

    answers = world.receiver.answers(str(create.event["RequestId"]))
    assert identical(answers), [(a.status, a.reason) for a in answers]
    if create.status == "SUCCESS":
        assert world.live_everywhere(pool)
    else:
        assert pool not in world.owners()


def test_no_call_outlives_the_lease_or_the_give_up_it_was_made_under(world: World) -> None:
    """Ruled out by construction, checked with every API Gateway read slow: a call started
    before a deadline ends before the deadline plus its longest attempt (connect and read
    timeouts), and the worker stops calling that long before its lease ends; the give-up's
    work stops that long before the give-up."""
    assert tenure.LEASE_MARGIN_SECONDS > aws.LONGEST_CALL_SECONDS
    pool = world.tenant_pool("acme")
    plane = world.aws.control_plane
    for operation in ("GetAuthorizer", "GetStages"):
        plane.inject_delay(operation, 9 * TIME_SCALE, times=None, service="apigateway")
    plane.inject(
        "CreateDeployment", 429, "TooManyRequestsException", "Too Many Requests",
        service="apigateway",
    )  # fmt: skip
    patience = 120.0

    stack = world.create_tenant("tenant-acme", pool, ServiceTimeout=patience)
    plane.clear()
    settled(world)

    create = stack.exchanges[0]
    assert create.status == "FAILED"
    assert create.seconds / TIME_SCALE < patience
    assert world.owners() == {}


def test_a_lease_not_released_only_delays_the_next_worker(world: World) -> None:
    """The release in the worker's ``finally`` has two seconds; when it fails, the lease
    expires by itself and the next request works then."""
    first, second = world.tenant_pool("acme"), world.tenant_pool("globex")
    world.aws.control_plane.inject(
        *("UpdateItem", 500, "InternalServerError", "Internal server error"),
        times=1,
        predicate=registry_write("REMOVE worker"),
        service="dynamodb",
    )
    assert world.create_tenant("tenant-acme", first).status == "CREATE_COMPLETE"
    started = time.monotonic()
    assert world.create_tenant("tenant-globex", second).status == "CREATE_COMPLETE"
    waited = (time.monotonic() - started) / TIME_SCALE
    assert waited < tenure.LEASE_SECONDS + 15
    assert world.live_everywhere(first)
    assert world.live_everywhere(second)


def test_a_duplicate_delivery_never_takes_the_lease_from_the_live_worker(
    world: World, service: LambdaService
) -> None:
    """Lambda delivers CloudFormation's event twice at once. The first copy is the worker,
    slow in CreateDeployment; the second copy is the same CloudFormation request."""
    pool = world.tenant_pool("acme")
    cloudformation = cloudformation_for(world, service, 600.0)
    stack = cloudformation.new_stack("tenant-acme")
    event = cloudformation.build_event("Create", stack, REGISTRATION, world.registration(pool))
    cloudformation.begin(event)
    world.aws.control_plane.inject_delay(
        "CreateDeployment", 20 * TIME_SCALE, times=1, service="apigateway"
    )

    def deliver(delay: float) -> Any:
        time.sleep(delay)
        return service.deliver(dict(event))

    with ThreadPoolExecutor(2) as threads:
        results = list(threads.map(deliver, (0.0, 10 * TIME_SCALE)))
    settled(world)

    lost = [
        line
        for result in results
        for line in log_lines(result.logs)
        if isinstance(line["message"], dict) and line["message"].get("outcome") == "lease-lost"
    ]
    assert lost == []
    assert identical(world.receiver.answers(str(event["RequestId"])))
    assert world.live_everywhere(pool)


def test_an_update_whose_first_invocation_died_never_leaves_its_new_pool_trusted_after_failed(
    world: World, service: LambdaService
) -> None:
    """Update A → B: the first invocation registers B and dies. Lambda's retry cannot read the
    request's record for a while (DynamoDB throttling)."""
    old, new = world.tenant_pool("acme-a"), world.tenant_pool("acme-b")
    cloudformation = cloudformation_for(world, service, 600.0)
    cloudformation.create_stack("tenant-acme", {REGISTRATION: world.registration(old)})
    plane = world.aws.control_plane
    crasher = Crasher(world, service, owner_write)

    def throttle_the_retry() -> None:
        crasher.fired.wait(60)
        plane.inject(*("UpdateItem", *THROTTLED), predicate=touches_requests, service="dynamodb")
        # Longer than Lambda's first retry of the invocation, shorter than its second.
        threading.Timer(150 * TIME_SCALE, plane.clear).start()

    threading.Thread(target=throttle_the_retry, daemon=True).start()
    stack = cloudformation.update_stack("tenant-acme", {REGISTRATION: world.registration(new)})
    settled(world)
    plane.clear()

    assert crasher.fired.is_set()
    update = stack.exchanges[1]
    assert identical(world.receiver.answers(str(update.event["RequestId"])))
    world.create_tenant("tenant-probe", world.tenant_pool("probe"))  # one more pass
    if update.status == "SUCCESS":
        assert world.live_everywhere(new)
    else:
        assert new not in world.owners(), "B's owner is live after FAILED"
        assert world.gone_everywhere(new), "B is still trusted after FAILED"
    assert world.live_everywhere(old) or update.status == "SUCCESS"


def test_a_dead_invocations_late_call_never_holds_its_retrys_lease(world: World) -> None:
    """Lambda's retry of an invocation may carry the same aws_request_id: the holder is each
    invocation's own (the request, the invocation and a token), so the dead one's renewal,
    landing late, matches nothing."""
    registry = Registry(
        REGISTRY_TABLE, world.api.rest_api_id, world.api.authorizer_id, Deadline(1e18)
    )
    dead, retry = "request/invocation/0a1b", "request/invocation/2c3d"
    now = time.time()
    assert registry.lease.take(dead, now, now + 1)
    assert registry.lease.take(retry, now + 2, now + 60)  # the dead one's lease ran out

    assert not registry.lease.renew(dead, now + 120)
    assert registry.lease.bump(dead) is None
    assert registry.lease.status(consistent=True).worker_until == pytest.approx(now + 60, abs=1)


# -- a ServiceTimeout too short to work in
# A valid but tiny ServiceTimeout (properties accept 1 to 3,600 s) leaves no time to work: the
# Create answers FAILED, and its rollback's Delete, which has nothing to remove, still completes,
# so the stack never ends ROLLBACK_FAILED. (A regression found by an adversarial review.)


def test_a_service_timeout_too_short_to_work_in_still_lets_the_rollback_complete(
    world: World,
) -> None:
    pool = world.tenant_pool("acme")
    stack = world.create_tenant("tenant-acme", pool, ServiceTimeout=5)
    # Nothing was busy and nothing was registered: the rollback must at least be able to end.
    assert stack.status == "ROLLBACK_COMPLETE"
    again = world.cloudformation.delete_stack("tenant-acme")
    assert again.status == "DELETE_COMPLETE"
