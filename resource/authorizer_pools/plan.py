"""The rules, in one place, pure: what the authorizer and each stage should be, decided from what
the registry says is wanted and what API Gateway says is there. Nothing here calls AWS.

Wanted on the authorizer: every *unmanaged* pool (listed, and never named by a registration:
the shared API's operators' pool, a pool added in the console) and every pool with a live owner
that API Gateway has not refused. A *managed* pool (one a registration named) with no such owner
is removed, except that API Gateway refuses an empty list: the last pool is kept.

Whatever the registry holds, the registrar's own bounds (:class:`Bounds`, from its parameters)
hold too: no pass adds a pool ``AllowedUserPoolArns`` does not allow or ``ProtectedUserPoolArns``
names, and no pass removes a protected pool. A registry edited by hand cannot widen trust, nor
take the operators' pool away.

API Gateway changes the list one ARN per patch operation. We never send the whole list (two
writers doing read-modify-write at once would lose one), and send only the change that is
needed, because what ``add`` of a listed ARN or ``remove`` of an unlisted one does is not
documented. Adds go first, and removals are planned from what the adds left (a refused add
must not count): Terraform's AWS provider does the same ("providerARNs can't be empty, so add
first and then remove").
"""

from __future__ import annotations

import enum
import hashlib
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from .arns import arn_like


class Change(enum.Enum):
    ADD = "add"
    REMOVE = "remove"
    NONE_PRESENT = "already-present"
    NONE_ABSENT = "already-absent"
    KEEP_LAST_POOL = "kept-last-pool"

    @property
    def changes_authorizer(self) -> bool:
        return self in (Change.ADD, Change.REMOVE)


KEEP_LAST_POOL_REASON = "the last pool: API Gateway refuses an empty providerARNs"


def patch_operation(change: Change, arn: str) -> dict[str, str]:
    if not change.changes_authorizer:
        raise ValueError(f"{change.value} needs no patch")
    return {"op": change.value, "path": "/providerARNs", "value": arn}


def fingerprint(arns: Iterable[str]) -> str:
    """A short name for a pool list, whatever its order."""
    text = "\n".join(sorted(set(arns)))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


# -- the authorizer ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Bounds:
    """What the registrar may change on the authorizer, whatever the registry holds."""

    # IAM ArnLike patterns of the pools it may add (AllowedUserPoolArns, or its account's).
    allowed: tuple[str, ...] = ("arn:*:cognito-idp:*:*:userpool/*",)
    # Pools it never adds nor removes (ProtectedUserPoolArns).
    protected: frozenset[str] = frozenset()

    def may_add(self, arn: str) -> bool:
        return arn not in self.protected and any(arn_like(p, arn) for p in self.allowed)

    def may_remove(self, arn: str) -> bool:
        return arn not in self.protected


UNBOUNDED = Bounds()


def adds(
    listed: Collection[str], owned: Collection[str], bounds: Bounds = UNBOUNDED
) -> tuple[str, ...]:
    """Owned pools that are not listed and that the registrar may add."""
    return tuple(sorted(arn for arn in set(owned) - set(listed) if bounds.may_add(arn)))


@dataclass(frozen=True)
class Removals:
    removes: tuple[str, ...]
    # Pools that should go but stay, with the reason.
    kept: Mapping[str, str] = field(default_factory=dict)


def removals(
    listed: Sequence[str],
    managed: Collection[str],
    owned: Collection[str],
    bounds: Bounds = UNBOUNDED,
) -> Removals:
    """Managed pools that are listed, not owned and not protected, planned from the list as the
    adds left it. Never empties the list: the first of the stale pools (in the list's order)
    stays."""
    stale = [
        arn for arn in listed if arn in managed and arn not in owned and bounds.may_remove(arn)
    ]
    kept: dict[str, str] = {}
    staying = len(listed) - len(stale)
    if stale and staying < 1:
        kept[stale[0]] = KEEP_LAST_POOL_REASON
        stale = stale[1:]
    return Removals(tuple(stale), kept)


def listed_after(listed: Sequence[str], added: Iterable[str], removed: Iterable[str]) -> list[str]:
    gone = set(removed)
    return [arn for arn in listed if arn not in gone] + [a for a in added if a not in listed]


@dataclass(frozen=True)
class PoolOutcome:
    """What a pass did to one managed pool, for the ledger, the logs and the metrics."""

    arn: str
    present: bool
    change: Change
    kept: str | None = None
    # The pool had drifted: the ledger last left it present and it was found missing (added
    # back), or last left it absent and it was found listed again (removed).
    repaired: bool = False


def pool_outcomes(
    managed_before: Mapping[str, tuple[bool | None, str | None]],
    listed_before: Collection[str],
    added: Collection[str],
    removed: Collection[str],
    kept: Mapping[str, str],
) -> list[PoolOutcome]:
    """One outcome per managed pool whose ledger entry changes. ``managed_before``: each managed
    pool's ``present`` (None: never looked at) and ``kept`` as the ledger last recorded them."""
    outcomes = []
    for arn, (was_present, was_kept) in sorted(managed_before.items()):
        listed = arn in listed_before
        if arn in added:
            change, present = Change.ADD, True
            repaired = was_present is True
        elif arn in removed:
            change, present = Change.REMOVE, False
            repaired = was_present is False
        elif arn in kept:
            change, present, repaired = Change.KEEP_LAST_POOL, True, False
            if was_present is True and was_kept == kept[arn]:
                continue
        else:
            change = Change.NONE_PRESENT if listed else Change.NONE_ABSENT
            present, repaired = listed, False
            if was_present == present and was_kept is None:
                continue
        outcomes.append(PoolOutcome(arn, present, change, kept.get(arn), repaired))
    return outcomes


