"""The worker's lease and the authorizer's status: the one small item every waiter reads.

``authorizer`` holds:

- the lease (``worker``, ``worker_until`` in ms): one request at a time changes the authorizer
  and publishes, for everyone;
- ``epoch``: bumped by the worker, on condition that it holds the lease, right before each
  read of the registry it acts on. A pass whose epoch is greater than the one a request read
  after its owner change read that change;
- ``served``: stage → the epoch of the last pass that *saw* the stage serve the authorizer's
  whole list (GetStages showed the deployment it made or verified); ``canary``: stage → the
  epoch of a pass that saw a canary release on it serving another deployment; ``last_pass``:
  the epoch of the last pass that saw every stage the registrar publishes served.

A waiter reads this one item (eventually consistent, half a read unit) until ``served``
reaches past the epoch it read: ``served`` only grows, so a stale read can only delay it.

Only the worker writes here, yet anyone holding UpdateItem on the table could: a value no worker
could have written counts as none. ``served``, ``canary`` and ``last_pass`` past ``epoch`` (a
pass records what it saw at its own epoch, never ahead of it) stand for no pass, and a lease
ending further ahead than any worker takes one for (a minute, renewed) is no lease.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from . import codec
from .table import AUTHORIZER_SK, Partition

# How far apart two containers' clocks may be: a lease ending later than its taker's clock plus
# the lease's length plus this was written by no worker.
CLOCK_SKEW_SECONDS = 60.0


@dataclass(frozen=True)
class Status:
    epoch: int = 0
    worker_until: float = 0.0  # when the lease ends (0: no worker)
    served: Mapping[str, int] = field(default_factory=dict)
    canary: Mapping[str, int] = field(default_factory=dict)
    # The epoch of the last pass that finished: it read the owners and left the authorizer
    # matching them, and recorded what it saw served.
    last_pass: int = 0

    @classmethod
    def of(cls, item: Mapping[str, Any]) -> Status:
        epoch = int(item.get("epoch", 0))

        def reached(value: object) -> int:
            number = int(str(value))
            return number if number <= epoch else 0

        return cls(
            epoch=epoch,
            worker_until=int(item.get("worker_until", 0)) / 1000.0,
            served={name: reached(e) for name, e in dict(item.get("served", {})).items()},
            canary={name: reached(e) for name, e in dict(item.get("canary", {})).items()},
            last_pass=reached(item.get("last_pass", 0)),
        )

    def lease_free(self, now: float, lease_seconds: float) -> bool:
        """Whether no worker holds the lease at ``now``: none took it, its lease ended, or it
        ends later than any worker's could (``lease_seconds`` from now, give or take the
        clocks' skew)."""
        return not now <= self.worker_until <= now + lease_seconds + CLOCK_SKEW_SECONDS

    def serves(self, stage_names: Iterable[str], epoch: int) -> bool:
        """Whether a pass at ``epoch`` or later finished and saw every one of these stages
        served."""
        return self.last_pass >= epoch and all(
            self.served.get(name, 0) >= epoch for name in stage_names
        )

    def canary_blocked(self, stage_names: Iterable[str]) -> list[str]:
        """The stages whose last served pass found a canary serving another deployment."""
        return [
            name
            for name in stage_names
            if name in self.canary and self.canary[name] == self.served.get(name)
        ]


class Lease:
    def __init__(self, partition: Partition) -> None:
        self.partition = partition

    def status(self, *, consistent: bool) -> Status:
        return Status.of(self.partition.get(AUTHORIZER_SK, consistent=consistent))

    def take(self, holder: str, now: float, until: float) -> bool:
        """Become the worker until ``until``: when nobody is, or the last one's lease expired
        (or ends later than any worker's could). Never while another holder's lease runs, not
        even another invocation of the same CloudFormation request: Lambda may deliver a request
        twice at once, and the first copy may still be calling AWS (a late call of its would
        undo what this one publishes)."""
        return (
            self.partition.update(
                AUTHORIZER_SK,
                "SET worker = :holder, worker_until = :until, epoch = if_not_exists(epoch, :zero), "
                "served = if_not_exists(served, :empty), canary = if_not_exists(canary, :empty)",
                {
                    ":holder": holder,
                    ":until": codec.millis(until),
                    ":now": codec.millis(now),
                    ":longest": codec.millis(until + CLOCK_SKEW_SECONDS),
                    ":zero": 0,
                    ":empty": {},
                },
                condition="attribute_not_exists(worker) OR worker_until < :now "
                "OR worker_until > :longest",
            )
            is not None
        )

    def renew(self, holder: str, until: float) -> bool:
        """Extend the lease; False when it is no longer ``holder``'s."""
        return (
            self.partition.update(
                AUTHORIZER_SK,
                "SET worker_until = :until",
                {":holder": holder, ":until": codec.millis(until)},
                condition="worker = :holder",
            )
            is not None
        )

    def bump(self, holder: str) -> int | None:
        """The next epoch, taken as the worker; None when the lease is lost."""
        found = self.partition.update(
            AUTHORIZER_SK,
            "SET epoch = epoch + :one",
            {":holder": holder, ":one": 1},
            condition="worker = :holder",
            returns=True,
        )
        return None if found is None else int(found["epoch"])

    def release(self, holder: str) -> None:
        self.partition.update(
            AUTHORIZER_SK,
            "REMOVE worker, worker_until",
            {":holder": holder},
            condition="worker = :holder",
        )

    def record_served(
        self,
        holder: str,
        epoch: int,
        served: Iterable[str],
        canary: Iterable[str],
        *,
        complete: bool,
    ) -> bool:
        """A pass at ``epoch`` saw ``served`` serve the authorizer's list (``canary``: with a
        canary on another deployment); ``complete``: every stage it publishes. False when the
        lease is no longer ``holder``'s."""
        names: dict[str, str] = {}
        sets = ["last_pass = :epoch"] if complete else []
        for number, name in enumerate(sorted(set(served))):
            names[f"#s{number}"] = name
            sets.append(f"served.#s{number} = :epoch")
        for number, name in enumerate(sorted(set(canary))):
            names[f"#c{number}"] = name
            sets.append(f"canary.#c{number} = :epoch")
        if not sets:
            return True
        return (
            self.partition.update(
                AUTHORIZER_SK,
                "SET " + ", ".join(sets),
                {":holder": holder, ":epoch": epoch},
                condition="worker = :holder",
                names=names,
            )
            is not None
        )
