"""Items only an older version of the registrar wrote: how they are still read, and repaired.

Every shim here is for a registry written before 0.1.0, by the development versions that came
before the first release; 0.1.0 and later never write these shapes. Each can go once no such
registry can be deployed any more: in the release after the one that says so in CHANGELOG.md.
Until then a registry of that age keeps its pools managed and its live owners alive.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING

from .owners import owner_sk

if TYPE_CHECKING:
    from .owners import Owners
    from .state import OwnerRecord

# A pool item written before ``managed`` existed was made only by owner changes: its owners'
# counter and the change's origin stand for the flag.
_POOL_ATTRIBUTES_BEFORE_THE_MANAGED_FLAG = ("owners", "origin")


def managed_before_the_flag(item: Mapping[str, object]) -> bool:
    """A pool item a registration wrote before the ``managed`` flag."""
    return any(name in item for name in _POOL_ATTRIBUTES_BEFORE_THE_MANAGED_FLAG)


def live_owner_with_a_ttl(item: Mapping[str, object]) -> bool:
    """A live owner carrying DynamoDB's TTL attribute: a version before 0.1.0 let time take live
    owners, which would take the tenant's pool off the authorizer with nobody asking."""
    return item.get("live") is True and "expires_at" in item


def keep_live_owners_alive(owners: Owners, records: Iterable[OwnerRecord]) -> None:
    """Take the TTL attribute off every live owner that still carries one (each pass, before
    anything else: time must not take an owner the pass counts on)."""
    for record in records:
        if record.expiring:
            owners.partition.update(
                owner_sk(record.arn, record.owner),
                "REMOVE expires_at",
                {":true": True},
                condition="live = :true",
            )
