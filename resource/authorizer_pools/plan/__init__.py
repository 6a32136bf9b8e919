"""The rules, in one package, pure: what the authorizer and each stage should be, decided from what
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

from .authorizer import (
    KEEP_LAST_POOL_REASON,
    UNBOUNDED,
    Bounds,
    Change,
    PoolOutcome,
    Removals,
    adds,
    fingerprint,
    listed_after,
    patch_operation,
    pool_outcomes,
    refused_removal_reason,
    removals,
)
from .claims import CLAIMED_ELSEWHERE, PoolStacks, claim_refusal
from .departures import HeldRecord, departure
from .stages import (
    StageVerdict,
    StageView,
    has_canary,
    needs_flush_to_count,
    seen_serving,
    stage_verdict,
)
from .survey import PoolState, PoolStatus, StageState, classify_pools, classify_stage, wanted_list

__all__ = [
    "CLAIMED_ELSEWHERE",
    "KEEP_LAST_POOL_REASON",
    "UNBOUNDED",
    "Bounds",
    "Change",
    "HeldRecord",
    "PoolOutcome",
    "PoolStacks",
    "PoolState",
    "PoolStatus",
    "Removals",
    "StageState",
    "StageVerdict",
    "StageView",
    "adds",
    "claim_refusal",
    "classify_pools",
    "classify_stage",
    "departure",
    "fingerprint",
    "has_canary",
    "listed_after",
    "needs_flush_to_count",
    "patch_operation",
    "pool_outcomes",
    "refused_removal_reason",
    "removals",
    "seen_serving",
    "stage_verdict",
    "wanted_list",
]
