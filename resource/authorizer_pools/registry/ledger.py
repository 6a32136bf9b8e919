"""The ledger: what the worker last did to each pool and saw on each stage.

- ``pool#<arn>`` (made *managed* by its first registration, see ``owners``): ``present``, whether
  the worker last found or left the pool on the authorizer; ``kept``, why a pool with no owner
  stays (API Gateway refuses an empty list, or refused the removal); ``last_change``.
- ``stage#<name>``: the deployment the worker last saw the stage serve, and the fingerprint of
  the pool list that deployment was made from.

None of this is trusted to decide what is wanted: the worker decides from the owners and from
what API Gateway answers. The ledger tells a repair (a pool that was present and is found
missing) from a change, and which deployment serves which list.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from .owners import pool_sk
from .state import PoolRecord, is_managed
from .table import AUTHORIZER_SK, TRANSACTION_LIMIT, Partition

# How long the entry of a pool off the authorizer with no owner is kept: its last owner's Delete
# and any late pass over it are long done by then (DynamoDB's TTL deletes it some time later).
FORGET_SECONDS = 7 * 24 * 3600


def stage_sk(stage_name: str) -> str:
    return f"stage#{stage_name}"


@dataclass(frozen=True)
class PoolFact:
    arn: str
    present: bool
    last_change: str
    kept: str | None = None
    # Off the authorizer with no live owner: the entry may go (DynamoDB's TTL), so that the
    # registry grows with live tenants, not with every pool ever registered.
    forgettable: bool = False


@dataclass(frozen=True)
class StageFact:
    stage_name: str
    deployment_id: str
    fingerprint: str


class Ledger:
    def __init__(self, partition: Partition) -> None:
        self.partition = partition

    def pool(self, arn: str) -> PoolRecord | None:
        """The pool's entry; None when no registration ever named it (it is not managed)."""
        item = self.partition.get(pool_sk(arn))
        if not is_managed(item):
            return None
        return PoolRecord(arn, item.get("present"), item.get("kept"), item.get("last_change"))

    def record(self, holder: str, pools: Sequence[PoolFact], stages: Sequence[StageFact]) -> bool:
        """Write these facts as the worker; False when the lease is no longer ``holder``'s
        (nothing of that chunk is written)."""
        part = self.partition
        writes = [_pool_write(part, fact) for fact in pools]
        writes += [
            part.update_action(
                stage_sk(fact.stage_name),
                "SET deployment_id = :deployment, fingerprint = :fingerprint",
                {":deployment": fact.deployment_id, ":fingerprint": fact.fingerprint},
            )
            for fact in stages
        ]
        lease = part.check_action(AUTHORIZER_SK, "worker = :holder", {":holder": holder})
        step = TRANSACTION_LIMIT - 1
        for start in range(0, len(writes), step):
            if part.transact([lease, *writes[start : start + step]]) is not None:
                return False
        return True


def _pool_write(part: Partition, fact: PoolFact) -> dict[str, object]:
    values: dict[str, object] = {
        ":present": fact.present,
        ":change": fact.last_change,
        ":arn": fact.arn,
        ":true": True,
    }
    sets = ["arn = :arn", "present = :present", "last_change = :change", "managed = :true"]
    removes = []
    if fact.kept:
        sets.append("kept = :kept")
        values[":kept"] = fact.kept
    else:
        removes.append("kept")
    if fact.forgettable:
        sets.append("expires_at = :expires")
        values[":expires"] = int(datetime.now(UTC).timestamp()) + FORGET_SECONDS
    else:
        removes.append("expires_at")
    expression = "SET " + ", ".join(sets) + (" REMOVE " + ", ".join(removes) if removes else "")
    return part.update_action(pool_sk(fact.arn), expression, values)
