"""Twenty tenant stacks at once, each event in its own Lambda execution environment (process),
against an API Gateway that answers 409 to overlapping changes and 429 past its quotas
(CreateDeployment once per 5 s per account; 10 calls/s, burst 40). Time runs 50 times faster for
the model, the quotas and the function's own waits alike."""

from __future__ import annotations

import collections
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest
from conftest import REGISTRATION, World
from template_model import ROOT, load_template

from localaws.cloudformation import LambdaService, LocalCloudFormation, Stack
from localaws.lambda_runtime import FunctionConfig

TENANTS = 20
TIME_SCALE = 0.02
FUNCTION_TIMEOUT = 900.0  # template.yaml's, in model seconds


@pytest.fixture
def lambda_service(world: World, aws_environment: dict[str, str]) -> Iterator[LambdaService]:
    function = load_template()["Resources"]["Function"]["Properties"]
    config = FunctionConfig(
        code_dir=ROOT / function["CodeUri"],
        handler=function["Handler"],
        timeout=FUNCTION_TIMEOUT,
        function_name="shared-authorizer-pools-Function",
        environment={**aws_environment, "LOG_LEVEL": "INFO"},
        time_scale=TIME_SCALE,
        clock_module="authorizer_pools.timing",
    )
    with LambdaService(config) as service:
        yield service


def all_at_once(names: list[str], action: object) -> list[Stack]:
    with ThreadPoolExecutor(max_workers=len(names)) as pool:
        return list(pool.map(action, names))  # type: ignore[arg-type]


def test_twenty_tenants_created_then_deleted_at_once_all_succeed_and_no_pool_is_lost(
    world: World, lambda_service: LambdaService
) -> None:
    cloudformation = LocalCloudFormation(
        lambda_service,
        world.receiver,
        service_timeout=FUNCTION_TIMEOUT * TIME_SCALE + 60,
    )
    names = [f"tenant-{n:02d}" for n in range(TENANTS)]
    pools = {name: world.tenant_pool(name) for name in names}
    world.aws.control_plane.enable_model(time_scale=TIME_SCALE)

    created = all_at_once(
        names,
        lambda name: cloudformation.create_stack(
            name, {REGISTRATION: world.registration(pools[name])}
        ),
    )

    failures = [(s.name, s.exchanges[0].reason) for s in created if s.status != "CREATE_COMPLETE"]
    assert failures == []
    assert lambda_service.environments == TENANTS  # each ran in its own container
    listed = collections.Counter(world.provider_arns())
    assert listed == collections.Counter([world.api.operators_pool_arn, *pools.values()])
    assert all(world.live_everywhere(pool) for pool in pools.values())
    counters = world.aws.control_plane.counters()
    # The model really pushed back: overlapping changes and deployments over the quota.
    assert counters["UpdateAuthorizer"].conflicts + counters["CreateDeployment"].conflicts > 0
    assert counters["CreateDeployment"].throttled > 0
    print(
        f"\n{TENANTS} concurrent creates: "
        + ", ".join(
            f"{op} {c.calls} calls/{c.conflicts} 409/{c.throttled} 429"
            for op, c in sorted(counters.items())
            if c.calls
        )
    )

    deleted = all_at_once(names, cloudformation.delete_stack)

    failures = [(s.name, s.exchanges[-1].reason) for s in deleted if s.status != "DELETE_COMPLETE"]
    assert failures == []
    assert world.provider_arns() == [world.api.operators_pool_arn]
    assert all(world.gone_everywhere(pool) for pool in pools.values())
