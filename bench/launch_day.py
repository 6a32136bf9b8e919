"""Launch day: N tenant registrations at once on 2 stages, then their deletions, each in its own
Lambda-like process, against the quota-faithful model of API Gateway's control plane.

The model (``localaws/middleware/``) is moto behind API Gateway's documented quotas,
compressed in time by one uniform factor (``time_scale``) applied to the quotas, the service
times, and the functions' own waits (their injectable clocks):

- CreateDeployment: a token bucket, 1 token, refilled every 5 s, per account;
- every control-plane call: a token bucket, 40 tokens, 10 per second, per account;
- a call that changes an API (UpdateAuthorizer, CreateDeployment, UpdateStage…) holds that API
  for a service time drawn uniformly: UpdateAuthorizer 0.2 to 0.5 s, CreateDeployment 1 to 3 s, the
  others 0.1 to 0.3 s; another change arriving meanwhile answers 409 ConflictException. Reads and
  cache flushes hold nothing (they still count in the 10/s).
- DynamoDB and Cognito are not throttled (on-demand DynamoDB and Cognito's read quotas are far
  above this load); they answer at moto's speed.

Every container is started, and its clients made, before the clock starts: on Lambda each
container has a CPU of its own, while here hundreds share two cores.
"""

from __future__ import annotations

import functools
import json
import math
import os
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import boto3

from demo.shared_api import create_registry_table, create_shared_api
from demo.world import FUNCTION_CLOCK, registrar_cloudformation
from localaws.awslambda.runtime import ClockSeam, FunctionConfig
from localaws.cloudformation.response_receiver import ResponseReceiver
from localaws.cloudformation.stacks import Exchange, LambdaService, Stack
from localaws.middleware.control_plane import ControlPlaneConfig
from localaws.middleware.journal import CallRecord
from localaws.server import LocalAws

ROOT = Path(__file__).resolve().parent.parent
REGISTRATION = "TenantPoolRegistration"
STAGES = ("dev", "prod")
FUNCTION_TIMEOUT = 900.0  # template.yaml's
SERVICE_TIMEOUT = 3600.0  # what examples/tenant.yaml sets

# The model's quotas and mean service times, for the floor (see ``floor``).
RATE, BURST = 10.0, 40
DEPLOYMENT_INTERVAL = 5.0
MEAN_SERVICE = {"UpdateAuthorizer": 0.35, "CreateDeployment": 2.0}
MEAN_OTHER_CHANGE = 0.2
MUTATING_METHODS = {"POST", "PUT", "PATCH", "DELETE"}


@dataclass(frozen=True)
class Implementation:
    name: str
    code_dir: Path
    handler: str
    clock: ClockSeam
    warm_up: tuple[str, ...] = ()


PROJECT = Implementation(
    "this project",
    ROOT / "resource",
    "authorizer_pools.handler.handler",
    FUNCTION_CLOCK,
    warm_up=("authorizer_pools.aws:prime",),
)
SEED = Implementation(
    "seed", ROOT / "bench" / "seed", "seed_handler.handler", ClockSeam("seed_handler")
)


@dataclass
class Phase:
    """One phase (all creations, or all deletions) of one run."""

    name: str
    exchanges: list[Exchange]
    stacks: list[Stack]
    calls: list[CallRecord]
    makespan: float  # model seconds
    time_scale: float
    failures: int = 0
    seconds_to_success: list[float] = field(default_factory=list)

    @property
    def apigateway_calls(self) -> list[CallRecord]:
        return [call for call in self.calls if call.service == "apigateway"]

    def count(self, operation: str | None = None, status: int | None = None) -> int:
        return sum(
            1
            for call in self.apigateway_calls
            if (operation is None or call.operation == operation)
            and (status is None or call.status == status)
        )

    @property
    def deployments(self) -> int:
        return sum(
            1
            for call in self.apigateway_calls
            if call.operation == "CreateDeployment" and 200 <= call.status < 300
        )

    def floor(self) -> float:
        return floor(self.apigateway_calls)

    def read_units(self) -> float:
        """The registry's read units this phase consumed (DynamoDB developer guide, "Read/write
        capacity mode": a strongly consistent read costs 1 unit per 4 KB read, an eventually
        consistent one half, a transactional one 2). Sized by the whole answer, so slightly
        over what DynamoDB would charge."""
        return registry_read_units(self.calls)

    def read_units_per_waiter_second(self) -> float:
        """The registry's reads per second that one waiting request costs, on average: every
        read of the phase (the workers' included) over the seconds the requests waited."""
        waited = sum(self.seconds_to_success)
        return self.read_units() / waited if waited else 0.0

    def read_units_by_call(self) -> dict[str, float]:
        """Read units per DynamoDB operation (strongly or eventually consistent), largest first."""
        found: dict[str, float] = {}
        for call in self.calls:
            units = read_units(call) if call.service == "dynamodb" else 0.0
            if units:
                consistent = json.loads(call.body or b"{}").get("ConsistentRead", False)
                name = f"{call.operation}{'' if consistent else ' (eventual)'}"
                found[name] = found.get(name, 0.0) + units
        return dict(sorted(found.items(), key=lambda item: -item[1]))

    def peak_read_units_per_second(self) -> float:
        """The busiest model second of the phase, in read units (one partition serves 3,000)."""
        buckets: dict[int, float] = {}
        for call in self.calls:
            if call.service == "dynamodb":
                second = int(call.time / self.time_scale)
                buckets[second] = buckets.get(second, 0.0) + read_units(call)
        return max(buckets.values(), default=0.0)

    def percentile(self, fraction: float) -> float:
        values = sorted(self.seconds_to_success)
        if not values:
            return float("nan")
        return values[min(len(values) - 1, round(fraction * (len(values) - 1)))]


