"""Registered, then one more: what one tenant's Create and Delete, and a scheduled run with
nothing drifted, cost as the number of registered pools grows.

For each size K, the registrar holds K registrations (made through CloudFormation and the
function, as tenants would, with the model of API Gateway off so that filling up is quick);
then, with the model on and its quotas full, one more tenant is created and deleted, and the
schedule's event reaches the repair alias. Each is measured alone: time to SUCCESS (model
seconds) against its quota floor, API Gateway calls, the registry's read units, and for the
scheduled run the bytes GetExport answered per stage (the export grows with the list).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from bench.launch_day import (
    PROJECT,
    REGISTRATION,
    SERVICE_TIMEOUT,
    STAGES,
    Bench,
    floor,
    registry_read_units,
)
from demo.world import registrar_cloudformation
from localaws.cloudformation.stacks import LambdaService, Stack
from localaws.eventbridge.rules import scheduled_event
from localaws.middleware.journal import CallRecord

SIZES = (10, 100, 1000)
QUICK_SIZES = (10, 100)
# Registrations made at once while filling up (each in its own container).
BATCH = 50
TIME_SCALE = 1.0


@dataclass(frozen=True)
class Cost:
    """One request, or one scheduled run, measured alone."""

    seconds: float  # model seconds to its answer (a scheduled run: to its return)
    calls: list[CallRecord]

    @property
    def apigateway(self) -> list[CallRecord]:
        return [call for call in self.calls if call.service == "apigateway"]

    @property
    def floor(self) -> float:
        return floor(self.apigateway)

    @property
    def over_floor(self) -> float:
        return self.seconds / self.floor if self.floor else float("inf")

    @property
    def read_units(self) -> float:
        return registry_read_units(self.calls)

    def export_bytes(self) -> int:
        return sum(call.answer_bytes for call in self.apigateway if call.operation == "GetExport")


@dataclass(frozen=True)
class Registered:
    registered: int
    create: Cost
    delete: Cost
    scheduled: Cost

    def line(self) -> str:
        stages = len(STAGES)
        return (
            f"bench: registered={self.registered} "
            f"create_over_floor={self.create.over_floor:.2f} "
            f"scheduled_calls_per_stage={len(self.scheduled.apigateway) / stages:.1f} "
            f"scheduled_read_units={self.scheduled.read_units:.0f}"
        )


def run(bench: Bench, sizes: Sequence[int] = SIZES) -> list[Registered]:
    bench.runs += 1
    # One pool per registration, and one more per size: a pool once registered by a stack that
    # left is never taken up by another stack (docs/ownership.md).
    pools = bench.new_pools(max(sizes) + len(sizes), f"registered-{bench.runs}")
    config, properties = bench.deployment(PROJECT, f"registered-{bench.runs}", TIME_SCALE)
    aws = bench.aws
    results = []
    with LambdaService(config) as service:
        service.prewarm(BATCH)
        cloudformation = registrar_cloudformation(
            service,
            bench.receiver,
            service_timeout=SERVICE_TIMEOUT + 60,
            lambda_async=aws.control_plane.lambda_async,
        )
        aws.control_plane.lambda_async.attach(service, time_scale=TIME_SCALE)

        def create(name: str, pool: str) -> Stack:
            return cloudformation.create_stack(
                name, {REGISTRATION: {**properties, "UserPoolArn": pool}}
            )

        registered = 0
        for extra, size in enumerate(sorted(sizes), start=max(sizes)):
            aws.control_plane.disable_model()
            while registered < size:
                batch = range(registered, min(size, registered + BATCH))
                _all_at_once(
                    [functools.partial(create, f"tenant-{n:04d}", pools[n]) for n in batch],
                    "CREATE_COMPLETE",
                )
                registered += len(batch)
            aws.control_plane.enable_model(time_scale=TIME_SCALE)
            name = f"one-more-{size}"
            results.append(
                Registered(
                    registered=size,
                    create=_alone(
                        bench, functools.partial(create, name, pools[extra]), "CREATE_COMPLETE"
                    ),
                    delete=_alone(
                        bench,
                        functools.partial(cloudformation.delete_stack, name),
                        "DELETE_COMPLETE",
                    ),
                    scheduled=_scheduled(bench, service),
                )
            )
        aws.control_plane.disable_model()
    return results


def _all_at_once(actions: list[Callable[[], Stack]], succeeded: str) -> None:
    with ThreadPoolExecutor(max_workers=len(actions)) as pool:
        stacks = list(pool.map(lambda action: action(), actions))
    failed = [stack.name for stack in stacks if stack.status != succeeded]
    if failed:
        raise RuntimeError(f"filling up the registrar failed for {failed}")


def _alone(bench: Bench, action: Callable[[], Stack], succeeded: str) -> Cost:
    """One request with the quotas full and nothing else going on."""
    bench.aws.control_plane.refill()
    before = len(bench.aws.control_plane.journal())
    stack = action()
    # A Create's answer is its first exchange (a rollback's Delete may follow); a Delete's, the
    # last.
    exchange = stack.exchanges[0 if succeeded == "CREATE_COMPLETE" else -1]
    if stack.status != succeeded or not exchange.succeeded:
        raise RuntimeError(f"{stack.name}: {exchange.request_type} answered {exchange.reason}")
    calls = bench.aws.control_plane.journal()[before:]
    return Cost(exchange.seconds / TIME_SCALE, calls)


def _scheduled(bench: Bench, service: LambdaService) -> Cost:
    """The schedule's event through the repair alias, as template.yaml's rule sends it."""
    bench.aws.control_plane.refill()
    before = len(bench.aws.control_plane.journal())
    result = service.deliver(scheduled_event("registrar-repair"), qualifier="repair")
    if not result.ok:
        raise RuntimeError(f"the scheduled run failed: {result.error}")
    calls = bench.aws.control_plane.journal()[before:]
    return Cost(result.duration / TIME_SCALE, calls)


def table(results: Sequence[Registered]) -> str:
    header = (
        f"{'registered':>10} | {'create s':>8} {'/floor':>6} {'calls':>5} {'RU':>6} | "
        f"{'delete s':>8} {'/floor':>6} {'calls':>5} {'RU':>6} | "
        f"{'sched calls/stage':>17} {'RU':>6} {'export KB/stage':>15}"
    )
    rows = [header, "-" * len(header)]
    stages = len(STAGES)
    for r in results:
        rows.append(
            f"{r.registered:>10} | {r.create.seconds:>8.1f} {r.create.over_floor:>6.2f} "
            f"{len(r.create.apigateway):>5} {r.create.read_units:>6.0f} | "
            f"{r.delete.seconds:>8.1f} {r.delete.over_floor:>6.2f} "
            f"{len(r.delete.apigateway):>5} {r.delete.read_units:>6.0f} | "
            f"{len(r.scheduled.apigateway) / stages:>17.1f} {r.scheduled.read_units:>6.0f} "
            f"{r.scheduled.export_bytes() / stages / 1024:>15.1f}"
        )
    return "\n".join(rows)


def plot(results: Sequence[Registered], path: Path) -> None:
    """Two curves against the pools registered: one more tenant's time to live (over its quota
    floor), and what a scheduled run with nothing drifted costs."""
    import matplotlib  # noqa: PLC0415 (only the bench needs it, and it is slow to import)

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # noqa: PLC0415

    sizes = [r.registered for r in results]
    figure, (live, scheduled) = plt.subplots(1, 2, figsize=(10, 4.2), dpi=110)
    live.plot(sizes, [r.create.seconds for r in results], "o-", label="Create: time to live")
    live.plot(sizes, [r.delete.seconds for r in results], "s-", label="Delete: time to gone")
    live.plot(sizes, [r.create.floor for r in results], "--", alpha=0.6, label="quota floor")
    live.set_ylabel("model seconds (as on AWS)")
    live.set_title("One more tenant")
    stages = len(STAGES)
    scheduled.plot(
        sizes,
        [len(r.scheduled.apigateway) / stages for r in results],
        "o-",
        label="API Gateway calls per stage",
    )
    scheduled.plot(
        sizes, [r.scheduled.read_units for r in results], "s-", label="registry read units"
    )
    scheduled.plot(
        sizes,
        [r.scheduled.export_bytes() / stages / 1024 for r in results],
        "^-",
        label="GetExport KB per stage",
    )
    scheduled.set_yscale("log")
    scheduled.set_title("A scheduled run, nothing drifted")
    for axes in (live, scheduled):
        axes.set_xscale("log")
        axes.set_xlabel("pools already registered")
        axes.grid(True, which="both", alpha=0.3)
        axes.legend(fontsize=7, loc="upper left")
    figure.tight_layout()
    figure.savefig(path)
    plt.close(figure)
