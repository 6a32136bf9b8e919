"""The operator's survey: drift between what is wanted and what API Gateway serves, found and
repaired on demand (``python -m authorizer_pools reconcile``).

The authorizer and the stages can drift without any event: the shared API's own stack resets
``ProviderARNs`` to its template's list and redeploys, someone edits the authorizer or points a
stage at an old deployment in the console, a late worker's call lands after its lease expired,
a tenant's Cognito pool is deleted while its ARN stays listed. :func:`survey` reads what *is*
(the authorizer, and each stage's deployed pool list from its export) and compares it with what
the owners want; :func:`repair` runs the same convergence every worker pass runs, verifying each
stage's export. It never removes an unmanaged pool.
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from . import cognito, convergence, plan, timing
from .api_gateway import ApiGateway
from .arns import ArnError, UserPoolArn
from .aws_errors import Refused
from .plan import PoolState, PoolStatus, StageState
from .registry import OwnerRecord, Registry
from .timing import Deadline

_WAIT_FOR_THE_LEASE_SECONDS = 1.0


class Busy(Exception):
    """Another worker kept the lease for the whole of the time allowed."""


@dataclass(frozen=True)
class PoolReport:
    status: PoolStatus
    owners: tuple[OwnerRecord, ...]
    cognito_pool_gone: bool = False

    @property
    def arn(self) -> str:
        return self.status.arn

    @property
    def state(self) -> PoolState:
        return self.status.state

    @property
    def is_drift(self) -> bool:
        return self.state.is_drift or self.cognito_pool_gone


@dataclass(frozen=True)
class StageReport:
    name: str
    state: StageState


@dataclass(frozen=True)
class Survey:
    pools: tuple[PoolReport, ...]
    stages: tuple[StageReport, ...]

    @property
    def drift(self) -> bool:
        return any(pool.is_drift for pool in self.pools) or any(
            stage.state.is_drift for stage in self.stages
        )


def survey(
    registry: Registry,
    stage_names: Sequence[str],
    *,
    account_id: str | None,
    deadline: Deadline,
    bounds: plan.Bounds,
) -> Survey:
    """Read the registry, the authorizer, every stage's export and (for this account's pools)
    Cognito; classify every pool and stage (``plan``)."""
    state = registry.state()
    api = ApiGateway(registry.rest_api_id, registry.authorizer_id)
    current = api.authorizer(deadline)
    listed = current.provider_arns
    refused = {
        arn for arn, owners in state.owners.items() if owners and all(o.refused for o in owners)
    }
    statuses = plan.classify_pools(listed, state.managed, state.owned, refused, bounds)
    candidates = set(listed) | set(state.owners)
    # Only the pools the registrar may name are looked up (what the role and the operator
    # policy allow); another pool, the operators' say, is never reported gone.
    checked = [arn for arn in sorted(candidates) if bounds.may_add(arn)]
    gone = {arn for arn in checked if _cognito_pool_gone(arn, account_id, deadline)}
    pools = tuple(
        PoolReport(status, state.owners.get(status.arn, ()), status.arn in gone)
        for status in statuses
    )
    wanted = plan.fingerprint(plan.wanted_list(listed, state.managed, state.owned, bounds))
    names = list(dict.fromkeys(stage_names))
    views = api.stages(deadline, names)
    stages = []
    for name in names:
        view = views[name]
        if view.exists:
            exported = api.exported_pools(name, current.name, deadline)
            view = dataclasses.replace(view, exported=exported)
        stages.append(StageReport(name, plan.classify_stage(view, wanted)))
    return Survey(pools, tuple(stages))


def repair(
    registry: Registry, stage_names: Sequence[str], deadline: Deadline, bounds: plan.Bounds
) -> convergence.Report:
    """Converge as every worker pass does, verifying each stage's export: when the lease is
    someone else's, wait for it."""
    holder = f"reconcile-{uuid.uuid4()}/{uuid.uuid4()}"
    while True:
        report = convergence.work_if_free(
            registry,
            holder,
            deadline,
            stages=stage_names,
            bounds=bounds,
            verify=True,
            emit_metrics=False,
        )
        if report is not None:
            return report
        if not deadline.allows(_WAIT_FOR_THE_LEASE_SECONDS):
            raise Busy("another worker kept the lease: run reconcile again")
        timing.clock.sleep(_WAIT_FOR_THE_LEASE_SECONDS)


def _cognito_pool_gone(arn: str, account_id: str | None, deadline: Deadline) -> bool:
    try:
        pool = UserPoolArn.parse(arn)
    except ArnError:
        return False
    if account_id is not None and pool.account != account_id:
        return False  # another account's pool cannot be read from here
    try:
        return not cognito.pool_exists(pool, deadline)
    except Refused:
        return False  # it cannot be read from here (IAM refuses, say): not reported gone