_READ_UNIT_BYTES = 4096
_DYNAMODB_READS = frozenset({"GetItem", "Query", "TransactGetItems", "BatchGetItem", "Scan"})


def registry_read_units(calls: Sequence[CallRecord]) -> float:
    """The registry's read units these calls consumed (see ``read_units``)."""
    return sum(read_units(call) for call in calls if call.service == "dynamodb")


def read_units(call: CallRecord) -> float:
    if call.operation not in _DYNAMODB_READS or call.status != 200:
        return 0.0
    units = float(max(1, math.ceil(call.answer_bytes / _READ_UNIT_BYTES)))
    if call.operation == "TransactGetItems":
        return 2.0 * units
    consistent = json.loads(call.body or b"{}").get("ConsistentRead", False)
    return units if consistent else units / 2.0


def floor(calls: Sequence[CallRecord]) -> float:
    """The least time API Gateway's quotas allow for the calls a run made (model seconds):

    - rate: every accepted call takes one of the account's tokens (10/s after a burst of 40);
    - deployments: one CreateDeployment per 5 s (the first one free);
    - serialisation: changes to one API cannot overlap, so their mean service times add up.

    Calls refused with 429 took no token; they are the scheduling's cost, not the work's.
    """
    accepted = [call for call in calls if call.status != 429]
    rate = max(0.0, (len(accepted) - BURST) / RATE)
    deployments = sum(
        1 for c in accepted if c.operation == "CreateDeployment" and 200 <= c.status < 300
    )
    serial = sum(
        MEAN_SERVICE.get(c.operation, MEAN_OTHER_CHANGE)
        for c in accepted
        if 200 <= c.status < 300
        and c.method in MUTATING_METHODS
        and c.operation != "FlushStageAuthorizersCache"
    )
    return max(rate, max(0, deployments - 1) * DEPLOYMENT_INTERVAL, serial)


@dataclass
class Run:
    implementation: Implementation
    tenants: int
    create: Phase
    delete: Phase
    time_scale: float
    # Memory each environment holds of its own after the run (USS, MB): what N of them cost.
    memory_mb: float = 0.0

    @property
    def failures(self) -> int:
        """Requests of either phase not answered as their stacks needed."""
        return self.create.failures + self.delete.failures

    def makespan_over_floor(self) -> float:
        """The worse of the two phases, the registrations and their deletions."""
        return max(
            phase.makespan / phase.floor() if phase.floor() else math.inf
            for phase in (self.create, self.delete)
        )


def own_memory_mb(pid: int) -> float:
    """A process's unique set size: the pages no other process shares (Linux
    /proc/<pid>/smaps_rollup, Private_Clean + Private_Dirty); 0 once it has gone."""
    try:
        lines = Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines()
    except OSError:
        return 0.0
    kilobytes = 0
    for line in lines:
        name, _, rest = line.partition(":")
        if name in ("Private_Clean", "Private_Dirty"):
            kilobytes += int(rest.split()[0])
    return kilobytes / 1024


