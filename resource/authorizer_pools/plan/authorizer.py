"""What the authorizer should list: adds, removals, the last pool, and what each pass did to
each managed pool."""

from __future__ import annotations

import enum
import hashlib
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from ..arns import arn_like


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


def refused_removal_reason(refusal: str) -> str:
    """Why a stale pool stays listed when API Gateway refused to remove it."""
    return f"API Gateway refused to remove it: {refusal}"


def patch_operation(change: Change, arn: str) -> dict[str, str]:
    if not change.changes_authorizer:
        raise ValueError(f"{change.value} needs no patch")
    return {"op": change.value, "path": "/providerARNs", "value": arn}


def fingerprint(arns: Iterable[str]) -> str:
    """A short name for a pool list, whatever its order."""
    text = "\n".join(sorted(set(arns)))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


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
    refused: Collection[str] = (),
) -> Removals:
    """Managed pools that are listed, not owned and not protected, planned from the list as the
    adds left it (``refused``: the adds API Gateway refused; their owners hold nothing). Never
    empties the list: the first of the stale pools (in the list's order) stays."""
    holding = set(owned) - set(refused)
    stale = [
        arn for arn in listed if arn in managed and arn not in holding and bounds.may_remove(arn)
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
    # Absent and held by no owner: the ledger may forget it once no owner item names it.
    forgettable: bool = False


def pool_outcomes(
    managed_before: Mapping[str, tuple[bool | None, str | None]],
    listed_before: Collection[str],
    added: Collection[str],
    removed: Collection[str],
    kept: Mapping[str, str],
    *,
    holding: Collection[str] = (),
) -> list[PoolOutcome]:
    """One outcome per managed pool whose ledger entry changes. ``managed_before``: each managed
    pool's ``present`` (None: never looked at) and ``kept`` as the ledger last recorded them;
    ``holding``: the pools owners hold (owned, and not refused by API Gateway)."""
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
        forgettable = not present and arn not in holding
        outcomes.append(PoolOutcome(arn, present, change, kept.get(arn), repaired, forgettable))
    return outcomes
