"""Making the authorizer and every stage match what is wanted, whatever happened meanwhile.

A pass reads the whole desired state (the owners in the registry) and the whole actual state
(the authorizer's ``providerARNs``, each stage's deployment and canary), reconciles the list
(``reconcilers.pools``), publishes every stage that does not serve the result
(``reconcilers.stages``), and records what it *saw* served. Nothing the registry recorded about
earlier passes is trusted to skip work: a pool someone removed in the console, a stage a late
worker pointed back, a deployment made by the shared API's own stack are all found by the next
pass, whoever triggers it (a tenant's request, the scheduled run, the operator's repair).

This module composes the pass and hands it to the runtime (``worker``), which runs it under the
lease. A request is live when a pass that read the registry after its owner change saw every one
of its stages serve the authorizer's list.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from . import metrics, plan, worker
from .api_gateway import ApiGateway
from .reconcilers.pools import reconcile_pools
from .reconcilers.stages import reconcile_stages
from .registry import Registry
from .tenure import Tenure
from .timing import Deadline
from .worker import Pending

# Rounds of reading the owners and changing the authorizer before publishing: requests keep
# arriving while the worker changes the list (on launch day, hundreds within seconds), and the
# next deployment may be 5 s away.
_MAX_ROUNDS = 8


@dataclass(frozen=True)
class Live:
    """What a request waited for, as the worker saw it."""

    epoch: int
    # Stages where a canary release serves another deployment (its share keeps its own list).
    canary_stages: tuple[str, ...] = ()


@dataclass
class Report:
    """What one worker's passes did, for the logs, the metrics and the operator's repair."""

    added: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    refused: dict[str, str] = field(default_factory=dict)
    kept: dict[str, str] = field(default_factory=dict)
    repaired_pools: list[str] = field(default_factory=list)
    republished_stages: list[str] = field(default_factory=list)
    adopted_stages: list[str] = field(default_factory=list)
    canary_stages: list[str] = field(default_factory=list)
    deployments: list[str] = field(default_factory=list)
    # Removed although no deletion the registrar recorded asked for it: the registry said they
    # were managed, and nothing says who made them so.
    unrequested_removals: list[str] = field(default_factory=list)

    def emit_metrics(self) -> None:
        metrics.emit(
            {
                metrics.POOLS_REPAIRED: len(self.repaired_pools),
                metrics.STAGES_REPUBLISHED: len(self.republished_stages),
                metrics.LAST_POOL_KEPT: len(self.kept),
                metrics.DEPLOYMENTS: len(self.deployments),
                metrics.UNREQUESTED_REMOVALS: len(self.unrequested_removals),
            }
        )


class _Converge:
    """One pass: rounds of reconciling the list while requests keep arriving, then the stages.
    Its :class:`Report` adds up every pass it makes."""

    def __init__(
        self,
        port: ApiGateway,
        stages: Sequence[str],
        bounds: plan.Bounds,
        *,
        verify: bool,
        judge_removals: bool,
    ) -> None:
        self.port = port
        self.stages = stages
        self.bounds = bounds
        self.verify = verify
        self.judge_removals = judge_removals
        self.report = Report()

    def __call__(self, tenure: Tenure) -> bool:
        for _ in range(_MAX_ROUNDS):
            epoch = tenure.next_epoch()
            desired = tenure.registry.state()
            pools = reconcile_pools(
                desired,
                self.port.authorizer(tenure.held()),
                self.port,
                tenure,
                self.bounds,
                judge_removals=self.judge_removals,
            )
            report = self.report
            report.added += pools.added
            report.removed += pools.removed
            report.refused.update(pools.refused)
            report.kept.update(pools.kept)
            report.repaired_pools += pools.repaired
            report.unrequested_removals += pools.unrequested
            if not pools.changed:
                break
        stages = reconcile_stages(
            desired,
            pools.authorizer,
            epoch,
            self.port,
            tenure,
            stages=self.stages,
            verify=self.verify,
            deployments=self.report.deployments,
        )
        self.report.republished_stages += stages.republished
        self.report.adopted_stages += stages.adopted
        self.report.canary_stages = list(stages.canary)
        return stages.unfinished


def await_live(
    registry: Registry,
    *,
    stage_names: Sequence[str],
    all_stages: Sequence[str],
    holder: str,
    deadline: Deadline,
    bounds: plan.Bounds,
) -> Live | Pending:
    """Once a pass that read the registry after the caller's owner change saw every stage the
    registrar publishes (``all_stages``) serve the authorizer's list: :class:`Live`; work as the
    worker when nobody is. ``stage_names``: the stages the caller reports on (a canary on them).
    :class:`Pending` when ``deadline`` comes first."""

    def work() -> bool:
        report = work_if_free(registry, holder, deadline, stages=all_stages, bounds=bounds)
        return report is not None

    waited = worker.await_pass(registry, deadline, all_stages, work, own_pass_enough=False)
    if isinstance(waited, Pending):
        return waited
    return Live(waited.target, tuple(waited.status.canary_blocked(stage_names)))


def repair_pass(
    registry: Registry,
    *,
    stages: Sequence[str],
    holder: str,
    deadline: Deadline,
    bounds: plan.Bounds,
) -> Report | Pending | None:
    """A pass that began after this call, verifying what every stage's deployment serves when
    this caller makes it: its :class:`Report`; None when another worker's pass (begun after
    this call) finished first. :class:`Pending` when ``deadline`` comes first."""
    reports: list[Report] = []

    def work() -> bool:
        report = work_if_free(registry, holder, deadline, stages=stages, bounds=bounds, verify=True)
        if report is not None:
            reports.append(report)
        return report is not None

    waited = worker.await_pass(registry, deadline, stages, work, own_pass_enough=True)
    if isinstance(waited, Pending):
        return waited
    return reports[-1] if waited.worked else None


def work_if_free(
    registry: Registry,
    holder: str,
    deadline: Deadline,
    *,
    stages: Sequence[str],
    bounds: plan.Bounds,
    verify: bool = False,
    emit_metrics: bool = True,
) -> Report | None:
    """Be the authorizer's worker for a few passes if its lease is free (or already this
    request's): what they did; None when someone else holds it. ``stages``: every stage the
    registrar publishes. ``verify``: read what every stage's deployment serves (GetExport), for
    the scheduled run and the operator's repair. ``emit_metrics`` is False for the operator's
    repair, which runs outside the function: it also cannot read the requests' records, which
    tell removals no request asked for."""
    converge = _Converge(
        ApiGateway(registry.rest_api_id, registry.authorizer_id),
        stages,
        bounds,
        verify=verify,
        judge_removals=emit_metrics,
    )
    afterwards = converge.report.emit_metrics if emit_metrics else None
    worked = worker.work_if_free(registry, holder, deadline, converge, afterwards=afterwards)
    return converge.report if worked else None
