"""Stress: more than fifty mixed events at once, each in its own Lambda execution environment
(process), against an API Gateway that answers 409 to overlapping changes and throttles
CreateDeployment (once per 5 s per account) and every call (10/s, burst 40), time running
ten times faster. Creates, pooled-tier registrations, deletes, renames, moves and replays
interleave; at the end the invariant holds and no valid event was answered FAILED."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor

import pytest
from conftest import World, template_function
from support.invariants import assert_invariant

from demo.world import REGISTRATION, registrar_cloudformation
from localaws.awslambda.runtime import InvocationResult
from localaws.cloudformation.records import RECORDS
from localaws.cloudformation.stacks import Exchange, LambdaService, LocalCloudFormation, Stack

TIME_SCALE = 0.1  # see test_concurrency: CPU time on two cores must stay small in model time
FUNCTION_TIMEOUT = 900.0  # template.yaml's, in model seconds
OWN_TENANTS = 24  # each with its own pool
POOLED_TENANTS = 10  # sharing one pool


@pytest.fixture
def pooled_tier_pool(world: World) -> str:
    # Listed in SharedUserPoolArns before the function starts, as template.yaml passes it.
    return world.shared_pool("pooled-tier")


@pytest.fixture
def cloudformation(
    world: World, aws_environment: dict[str, str], pooled_tier_pool: str
) -> Iterator[LocalCloudFormation]:
    config = template_function(aws_environment, time_scale=TIME_SCALE, timeout=FUNCTION_TIMEOUT)
    with LambdaService(config) as service:
        yield registrar_cloudformation(
            service, world.receiver, service_timeout=FUNCTION_TIMEOUT * TIME_SCALE + 60
        )


def at_once(actions: Sequence[Callable[[], object]]) -> list[object]:
    with ThreadPoolExecutor(max_workers=len(actions)) as pool:
        return [future.result() for future in [pool.submit(action) for action in actions]]


def test_fifty_mixed_events_at_once_keep_the_invariant_with_no_failure(
    world: World, cloudformation: LocalCloudFormation, pooled_tier_pool: str
) -> None:
    cfn = cloudformation
    own = {f"tenant-{n:02d}": world.tenant_pool(f"own-{n:02d}") for n in range(OWN_TENANTS)}
    shared = pooled_tier_pool
    pooled = [f"pooled-{n:02d}" for n in range(POOLED_TENANTS)]
    world.aws.control_plane.enable_model(time_scale=TIME_SCALE)

    # Launch: every tenant at once, a third of them on the pooled tier's shared pool.
    def create(name: str, pool: str) -> Callable[[], Stack]:
        return lambda: cfn.create_stack(name, {REGISTRATION: world.registration(pool)})

    at_once(
        [create(name, pool) for name, pool in own.items()]
        + [create(name, shared) for name in pooled]
    )

    # Then everything else at once: deletes (own and pooled), renames, moves, and replays of
    # events already answered (Lambda retries asynchronous invocations).
    names = list(own)
    deleted, renamed, moved = names[:8], names[8:12], names[12:16]
    replayed = [cfn.stacks[name].exchanges[0] for name in names[16:20]]
    replayed += [cfn.stacks[name].exchanges[0] for name in pooled[:2]]

    def rename(name: str) -> Callable[[], Stack]:
        return lambda: cfn.update_stack(name, {"PoolRegistration": world.registration(own[name])})

    def move(name: str) -> Callable[[], object]:
        # The pool moves as CloudFormation moves a resource: retained by its old stack,
        # imported by the new one, which registers it before the old stack goes.
        def run() -> object:
            RECORDS.retain(own[name].rsplit("/", 1)[-1])
            cfn.create_stack(f"{name}-moved", {REGISTRATION: world.registration(own[name])})
            return cfn.delete_stack(name)

        return run

    def replay(exchange: Exchange) -> Callable[[], InvocationResult]:
        # Delivered again after CloudFormation had its answer: nothing to wait for.
        return lambda: cfn.function.deliver(dict(exchange.event))

    at_once(
        [lambda name=name: cfn.delete_stack(name) for name in deleted + pooled[5:]]
        + [rename(name) for name in renamed]
        + [move(name) for name in moved]
        + [replay(exchange) for exchange in replayed]
    )

    exchanges = [e for stack in cfn.stacks.values() for e in stack.exchanges]
    failed = [(e.stack_name, e.request_type, e.reason) for e in exchanges if not e.succeeded]
    assert failed == []
    assert len(exchanges) >= 50
    for exchange in replayed:  # each replay changed nothing and sent nothing
        assert len(world.receiver.answers(str(exchange.event["RequestId"]))) == 1
    still_owned = [own[name] for name in names if name not in deleted] + [shared]
    assert_invariant(world, *still_owned)
    owners = world.owners()
    assert len(owners[shared]) == 5
    assert owners[own[renamed[0]]] == [f"{renamed[0]}/PoolRegistration"]
    assert owners[own[moved[0]]] == [f"{moved[0]}-moved/{REGISTRATION}"]
