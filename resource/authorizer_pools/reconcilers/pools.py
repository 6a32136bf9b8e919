"""The authorizer's list: add what owners hold, remove what no owner holds.

Adds go first, and removals are planned from what the adds left (``plan``). What API Gateway
refuses to add is marked on its owners (their requests answer FAILED with the reason); what it
refuses to remove stays, with the reason. Every pool's outcome is written to the ledger, under
the lease.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from .. import plan
from ..api_gateway import ApiGateway, AuthorizerState
from ..plan import Change
from ..registry import PoolFact, RegistryState, migrations
from ..tenure import Tenure

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class PoolsSeen:
    """What one reconciliation of the list did, and the authorizer as it left it."""

    authorizer: AuthorizerState
    added: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()
    refused: tuple[tuple[str, str], ...] = ()
    kept: tuple[tuple[str, str], ...] = ()
    repaired: tuple[str, ...] = ()
    # Removed although no deletion the registrar recorded asked for it.
    unrequested: tuple[str, ...] = ()

    @property
    def changed(self) -> bool:
        return bool(self.added or self.removed)


def reconcile_pools(
    desired: RegistryState,
    observed: AuthorizerState,
    port: ApiGateway,
    tenure: Tenure,
    bounds: plan.Bounds,
    *,
    judge_removals: bool,
) -> PoolsSeen:
    """Make the authorizer list what ``desired`` owns, within ``bounds``. ``judge_removals``:
    tell removals no request asked for from the requests' records (the function's own
    partition, which an operator's repair cannot read)."""
    registry = tenure.registry
    migrations.keep_live_owners_alive(
        registry.owners, (r for records in desired.owners.values() for r in records)
    )
    owned = desired.owned
    to_add = plan.adds(observed.provider_arns, owned, bounds)
    current, refused = port.patch_pools(
        observed, [(Change.ADD, arn) for arn in to_add], tenure.held()
    )
    for arn, reason in refused.items():
        for record in desired.owners.get(arn, ()):
            if not record.refused:
                registry.owners.mark_refused(arn, record.owner, record.request_id, reason)
    removals = plan.removals(current.provider_arns, desired.managed, owned, bounds, refused)
    current, refused_removals = port.patch_pools(
        current, [(Change.REMOVE, arn) for arn in removals.removes], tenure.held()
    )
    kept = dict(removals.kept)
    kept.update(
        (arn, plan.refused_removal_reason(reason)) for arn, reason in refused_removals.items()
    )
    added = tuple(arn for arn in to_add if arn not in refused)
    removed = tuple(arn for arn in removals.removes if arn not in refused_removals)
    outcomes = plan.pool_outcomes(
        {arn: (record.present, record.kept) for arn, record in desired.pools.items()},
        observed.provider_arns,
        added,
        removed,
        kept,
        holding=owned - set(refused),
    )
    tenure.record(
        pools=[PoolFact(o.arn, o.present, o.change.value, o.kept, o.forgettable) for o in outcomes]
    )
    unrequested = tuple(
        arn
        for arn in removed
        if judge_removals and not registry.removal_requested(desired.tombstones.get(arn, ()))
    )
    _log(outcomes, unrequested)
    return PoolsSeen(
        current,
        added,
        removed,
        tuple(refused.items()),
        tuple(kept.items()),
        tuple(o.arn for o in outcomes if o.repaired),
        unrequested,
    )


def _log(outcomes: list[plan.PoolOutcome], unrequested: tuple[str, ...]) -> None:
    for arn in unrequested:
        logger.warning(
            {
                "step": "authorizer",
                "outcome": "unrequested-removal",
                "pool": arn,
                "remedy": "the registry marked it managed, yet no deletion the registrar "
                "recorded asked for it: find who wrote to the registry",
            }
        )
    for outcome in outcomes:
        logger.info(
            {
                "step": "authorizer",
                "outcome": outcome.change.value,
                "pool": outcome.arn,
                **({"repaired": "true"} if outcome.repaired else {}),
                **({"kept": outcome.kept} if outcome.kept else {}),
            }
        )
