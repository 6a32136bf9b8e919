"""The operator's survey: each pool's and each stage's state, and the list a repair would
leave."""

from __future__ import annotations

import enum
from collections.abc import Collection, Sequence
from dataclasses import dataclass

from .authorizer import UNBOUNDED, Bounds, adds, fingerprint, listed_after, removals
from .stages import StageView, has_canary


class PoolState(enum.Enum):
    OK = "ok"
    UNMANAGED = "unmanaged"  # listed, and no registration ever named it: never removed
    MISSING = "missing"  # owned, but not listed: added back
    OUT_OF_BOUNDS = "out-of-bounds"  # owned, not listed, and the registrar may not add it
    PROTECTED = "protected"  # listed, protected: never added nor removed by a pass
    STALE = "stale"  # listed, managed, and no owner left: removed
    KEPT = "kept"  # stale, but kept: the last pool, or API Gateway refused the removal
    REFUSED = "refused"  # owned, but API Gateway refused to add it

    @property
    def is_drift(self) -> bool:
        return self not in (PoolState.OK, PoolState.UNMANAGED, PoolState.PROTECTED)


@dataclass(frozen=True)
class PoolStatus:
    arn: str
    state: PoolState
    note: str | None = None


class StageState(enum.Enum):
    OK = "ok"
    BEHIND = "behind"  # serves another pool list than the authorizer should hold
    CANARY = "canary"  # its canary release serves another deployment
    UNKNOWN = "unknown"  # its export does not show the authorizer
    GONE = "gone"  # no such stage

    @property
    def is_drift(self) -> bool:
        return self in (StageState.BEHIND, StageState.CANARY)


def classify_stage(view: StageView, wanted_fingerprint: str) -> StageState:
    """A stage's state, from what it serves (its export, in ``view.exported``) and the list the
    authorizer should hold."""
    if not view.exists:
        return StageState.GONE
    if view.exported is None:
        return StageState.UNKNOWN
    if fingerprint(view.exported) != wanted_fingerprint:
        return StageState.BEHIND
    return StageState.CANARY if has_canary(view) else StageState.OK


def classify_pools(
    listed: Sequence[str],
    managed: Collection[str],
    owned: Collection[str],
    refused_owners: Collection[str],
    bounds: Bounds = UNBOUNDED,
) -> list[PoolStatus]:
    """Each pool's state, given what the authorizer lists, the managed pools, the owned ones
    and those whose every live owner was refused."""
    # Planned as a pass plans them: from the list the adds leave.
    plan = removals(listed_after(listed, adds(listed, owned, bounds), ()), managed, owned, bounds)
    statuses = []
    for arn in dict.fromkeys([*listed, *sorted(set(managed) | set(owned))]):
        present = arn in listed
        if arn in bounds.protected and (present or arn in managed):
            state = PoolState.PROTECTED
        elif present and arn not in managed:
            state = PoolState.UNMANAGED
        elif arn in owned:
            if present:
                state = PoolState.OK
            else:
                state = PoolState.MISSING if bounds.may_add(arn) else PoolState.OUT_OF_BOUNDS
        elif present:
            state = PoolState.KEPT if arn in plan.kept else PoolState.STALE
        elif arn in refused_owners:
            state = PoolState.REFUSED
        else:
            continue  # managed, rightly absent
        statuses.append(PoolStatus(arn, state, plan.kept.get(arn)))
    return statuses


def wanted_list(
    listed: Sequence[str],
    managed: Collection[str],
    owned: Collection[str],
    bounds: Bounds = UNBOUNDED,
) -> list[str]:
    """The list the authorizer should hold, and every stage serve, once repaired."""
    after_adds = listed_after(listed, adds(listed, owned, bounds), ())
    return listed_after(after_adds, (), removals(after_adds, managed, owned, bounds).removes)
