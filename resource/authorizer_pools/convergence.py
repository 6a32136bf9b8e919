"""Making the authorizer match the registry for one pool, from any number of containers at once.

The invariant, per authorizer: providerARNs = the unmanaged pools + {pools with a live owner}.

Whoever changes a pool's owners then calls :func:`converge`, which returns once the authorizer
matches a registry version at least as new as that change. Only the holder of the pool's lease
changes the pool on the authorizer; it reads the owners *after* taking the lease, and gives the
lease back only if the owners did not change meanwhile (else it looks again). So the last
holder to give the lease back has made the authorizer match the final owners, whatever the
interleaving. A holder that vanishes loses its lease when it expires; the next holder treats
what it may have done as unknown and decides from what the authorizer lists. The design note
``docs/ownership.md`` walks through the cases.
"""

from __future__ import annotations

import logging
import random
from dataclasses import dataclass, replace

from . import authorizer, plan, retries, timing
from .errors import AwsCallFailed, ResourceError
from .registry import ADDED, FOUND, PoolRecord, Registry
from .timing import Deadline

logger = logging.getLogger(__name__)

# How long a lease lasts; its holder renews it on each pass. Long enough for a pass (one read
# and one patch, retried through a few conflicts), short enough that a vanished holder blocks
# the pool only briefly.
LEASE_SECONDS = 60.0
# A holder stops changing the authorizer this long before its lease ends.
LEASE_MARGIN_SECONDS = 15.0
_POLL = retries.Backoff(base=0.2, cap=2.0)
_rng = random.Random()


@dataclass(frozen=True)
class Converged:
    """The pool as the authorizer now reflects it, and what this call did to the authorizer."""

    record: PoolRecord
    change: plan.Change


class LeaseLost(ResourceError):
    """Waited for another request's lease on the pool until this one's deadline."""


def converge(
    registry: Registry,
    arn: str,
    *,
    version: int,
    holder: str,
    deadline: Deadline,
) -> Converged:
    """Return once the authorizer reflects the pool's owners at ``version`` or later."""
    attempt = 0
    while True:
        attempt += 1
        now = timing.clock.time()
        before = registry.acquire(arn, holder, now=now, until=now + LEASE_SECONDS)
        if before is None:
            current = registry.pool(arn)
            if current is not None and current.applied >= version:
                unchanged = plan.Change.NONE_PRESENT if current.wanted else plan.Change.NONE_ABSENT
                return Converged(current, unchanged)
            _wait_for_lease(arn, current, attempt, deadline)
            continue
        try:
            outcome = _apply(
                registry,
                arn,
                before=before,
                holder=holder,
                deadline=deadline,
            )
        except AwsCallFailed:
            _abandon_quietly(registry, arn, holder)
            if deadline.allows(LEASE_MARGIN_SECONDS):
                continue  # the lease's time ran out, not the function's: take it again
            raise
        except BaseException:
            # Give the lease back at once rather than let others wait for it to expire.
            _abandon_quietly(registry, arn, holder)
            raise
        if outcome is not None:
            return outcome
        attempt = 0  # the owners changed while we held the lease: look again, at once


def _apply(
    registry: Registry,
    arn: str,
    *,
    before: PoolRecord,
    holder: str,
    deadline: Deadline,
) -> Converged | None:
    """One pass under the lease. None when the lease must be taken again."""
    lease_ends = timing.clock.monotonic() + LEASE_SECONDS - LEASE_MARGIN_SECONDS
    held = Deadline(min(deadline.at, lease_ends))
    # A lease taken over from another holder that expired, or a pool a holder was changing
    # when it stopped: the authorizer may have changed without being counted, so count a
    # change (a later deployment then covers it).
    unsure = before.changing or (before.lease_holder is not None and before.lease_holder != holder)
    state = authorizer.read(registry.rest_api_id, registry.authorizer_id, held)
    present = arn in state.provider_arns
    origin = before.origin
    change = plan.Change.NONE_PRESENT if present else plan.Change.NONE_ABSENT
    if origin is None and present:
        # On the authorizer, and never added through the registry: unmanaged, never removed.
        # Whether a stage serves it is unknown, so count a change.
        origin, unsure = FOUND, True
    wanted = before.owners > 0 or origin == FOUND
    if wanted and not present:
        new_origin = ADDED if origin is None else None
        if not registry.mark_changing(arn, holder, new_origin):
            return None
        origin = origin or ADDED
        change = authorizer.add_pool(state, arn, held)
    elif not wanted and present and origin == ADDED:
        if not registry.mark_changing(arn, holder, None):
            return None
        change = authorizer.remove_pool(state, arn, held)
    changed_seq = registry.next_seq() if change.changes_authorizer or unsure else None
    if not registry.release(arn, holder, before.version, origin, changed_seq):
        return None
    record = replace(
        before,
        applied=before.version,
        origin=origin,
        changed_seq=changed_seq if changed_seq is not None else before.changed_seq,
        lease_holder=None,
        lease_until=0.0,
    )
    return Converged(record, change)


def _wait_for_lease(arn: str, current: PoolRecord | None, attempt: int, deadline: Deadline) -> None:
    wait = _POLL.delay(attempt, _rng) + 0.05
    if not deadline.allows(wait):
        holder = current.lease_holder if current else "?"
        raise LeaseLost(
            f"pool {arn} is being changed by request {holder}; gave up waiting for it before "
            "this function's deadline (the next event or `reconcile` finishes the change)"
        )
    timing.clock.sleep(wait)


def _abandon_quietly(registry: Registry, arn: str, holder: str) -> None:
    try:
        registry.abandon(arn, holder)
    except Exception:  # the lease then simply expires
        logger.warning({"lease": "not given back", "pool": arn}, exc_info=True)
