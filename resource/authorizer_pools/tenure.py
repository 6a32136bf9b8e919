"""A worker's hold on the authorizer's lease, as the reconcilers use it.

The lease (``registry.lease``) makes one worker at a time change the authorizer and the stages.
A reconciler calls AWS only within :meth:`Tenure.held` (the lease's time less a margin, or its
request's deadline if sooner), renews the lease right before every call that changes what is
served (:meth:`Tenure.hold`), and writes the ledger only while it still holds the lease
(:meth:`Tenure.record`): a worker that lost it changes nothing more.
"""

from __future__ import annotations

from collections.abc import Sequence

from . import timing
from .registry import PoolFact, Registry, StageFact
from .timing import Deadline

# How long the worker's lease lasts; it is renewed before every pass, deployment and UpdateStage.
LEASE_SECONDS = 60.0
# The worker stops calling AWS this long before its lease ends. Every call is bounded by the
# time left (``aws.CONFIG``'s timeouts are shorter than this margin), so no call the worker
# makes outlives its lease.
LEASE_MARGIN_SECONDS = 15.0


class LeaseLost(Exception):
    """Someone else is the worker now (this one was too slow): stop calling AWS."""


class Tenure:
    """The lease ``holder`` took at ``lease_from`` (monotonic), for a request due by
    ``deadline``."""

    def __init__(
        self, registry: Registry, holder: str, deadline: Deadline, lease_from: float
    ) -> None:
        self.holder = holder
        self.deadline = deadline
        # When the lease was last taken or renewed: measured *before* the call, so the time
        # the call took (its retries included) counts against the lease.
        self._lease_from = lease_from
        # Every registry call is bounded by the lease's time as it is when the call is made.
        self.registry = registry.bound_by(self.held)

    def held(self) -> Deadline:
        """The time this worker may still call AWS: its lease's, or its request's if sooner."""
        return Deadline(
            min(self.deadline.at, self._lease_from + LEASE_SECONDS - LEASE_MARGIN_SECONDS)
        )

    def hold(self) -> None:
        """Renew the lease right before a call that changes what is served."""
        started = timing.clock.monotonic()
        if not self.registry.lease.renew(self.holder, timing.clock.time() + LEASE_SECONDS):
            raise LeaseLost
        self._lease_from = started

    def next_epoch(self) -> int:
        """Begin a pass: the epoch it records what it saw under."""
        epoch = self.registry.lease.bump(self.holder)
        if epoch is None:
            raise LeaseLost
        return epoch

    def record(self, pools: Sequence[PoolFact] = (), stages: Sequence[StageFact] = ()) -> None:
        """Write what was done to the ledger, while the lease is still this worker's."""
        if (pools or stages) and not self.registry.ledger.record(self.holder, pools, stages):
            raise LeaseLost

    def record_served(
        self, epoch: int, served: Sequence[str], canary: Sequence[str], *, complete: bool
    ) -> None:
        """Tell the waiters which stages a pass of ``epoch`` saw serve the list."""
        if not self.registry.lease.record_served(
            self.holder, epoch, served, canary, complete=complete
        ):
            raise LeaseLost
