"""The controller runtime: one worker at a time, passes, epochs, waiting and hand-over.

Level-triggered, like a Kubernetes controller: a *pass* reads the whole desired and actual state
and applies the whole difference (what a pass does is the reconcilers', composed in
``convergence``; this module knows nothing of API Gateway). One worker at a time holds the
authorizer's lease and works for everyone; the others wait cheaply on one small item
(``registry.lease``). Every pass begins by bumping the lease's *epoch* and ends by recording
which stages it saw served under that epoch. A request is live when a pass that began after its
owner change (a greater epoch) saw every one of its stages served. ``docs/ownership.md`` gives
the protocol and why every interleaving keeps the invariant.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import NamedTuple

from . import timing
from .aws_errors import ConditionFailed, NotFound, Refused
from .errors import AwsCallFailed, ResourceError
from .registry import Registry, Status
from .tenure import LEASE_MARGIN_SECONDS, LEASE_SECONDS, LeaseLost, Tenure
from .timing import Deadline

logger = logging.getLogger(__name__)

# Passes one worker makes before it lets someone else take over (and answers its own request).
MAX_PASSES = 4
# Waiting requests read one small item every 0.5 to 1.5 s, eventually consistent: half a read
# unit a second on average, so that 1,000 waiters (Cognito's default pools per region) take a
# sixth of one partition's 3,000 read units.
_POLL_SECONDS = (0.5, 1.5)
_rng = random.Random()
_RELEASE_SECONDS = 2.0
# What a waiter keeps for its next read of the status.
_READ_SECONDS = 2.0

# One pass under a tenure: True when it could not finish (the next pass must try again).
Pass = Callable[[Tenure], bool]


@dataclass(frozen=True)
class Pending:
    """The change is recorded, but not yet seen live everywhere, and the deadline came first:
    a later invocation goes on."""

    reason: str


class Waited(NamedTuple):
    status: Status
    target: int  # the first epoch of a pass begun after the wait did
    worked: bool  # this caller's own passes ran, when it stopped after working


def await_pass(
    registry: Registry,
    deadline: Deadline,
    stages: Sequence[str],
    work: Callable[[], bool],
    *,
    own_pass_enough: bool,
) -> Waited | Pending:
    """Wait for a pass that began after this call to see every stage of ``stages`` served,
    working as the worker when nobody is (``work``: :func:`work_if_free` with the caller's
    pass; ``own_pass_enough``: return as soon as this caller worked, whatever its passes
    achieved). :class:`Pending` when ``deadline`` comes first."""
    status = registry.lease.status(consistent=True)
    # Any pass whose epoch is past this one bumped it after this read, so after the caller's
    # owner change (or the change a repair event tells of), and read the owners after that.
    target = status.epoch + 1
    while True:
        if status.serves(stages, target):
            return Waited(status, target, worked=False)
        if status.lease_free(timing.clock.time(), LEASE_SECONDS):
            try:
                worked = work()
            except AwsCallFailed as failure:
                if not failure.transient:
                    raise
                # AWS stayed busy for the whole lease: try again while there is time (the
                # wait below says when there is not).
                worked = False
            if worked and own_pass_enough:
                return Waited(status, target, worked=True)
            if worked:
                if not deadline.allows(_READ_SECONDS):
                    return Pending("worked until the deadline")
                status = registry.lease.status(consistent=True)
                continue
        wait = _rng.uniform(*_POLL_SECONDS)
        if not deadline.allows(wait + _READ_SECONDS):
            return Pending("recorded, not yet live on every stage when the deadline came")
        timing.clock.sleep(wait)
        status = registry.lease.status(consistent=False)


def work_if_free(
    registry: Registry,
    holder: str,
    deadline: Deadline,
    one_pass: Pass,
    *,
    afterwards: Callable[[], None] | None = None,
) -> bool:
    """Be the authorizer's worker for a few passes if its lease is free (or already this
    request's); False when someone else holds it. The lease is released afterwards, even when
    the worker used all its time: the others need not wait for it to expire. ``afterwards``
    runs once the lease was taken and released, whatever the passes raised."""
    started = timing.clock.monotonic()
    now = timing.clock.time()
    if not registry.lease.take(holder, now, now + LEASE_SECONDS):
        return False
    try:
        _run(Tenure(registry, holder, deadline, started), one_pass)
    finally:
        release = Deadline(timing.clock.monotonic() + _RELEASE_SECONDS)
        try:
            # One small write, within the time kept back for the answer.
            registry.bound_by(release).lease.release(holder)
        except ResourceError:
            logger.warning({"step": "release-lease", "outcome": "failed: it expires by itself"})
        if afterwards is not None:
            afterwards()
    return True


def _run(tenure: Tenure, one_pass: Pass) -> None:
    for number in range(MAX_PASSES):
        try:
            if number:
                tenure.hold()
            busy = one_pass(tenure)
        except LeaseLost:
            logger.warning({"step": "work", "outcome": "lease-lost", "holder": tenure.holder})
            return
        except (NotFound, Refused, ConditionFailed):
            raise  # an answer about the request, not the lease's time running out
        except AwsCallFailed:
            if tenure.deadline.allows(LEASE_MARGIN_SECONDS) and not tenure.held().allows(1.0):
                return  # the lease's time ran out, not the request's: hand over
            raise
        if not busy:
            return
