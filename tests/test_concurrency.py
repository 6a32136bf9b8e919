"""Twenty tenant stacks at once, each event in its own Lambda execution environment (process),
against an API Gateway that answers 409 to overlapping changes and 429 past its quotas
(CreateDeployment once per 5 s per account; 10 calls/s, burst 40), while the shared API's own
pipeline keeps deploying it. Time runs ten times faster for the model, the quotas and the
function's own waits alike."""

from __future__ import annotations

import collections
import contextlib
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError
from conftest import World, template_function

from demo.world import REGISTRATION, registrar_cloudformation
from localaws.cloudformation.stacks import LambdaService, Stack

TENANTS = 20
# Ten times faster: faster still, and the CPU time of twenty processes on two cores would take
# many model seconds, which real Lambda containers, each on its own CPU, do not spend.
TIME_SCALE = 0.1
FUNCTION_TIMEOUT = 900.0  # template.yaml's, in model seconds


@pytest.fixture
def lambda_service(world: World, aws_environment: dict[str, str]) -> Iterator[LambdaService]:
    config = template_function(aws_environment, time_scale=TIME_SCALE, timeout=FUNCTION_TIMEOUT)
    with LambdaService(config) as service:
        yield service


@contextlib.contextmanager
def pipeline_deploying(world: World) -> Iterator[None]:
    """The shared API's own pipeline at work meanwhile: it deploys the API to its own stage
    again and again, holding the API (409 for overlapping changes) and taking the account's
    deployment slots (429 for everyone else's CreateDeployment)."""
    stop = threading.Event()
    client = boto3.client("apigateway", config=Config(retries={"total_max_attempts": 1}))

    def deploy() -> None:
        # A busy pipeline: a deployment every ~10 s (model time), never retried.
        while not stop.is_set():
            with contextlib.suppress(ClientError):
                client.create_deployment(restApiId=world.api.rest_api_id, stageName="pipeline")
            stop.wait(10.0 * TIME_SCALE)

    pipeline = threading.Thread(target=deploy, daemon=True)
    pipeline.start()
    try:
        yield
    finally:
        stop.set()
        pipeline.join()


def all_at_once(names: list[str], action: object) -> list[Stack]:
    with ThreadPoolExecutor(max_workers=len(names)) as pool:
        return list(pool.map(action, names))  # type: ignore[arg-type]


def test_twenty_tenants_created_then_deleted_at_once_all_succeed_and_no_pool_is_lost(
    world: World, lambda_service: LambdaService
) -> None:
    cloudformation = registrar_cloudformation(
        lambda_service,
        world.receiver,
        service_timeout=FUNCTION_TIMEOUT * TIME_SCALE + 60,
    )
    names = [f"tenant-{n:02d}" for n in range(TENANTS)]
    pools = {name: world.tenant_pool(name) for name in names}
    users = {name: world.sign_in(pool, f"{name}-user") for name, pool in pools.items()}
    # Each user tries first: every stage answers 401 and caches it (until a flush).
    assert {name: world.answers(token) for name, token in users.items()} == {
        name: world.everywhere(401) for name in names
    }
    world.aws.control_plane.enable_model(time_scale=TIME_SCALE)

    with pipeline_deploying(world):
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
    assert {name: world.answers(token) for name, token in users.items()} == {
        name: world.everywhere(200) for name in names
    }
    # One worker at a time changes the authorizer and deploys, for everyone: the function's own
    # containers no longer collide; only the pipeline's changes and deployments can push back.
    deployments = sum(1 for call in world.calls() if call.operation == "CreateDeployment")
    assert deployments < TENANTS  # coalesced: far fewer deployments than registrations

    with pipeline_deploying(world):
        deleted = all_at_once(names, cloudformation.delete_stack)

    failures = [(s.name, s.exchanges[-1].reason) for s in deleted if s.status != "DELETE_COMPLETE"]
    assert failures == []
    assert world.provider_arns() == [world.api.operators_pool_arn]
    assert all(world.gone_everywhere(pool) for pool in pools.values())
    assert {name: world.answers(token) for name, token in users.items()} == {
        name: world.everywhere(401) for name in names
    }
