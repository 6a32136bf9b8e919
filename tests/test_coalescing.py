"""Coalesced publishing on the quota model: a registration whose change is contained in a
deployment made after it, by anyone, does not deploy again, and no registration answers SUCCESS
before every stage it names serves a deployment that includes its change.

Sixteen tenants at once, some naming both stages and some only ``dev``, on API Gateway's quotas
(CreateDeployment once per 5 s per account, 10 calls/s with a burst of 40, 409 on overlapping
changes). Time runs ten times faster for the model and the function alike.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest
from conftest import World, template_function

from demo.world import REGISTRATION, registrar_cloudformation
from localaws.cloudformation.stacks import Exchange, LambdaService, LocalCloudFormation, Stack

TENANTS = 16
DEV_ONLY = 4  # the first four name only dev
TIME_SCALE = 0.1
FUNCTION_TIMEOUT = 900.0


@pytest.fixture
def cloudformation(world: World, aws_environment: dict[str, str]) -> Iterator[LocalCloudFormation]:
    config = template_function(
        aws_environment, time_scale=TIME_SCALE, timeout=FUNCTION_TIMEOUT, log_level="WARNING"
    )
    with LambdaService(config) as service:
        service.prewarm(TENANTS)
        yield registrar_cloudformation(
            service, world.receiver, service_timeout=FUNCTION_TIMEOUT * TIME_SCALE + 60
        )


class LiveAtAnswer:
    """What each stage serves, looked at as each answer arrives. In a batch of creations only
    (or of deletions only) what a stage serves only grows (or only shrinks), so a pool served
    now was served when the answer was sent."""

    def __init__(self, world: World, stages_of: dict[str, list[str]], pools: dict[str, str]):
        self.world = world
        self.stages_of = stages_of
        self.pools = pools
        self.problems: list[str] = []
        self._lock = threading.Lock()

    def __call__(self, exchange: Exchange) -> None:
        if exchange.status != "SUCCESS":
            return
        pool = self.pools[exchange.stack_name]
        for stage in self.stages_of[exchange.stack_name]:
            served = self.world.served(stage) or ()
            wrong = (pool not in served) if exchange.request_type == "Create" else (pool in served)
            if wrong:
                with self._lock:
                    self.problems.append(
                        f"{exchange.request_type} of {exchange.stack_name} answered SUCCESS "
                        f"while stage {stage} served {sorted(served)}"
                    )


def all_at_once(names: list[str], action: Callable[[str], Stack]) -> list[Stack]:
    with ThreadPoolExecutor(max_workers=len(names)) as pool:
        return list(pool.map(action, names))


def test_a_batch_shares_a_few_deployments_and_every_success_is_live_on_its_stages(
    world: World, cloudformation: LocalCloudFormation
) -> None:
    names = [f"tenant-{n:02d}" for n in range(TENANTS)]
    pools = {name: world.tenant_pool(name) for name in names}
    stages_of = {
        name: ["dev"] if index < DEV_ONLY else list(world.api.stage_names)
        for index, name in enumerate(names)
    }
    check = LiveAtAnswer(world, stages_of, pools)
    cloudformation.on_exchange = check
    world.aws.control_plane.enable_model(time_scale=TIME_SCALE)

    created = all_at_once(
        names,
        lambda name: cloudformation.create_stack(
            name, {REGISTRATION: world.registration(pools[name], StageNames=stages_of[name])}
        ),
    )

    assert [s.name for s in created if s.status != "CREATE_COMPLETE"] == []
    assert check.problems == []
    deployments = [c for c in world.calls() if c.operation == "CreateDeployment"]
    accepted = [c for c in deployments if 200 <= c.status < 300]
    # The seed's sequence would deploy each named stage for each registration: 28 here.
    # Coalesced, the batch needs about one deployment per 5 s window it spans.
    assert 1 <= len(accepted) <= 4, [c.status for c in deployments]
    # One deployment serves both stages: the second is pointed at it, not deployed again.
    assert any(c.operation == "UpdateStage" for c in world.calls())
    assert all(world.live_everywhere(pool) for pool in pools.values())

    world.aws.control_plane.refill()  # a quiet spell between the batches
    deleted = all_at_once(names, cloudformation.delete_stack)

    assert [s.name for s in deleted if s.status != "DELETE_COMPLETE"] == []
    assert check.problems == []
    all_accepted = [
        c for c in world.calls() if c.operation == "CreateDeployment" and 200 <= c.status < 300
    ]
    assert 1 <= len(all_accepted) - len(accepted) <= 4
    assert world.provider_arns() == [world.api.operators_pool_arn]
    assert all(world.gone_everywhere(pool) for pool in pools.values())
