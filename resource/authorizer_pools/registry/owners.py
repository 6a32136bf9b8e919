"""Owners: who registered which pool. One item per registration, never a counter.

``owner#<pool arn>#<stack id>#<logical id>`` holds the registration (its stack and logical id,
the request that made it live, when) and whether it is ``live``. Every change of an owner is
conditioned on the request that makes it having no answer recorded (``registry.requests``): a
late invocation of a request already answered (a Lambda retry, a duplicate, a late
continuation) changes no owner, whenever it arrives. Within one request, every change is safe to
repeat: an owner already live is not made live again, a tombstone is not buried again.

Only a dead owner (a tombstone) carries ``expires_at``, DynamoDB's TTL attribute: time can take
a tombstone, never a live owner. A live owner whose pool API Gateway refused to add carries
``refused`` (the worker's note): it is not wanted on the authorizer until a new request for it
arrives.

The first registration of a pool also marks ``pool#<arn>`` as *managed* (in the same
transaction): from then on the pool is on the authorizer exactly when it has a live owner.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from .table import Partition

# How long a gone owner's item outlives it: a day, so that the worker's reads grow with the live
# owners and a day's departures, not with history (replays are told apart by the requests'
# own records, not by tombstones).
TOMBSTONE_SECONDS = 24 * 3600
# ``deleted_by`` of an owner a FAILED answer of its own Create or Update took back.
UNDO = "undo:"


@dataclass(frozen=True, order=True)
class Owner:
    """A registration's owner: the resource in its stack (both survive every update)."""

    stack_id: str
    logical_id: str

    @property
    def stack_name(self) -> str:
        parts = self.stack_id.split("/")
        return parts[1] if len(parts) >= 3 else self.stack_id

    def __str__(self) -> str:
        return f"{self.stack_name}/{self.logical_id}"


OWNER_PREFIX = "owner#"
POOL_PREFIX = "pool#"


def owner_sk(arn: str, owner: Owner) -> str:
    return f"{OWNER_PREFIX}{arn}#{owner.stack_id}#{owner.logical_id}"


def pool_sk(arn: str) -> str:
    return f"{POOL_PREFIX}{arn}"


class Owners:
    def __init__(self, partition: Partition) -> None:
        self.partition = partition

    def add(
        self,
        arn: str,
        owner: Owner,
        request_id: str,
        *,
        checks: Sequence[dict[str, Any]] = (),
        claimed: bool = False,
    ) -> list[str] | None:
        """Make ``owner`` a live, unrefused owner of the pool, and the pool managed, if
        ``checks`` (ConditionCheck or other conditioned actions, written together) hold. None
        when written; else why nothing changed, one cancellation code per action (the owner's,
        the pool's, then each of ``checks``): it is live already (refused by API Gateway only
        through another request: a new request asks again, this one does not), or a check
        failed. ``claimed``: the pool has a claim, known by this very write (``registry.claims``;
        a claim is never deleted), so the scheduled run need not look for one."""
        part = self.partition
        owner_write = part.update_action(
            owner_sk(arn, owner),
            "SET live = :true, arn = :arn, stack_id = :stack, logical_id = :logical, "
            "request_id = :request, registered_at = :at"
            + (", claimed = :true" if claimed else "")
            + " REMOVE expires_at, refused, handled",
            {
                ":true": True,
                ":false": False,
                ":arn": arn,
                ":stack": owner.stack_id,
                ":logical": owner.logical_id,
                ":request": request_id,
                ":at": datetime.now(UTC).isoformat(timespec="seconds"),
            },
            condition="attribute_not_exists(live) OR live = :false "
            "OR (attribute_exists(refused) AND request_id <> :request)",
        )
        managed = part.update_action(
            pool_sk(arn),
            "SET arn = :arn, managed = :true REMOVE expires_at",
            {":arn": arn, ":true": True},
        )
        return part.transact([owner_write, managed, *checks])

    def remove(
        self, arn: str, owner: Owner, request_id: str, *, checks: Sequence[dict[str, Any]] = ()
    ) -> bool:
        """Make ``owner`` a tombstone, if ``checks`` hold. False when nothing changed: it was
        not live, or a check failed."""
        tombstone = self.partition.update_action(
            owner_sk(arn, owner),
            "SET live = :false, deleted_by = :request, expires_at = :expires "
            "REMOVE refused, handled",
            {
                ":true": True,
                ":false": False,
                ":request": request_id,
                ":expires": _tombstone_expiry(),
            },
            condition="live = :true",
        )
        return self.partition.transact([tombstone, *checks]) is None

    def take_back_action(self, arn: str, owner: Owner, request_id: str) -> dict[str, Any]:
        """The write that makes ``owner`` a tombstone if ``request_id`` is the request that made
        it live (a failed Create or Update takes back only its own doing). Only in the
        transaction that records the request's FAILED answer (``Registry.decide``)."""
        return self.partition.update_action(
            owner_sk(arn, owner),
            "SET live = :false, deleted_by = :undo, expires_at = :expires REMOVE refused",
            {
                ":true": True,
                ":false": False,
                ":request": request_id,
                ":undo": f"{UNDO}{request_id}",
                ":expires": _tombstone_expiry(),
            },
            condition="live = :true AND request_id = :request",
        )

    def retire(self, arn: str, owner: Owner, request_id: str) -> bool:
        """Make ``owner`` a tombstone because CloudFormation no longer holds its registration
        (``departures``), if it is still live through ``request_id``. False when it is not."""
        return (
            self.partition.update(
                owner_sk(arn, owner),
                "SET live = :false, deleted_by = :retired, expires_at = :expires "
                "REMOVE refused, handled",
                {
                    ":true": True,
                    ":false": False,
                    ":request": request_id,
                    ":retired": f"retired:{request_id}",
                    ":expires": _tombstone_expiry(),
                },
                condition="live = :true AND request_id = :request",
            )
            is not None
        )

    def not_made_live_by(self, arn: str, owner: Owner, request_id: str) -> dict[str, Any]:
        """A ConditionCheck: ``owner`` is not live through ``request_id``."""
        return self.partition.check_action(
            owner_sk(arn, owner),
            "NOT (live = :true AND request_id = :request)",
            {":true": True, ":request": request_id},
        )

    def mark_refused(self, arn: str, owner: Owner, request_id: str, reason: str) -> None:
        """API Gateway refused to add the pool while ``owner`` was live through
        ``request_id``: that owner is not wanted until a new request arrives."""
        self.partition.update(
            owner_sk(arn, owner),
            "SET refused = :reason",
            {":reason": reason, ":true": True, ":request": request_id},
            condition="live = :true AND request_id = :request",
        )

    def stacks(self, arn: str) -> tuple[frozenset[str], frozenset[str]]:
        """The stacks with a live owner of the pool, and those with any owner item of it."""
        items = list(self.partition.query(f"{OWNER_PREFIX}{arn}#"))
        live = frozenset(str(item.get("stack_id")) for item in items if item.get("live") is True)
        return live, frozenset(str(item.get("stack_id")) for item in items)

    def get(self, arn: str, owner: Owner) -> dict[str, object]:
        return self.partition.get(owner_sk(arn, owner))


def _tombstone_expiry() -> int:
    # DynamoDB's TTL compares with the real time, whatever clock the function runs on.
    return int(datetime.now(UTC).timestamp()) + TOMBSTONE_SECONDS