class Bench:
    """One local AWS and one ResponseURL receiver for every run; a fresh shared API each run."""

    def __init__(self) -> None:
        self.time_scale = 1.0
        self.aws = LocalAws(ControlPlaneConfig(model_enabled=False))
        self.receiver = ResponseReceiver()
        self.runs = 0

    def __enter__(self) -> Bench:
        self.aws.start()
        self.receiver.start()
        os.environ.update(self.aws.env())
        return self

    def __exit__(self, *_: object) -> None:
        self.receiver.stop()
        self.aws.stop()

    def new_pools(self, count: int, prefix: str) -> list[str]:
        """Pools no stack has held yet, for each run: a tenant stack declares its own pool, and
        a stack rolled back or left behind (the seed's failures, the outage's stacks) still
        holds its pools here, where AWS would have deleted them with the stack's rollback."""
        client = boto3.client("cognito-idp")
        return [
            client.create_user_pool(PoolName=f"{prefix}-{n:04d}")["UserPool"]["Arn"]
            for n in range(count)
        ]

    def deployment(
        self, implementation: Implementation, name: str, time_scale: float
    ) -> tuple[FunctionConfig, dict[str, object]]:
        """A fresh shared API and registry, the registrar's function deployed for them (as
        template.yaml would), and a tenant's properties bar its pool."""
        self.aws.control_plane.disable_model()
        api = create_shared_api(name=name, stage_names=STAGES)
        table = create_registry_table(f"{name}-registry")
        config = FunctionConfig(
            code_dir=implementation.code_dir,
            handler=implementation.handler,
            timeout=FUNCTION_TIMEOUT,
            function_name=name,
            environment={
                **self.aws.env(),
                "SSL_CERT_FILE": self.receiver.ca_file,
                "AWS_ENDPOINT_URL_S3": self.receiver.endpoint_url,
                "REGISTRY_TABLE": table,
                "REST_API_ID": api.rest_api_id,
                "AUTHORIZER_ID": api.authorizer_id,
                "STAGE_NAMES": ",".join(STAGES),
                "LOG_LEVEL": "WARNING",
            },
            time_scale=time_scale,
            clock=implementation.clock,
            warm_up=implementation.warm_up,
        )
        properties: dict[str, object] = {
            "RestApiId": api.rest_api_id,
            "AuthorizerId": api.authorizer_id,
            "StageNames": list(STAGES),
            "ServiceTimeout": SERVICE_TIMEOUT,
        }
        return config, properties

    def run(
        self, implementation: Implementation, tenants: int, time_scale: float, *, forked: bool
    ) -> Run:
        """``forked``: each request's environment is forked from one that ran init once
        (a thousand fit in memory); otherwise each is started on its own."""
        self.runs += 1
        self.time_scale = time_scale
        pools = self.new_pools(tenants, f"bench-{self.runs}")
        config, properties = self.deployment(implementation, f"bench-{self.runs}", time_scale)
        with LambdaService(config, forked=forked) as service:
            service.prewarm(tenants)
            cloudformation = registrar_cloudformation(
                service,
                self.receiver,
                service_timeout=SERVICE_TIMEOUT * self.time_scale + 60,
                lambda_async=self.aws.control_plane.lambda_async,
            )
            names = [f"tenant-{n:03d}" for n in range(tenants)]
            self.aws.control_plane.reset()
            self.aws.control_plane.enable_model(time_scale=self.time_scale)
            create = self._phase(
                "create",
                [
                    functools.partial(
                        cloudformation.create_stack,
                        name,
                        {REGISTRATION: {**properties, "UserPoolArn": pool}},
                    )
                    for name, pool in zip(names, pools, strict=True)
                ],
                succeeded="CREATE_COMPLETE",
                first=True,
            )
            # Between the creations and the deletions, a quiet spell: the account's quotas are
            # full again, so the deletions meet no one else's calls (and N=1 gives the
            # uncontended Delete) without the bench sleeping through it.
            self.aws.control_plane.refill()
            created = [stack.name for stack in create.stacks if stack.status == "CREATE_COMPLETE"]
            delete = self._phase(
                "delete",
                [functools.partial(cloudformation.delete_stack, name) for name in created],
                succeeded="DELETE_COMPLETE",
                first=False,
            )
            memory = [own_memory_mb(pid) for pid in service.pids()]
        self.aws.control_plane.disable_model()
        return Run(
            implementation,
            tenants,
            create,
            delete,
            self.time_scale,
            memory_mb=sum(memory) / len(memory) if memory else 0.0,
        )

    def _phase(
        self,
        name: str,
        actions: list[Callable[[], Stack]],
        *,
        succeeded: str,
        first: bool,
    ) -> Phase:
        journal_before = len(self.aws.control_plane.journal())
        stacks: list[Stack] = []
        if actions:
            with ThreadPoolExecutor(max_workers=len(actions)) as pool:
                stacks = list(pool.map(lambda action: action(), actions))
        calls = self.aws.control_plane.journal()[journal_before:]
        # The request each stack was created or deleted by: the first exchange for a Create
        # (a failed one is followed by its rollback Delete), the last for a Delete.
        exchanges = [stack.exchanges[0 if first else -1] for stack in stacks]
        phase = Phase(
            name=name,
            exchanges=exchanges,
            stacks=stacks,
            calls=calls,
            # All requests are sent at once: the last answer is the makespan.
            makespan=max((e.seconds for e in exchanges), default=0.0) / self.time_scale,
            time_scale=self.time_scale,
            failures=sum(1 for stack in stacks if stack.status != succeeded),
            seconds_to_success=[
                exchange.seconds / self.time_scale
                for exchange in exchanges
                if exchange.status == "SUCCESS"
            ],
        )
        return phase