# -- which stack a pool belongs to ------------------------------------------------------------


@dataclass(frozen=True)
class PoolStacks:
    """What the registry holds of who registered a pool."""

    # The stack that holds the pool's claim; None before any registration since claims exist.
    holder: str | None
    # The stacks with a live owner of the pool.
    live: frozenset[str]
    # Every stack with an owner item of the pool, live or gone (gone ones expire).
    ever: frozenset[str]
    # A registration named the pool and the registry has not forgotten it.
    managed: bool


CLAIMED_ELSEWHERE = (
    "was registered by another stack, which no longer does: a pool goes to another stack only "
    "while a stack still registers it, unless in SharedUserPoolArns"
)


def claim_refusal(stack_id: str, pool: PoolStacks) -> str | None:
    """Why the stack ``stack_id`` may not take up ``pool`` (one CloudFormation lists as its
    own): the pool belonged to another stack, and no stack registers it any more. None when it
    may: it holds the claim, a stack still registers the pool (a move between a tenant's
    stacks; a claim left by a registration that failed after taking it), or the pool is new.
    A pool registered before claims existed belongs to the stacks of its owners."""
    if pool.holder == stack_id or pool.live:
        return None
    if pool.holder is not None or (pool.managed and stack_id not in pool.ever):
        return CLAIMED_ELSEWHERE
    return None


# -- owners CloudFormation no longer holds ----------------------------------------------------


@dataclass(frozen=True)
class HeldRecord:
    """CloudFormation's record of an owner's resource (DescribeStackResource) and its stack's
    phase (DescribeStacks), read as one snapshot: the resource read before and after the stack,
    ``steady`` when both reads agree (nothing moved in between)."""

    exists: bool
    resource_status: str = ""
    physical_id: str | None = None
    stack_status: str = ""
    steady: bool = True


# Resource statuses after which CloudFormation never sends this resource another request: it
# left the stack, deleted or retained (``DeletionPolicy: Retain``; the registration would
# otherwise outlive the stack that declared it). A new Create reaches the registrar afresh.
_LEFT_THE_STACK = ("DELETE_COMPLETE", "DELETE_SKIPPED")


def departure(record: HeldRecord, physical_id: str) -> str | None:
    """Why CloudFormation, settled, no longer holds the registration whose physical id is
    ``physical_id``: its owner should go. None while it holds it, or may still: anything in
    progress, a read that moved under us, or a stack stopped in a failed phase (a rollback still
    to come, ``ContinueUpdateRollback`` or ``RollbackStack``, may bring the registration back)."""
    if not record.exists:
        return "CloudFormation knows no such stack or resource"
    if not record.steady:
        return None
    if record.stack_status == "DELETE_COMPLETE":
        return (
            f"CloudFormation shows the stack DELETE_COMPLETE, its resource {record.resource_status}"
        )
    if record.resource_status in _LEFT_THE_STACK:
        return f"CloudFormation shows its resource {record.resource_status}"
    settled = record.stack_status.endswith("_COMPLETE") and not record.resource_status.endswith(
        "_IN_PROGRESS"
    )
    if not settled or record.physical_id == physical_id:
        return None
    return (
        f"CloudFormation shows its resource {record.resource_status} on another physical id, "
        f"the stack {record.stack_status}"
    )


# -- the stages -------------------------------------------------------------------------------


@dataclass(frozen=True)
class StageView:
    """A stage as API Gateway shows it (GetStages; GetExport when the pass verifies)."""

    name: str
    exists: bool
    deployment_id: str | None = None
    canary_deployment_id: str | None = None
    # The pool list the stage's deployment serves, when it was read (GetExport).
    exported: tuple[str, ...] | None = None


@dataclass(frozen=True)
class StageVerdict:
    name: str
    # The stage serves the authorizer's list (or does not exist: it serves nothing).
    serves: bool
    # A canary release serves another deployment on it: its share keeps its own list.
    canary: bool = False
    # It served the list through a deployment the ledger knows, and no longer does: someone
    # moved it (a late worker, a deployment of the shared API's own stack).
    drifted: bool = False
    # A deployment the ledger does not know, shown by its export to serve the list.
    adopted: bool = False


def has_canary(view: StageView) -> bool:
    """A canary release serves a deployment other than the stage's own."""
    return view.canary_deployment_id is not None and view.canary_deployment_id != view.deployment_id


def stage_verdict(
    view: StageView,
    ledger_deployment: str | None,
    ledger_fingerprint: str | None,
    wanted_fingerprint: str,
) -> StageVerdict:
    if not view.exists:
        return StageVerdict(view.name, serves=True)
    canary = has_canary(view)
    known = view.deployment_id is not None and view.deployment_id == ledger_deployment
    if view.exported is not None:
        serves = fingerprint(view.exported) == wanted_fingerprint
        return StageVerdict(
            view.name,
            serves=serves,
            canary=canary,
            drifted=not serves and ledger_fingerprint == wanted_fingerprint,
            adopted=serves and not known,
        )
    if known:
        return StageVerdict(
            view.name, serves=ledger_fingerprint == wanted_fingerprint, canary=canary
        )
    # Serving a deployment the ledger does not know: what it lists is unknown, so publish.
    return StageVerdict(
        view.name,
        serves=False,
        canary=canary,
        drifted=ledger_fingerprint == wanted_fingerprint,
    )


# -- reconcile's report -----------------------------------------------------------------------


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
