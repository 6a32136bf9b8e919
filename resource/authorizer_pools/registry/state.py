"""Everything the registry holds for one authorizer, read in one Query."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from ..answer import FAILED
from . import migrations
from .owners import OWNER_PREFIX, POOL_PREFIX, UNDO, Owner
from .requests import RequestRecord
from .table import Partition


@dataclass(frozen=True)
class OwnerRecord:
    """A live owner."""

    arn: str
    owner: Owner
    request_id: str
    registered_at: str
    refused: str | None = None
    # A live owner carrying a TTL attribute (migrations.live_owner_with_a_ttl): the worker takes
    # the attribute off.
    expiring: bool = False
    # Written with the pool's claim in hand (``Owners.add``): the pool has a claim for good.
    claimed: bool = False


@dataclass(frozen=True)
class Tombstone:
    """A gone owner, and the request that ended it (``deleted_by``: a Delete's request id, or
    ``undo:<request id>`` for a Create or Update whose FAILED answer took it back)."""

    arn: str
    owner: Owner
    deleted_by: str

    @property
    def request_id(self) -> str:
        return self.deleted_by.removeprefix(UNDO)

    def ended_by(self, request: RequestRecord) -> bool:
        """Whether ``request`` (the function's record of the request the tombstone names) is
        what ends an owner: that owner's Delete of that pool, or its Create or Update of that
        pool answered FAILED, which took the owner back."""
        if (request.stack_id, request.logical_id, request.pool) != (
            self.owner.stack_id,
            self.owner.logical_id,
            self.arn,
        ):
            return False
        if self.deleted_by.startswith(UNDO):
            return request.answer is not None and request.answer.get("status") == FAILED
        return request.request_type == "Delete"


@dataclass(frozen=True)
class PoolRecord:
    """A managed pool: a registration named it at least once."""

    arn: str
    present: bool | None = None  # None: the worker has not looked at it yet
    kept: str | None = None
    last_change: str | None = None


@dataclass(frozen=True)
class StageRecord:
    stage_name: str
    deployment_id: str | None
    fingerprint: str | None


@dataclass(frozen=True)
class RegistryState:
    owners: Mapping[str, tuple[OwnerRecord, ...]] = field(default_factory=dict)
    pools: Mapping[str, PoolRecord] = field(default_factory=dict)
    stages: Mapping[str, StageRecord] = field(default_factory=dict)
    # Gone owners still remembered (a day: owners.TOMBSTONE_SECONDS), by pool.
    tombstones: Mapping[str, tuple[Tombstone, ...]] = field(default_factory=dict)

    @property
    def managed(self) -> frozenset[str]:
        return frozenset(self.pools)

    @property
    def owned(self) -> frozenset[str]:
        """Pools with at least one live owner that API Gateway has not refused."""
        return frozenset(
            arn for arn, owners in self.owners.items() if any(not o.refused for o in owners)
        )


def is_managed(item: Mapping[str, object]) -> bool:
    """Whether a registration ever named the pool."""
    return item.get("managed") is True or migrations.managed_before_the_flag(item)


def read_state(partition: Partition) -> RegistryState:
    owners: dict[str, list[OwnerRecord]] = {}
    pools: dict[str, PoolRecord] = {}
    stages: dict[str, StageRecord] = {}
    tombstones: dict[str, list[Tombstone]] = {}
    for item in partition.query():
        sk = str(item.get("sk", ""))
        if sk.startswith(OWNER_PREFIX):
            owner = Owner(str(item.get("stack_id", "")), str(item.get("logical_id", "")))
            if item.get("live") is not True:
                arn = str(item.get("arn", ""))
                gone = Tombstone(arn, owner, str(item.get("deleted_by", "")))
                tombstones.setdefault(arn, []).append(gone)
                continue
            record = OwnerRecord(
                arn=str(item.get("arn", "")),
                owner=owner,
                request_id=str(item.get("request_id", "")),
                registered_at=str(item.get("registered_at", "")),
                refused=item.get("refused"),
                expiring=migrations.live_owner_with_a_ttl(item),
                claimed=item.get("claimed") is True,
            )
            owners.setdefault(record.arn, []).append(record)
        elif sk.startswith(POOL_PREFIX) and is_managed(item):
            arn = sk.removeprefix(POOL_PREFIX)
            pools[arn] = PoolRecord(
                arn, item.get("present"), item.get("kept"), item.get("last_change")
            )
        elif sk.startswith("stage#"):
            name = sk.removeprefix("stage#")
            stages[name] = StageRecord(name, item.get("deployment_id"), item.get("fingerprint"))
    # An owned pool whose entry time took (its TTL raced a new registration) is managed still:
    # the next pass writes its entry again.
    for arn in owners:
        pools.setdefault(arn, PoolRecord(arn))
    return RegistryState(
        owners={arn: tuple(sorted(found, key=lambda o: o.owner)) for arn, found in owners.items()},
        pools=pools,
        stages=stages,
        tombstones={arn: tuple(found) for arn, found in tombstones.items()},
    )
