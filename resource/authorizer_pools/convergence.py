"""Making the authorizer and the stages match the registry: one worker at a time, for everyone.

The invariant, per authorizer: providerARNs = the unmanaged pools + {pools with a live owner},
and every named stage serves a deployment made after the last change.

A request that changed owners calls :func:`settle`, which returns once its pool's change is on
the authorizer and served on its stages. Only the authorizer's *worker* (a lease in the
registry) changes the authorizer and deploys. Whoever finds work waiting and the lease free
becomes the worker and does the work of every request at once: it reads the dirty pools *after*
taking the lease, sends their changes in as few UpdateAuthorizer calls as it can (one patch
operation per ARN), then makes one deployment for all the stages that are behind. The others
wait: when the worker's deployment covers their change, they are done without a call to API
Gateway. ``docs/ownership.md`` gives the protocol and why every interleaving keeps the
invariant.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Sequence
from dataclasses import dataclass

from botocore.exceptions import ClientError

from . import authorizer, plan, publishing, retries, timing
from .errors import AwsCallFailed, ResourceError
from .registry import ADDED, FOUND, PoolRecord, Registry, Settlement
from .timing import Deadline

logger = logging.getLogger(__name__)

# How long the worker's lease lasts; it is renewed on every pass. Long enough for a pass,
# short enough that a vanished worker holds everyone up only briefly.
LEASE_SECONDS = 60.0
# A worker stops changing things this long before its lease ends.
LEASE_MARGIN_SECONDS = 15.0
# Passes one worker makes before it lets someone else take over (and answers its own request).
MAX_PASSES = 4
# Patch operations per UpdateAuthorizer call (API Gateway documents no maximum; stay modest).
MAX_OPERATIONS = 50
# Rounds of applying newly arrived changes before a deployment.
_MAX_APPLY_ROUNDS = 8
# Waiting requests poll the registry every 0.5 to 1 s: soon enough after the worker's
# deployment (a longer cap left the last answers seconds behind it), rarely enough that 200
# waiters read about 2,000 units a second (a transactional read costs 2 per item), within one
# DynamoDB partition's 3,000.
_POLL = retries.Backoff(base=0.25, cap=0.5)
_POLL_FLOOR = 0.5
_rng = random.Random()


class NotYetLive(Exception):
    """The change is recorded, but not yet live everywhere, and this invocation's time is up:
    the request is to be finished by a later invocation (crhelper's polling)."""

    physical_id: str | None = None


# API Gateway's answers to too much at once (its quotas, overlapping changes): worth waiting
# out, past this invocation if need be. Anything else that persists is a failure.
_CONGESTION = frozenset({"TooManyRequestsException", "ConflictException"})


class Refused(ResourceError):
    """API Gateway refused to add the pool (its message is the reason)."""


@dataclass(frozen=True)
class Publication:
    """How a worker makes a change live on several stages."""

    # "update-stage": one CreateDeployment, pointed at the other stages with UpdateStage
    # (CreateDeployment is allowed once per 5 s per account; UpdateStage only counts in the
    # 10 calls/s). "per-stage": one CreateDeployment per stage.
    strategy: str = "update-stage"


# What the function does. ``make bench`` swaps in "per-stage" in a variant of the function, to
# measure the alternative on the same model (see README, "Launch day").
PUBLICATION = Publication()


def settle(
    registry: Registry,
    arn: str,
    *,
    version: int | None,
    stage_names: Sequence[str],
    holder: str,
    deadline: Deadline,
) -> PoolRecord:
    """Return once the authorizer reflects the pool's owners at ``version`` (None: the version
    read now, after the caller's own owner change) and every stage in ``stage_names`` serves
    it. Raises :class:`NotYetLive` when the deadline comes first, :class:`Refused` when API
    Gateway refused the pool."""
    polls = 0
    while True:
        look = registry.look(arn, stage_names)
        missing = [name for name in stage_names if name not in look.published]
        if missing:
            registry.want_stages(missing)  # the worker then publishes them too
        record = look.pool or PoolRecord(arn)
        if version is None:
            version = record.version
        if version and record.refused_version >= version:
            raise Refused(record.refused or "refused by API Gateway")
        if (
            record.applied >= version
            and not record.changing
            and not missing
            and all(look.published[name] >= record.changed_seq for name in stage_names)
        ):
            return record
        # Only try for the lease when it looks free: a refused try costs as much as a read.
        try:
            worked = look.worker_until < timing.clock.time() and _work_if_free(
                registry, holder, deadline
            )
        except AwsCallFailed as failure:
            if failure.code in _CONGESTION:
                raise NotYetLive(f"pool {arn}: API Gateway is busy ({failure})") from failure
            raise
        if worked:
            polls = 0
            continue
        polls += 1
        wait = _POLL.delay(polls, _rng) + _POLL_FLOOR
        if not deadline.allows(wait + LEASE_MARGIN_SECONDS):
            raise NotYetLive(
                f"pool {arn}: recorded, not yet live on every stage when this invocation "
                "had to stop"
            )
        timing.clock.sleep(wait)


def catch_up(
    registry: Registry,
    *,
    stage_names: Sequence[str],
    holder: str,
    deadline: Deadline,
) -> None:
    """Return once no pool is dirty and every stage in ``stage_names`` serves every counted
    change (for ``reconcile``: drift is announced by no owner change)."""
    registry.want_stages(stage_names)
    polls = 0
    while True:
        seq = registry.current_seq()
        stages = registry.stages()
        if not registry.dirty_pools() and all(
            stages[name].published_seq >= seq for name in stage_names if name in stages
        ):
            return
        if _work_if_free(registry, holder, deadline):
            polls = 0
            continue
        polls += 1
        wait = _POLL.delay(polls, _rng) + _POLL_FLOOR
        if not deadline.allows(wait):
            raise NotYetLive("the registry's changes are not yet all live: run reconcile again")
        timing.clock.sleep(wait)


def _work_if_free(registry: Registry, holder: str, deadline: Deadline) -> bool:
    """Be the authorizer's worker for a few passes, if its lease is free (or already this
    request's); False when someone else holds it."""
    now = timing.clock.time()
    if not registry.take_worker(holder, now, now + LEASE_SECONDS):
        return False
    try:
        Worker(registry, holder, deadline, PUBLICATION).run()
    finally:
        registry.release_worker(holder)
    return True


class Worker:
    """The authorizer's worker, for a few passes: apply every dirty pool, publish every stage
    that is behind."""

    def __init__(
        self, registry: Registry, holder: str, deadline: Deadline, publication: Publication
    ) -> None:
        self.registry = registry
        self.holder = holder
        self.deadline = deadline
        self.publication = publication

    def run(self) -> None:
        for _ in range(MAX_PASSES):
            now = timing.clock.time()
            if not self.registry.take_worker(self.holder, now, now + LEASE_SECONDS):
                return  # the lease was lost: someone else is the worker now
            lease_ends = timing.clock.monotonic() + LEASE_SECONDS - LEASE_MARGIN_SECONDS
            held = Deadline(min(self.deadline.at, lease_ends))
            try:
                if not self._pass(held):
                    return
            except AwsCallFailed:
                if self.deadline.allows(LEASE_MARGIN_SECONDS):
                    return  # the lease's time ran out, not the request's: hand over
                raise

    def _pass(self, held: Deadline) -> bool:
        """Apply every dirty pool, publish every stage behind. False when there was nothing to
        do, or the lease was lost."""
        dirty = self.registry.dirty_pools()
        applied = 0
        while dirty and applied < _MAX_APPLY_ROUNDS:
            if not self._apply(dirty, held):
                return False
            applied += 1
            # Requests keep arriving while we apply (on launch day, hundreds within a second
            # or two): take them in before deploying. The next deployment may be 5 s away.
            dirty = self.registry.dirty_pools()
        seq = self.registry.current_seq()
        behind = [s for s in self.registry.stages().values() if s.published_seq < seq]
        if not applied and not behind:
            return False
        if behind:
            try:
                self._publish([s.stage_name for s in behind], seq, held)
            except publishing.Throttled as throttled:
                # Someone deployed less than 5 s ago. Wait, then apply what arrived in the
                # meantime before deploying, so the deployment covers it too.
                retries.pause("CreateDeployment", throttled.error, 1, held)
        return True

    # -- the authorizer ---------------------------------------------------------------------

    def _apply(self, dirty: list[PoolRecord], held: Deadline) -> bool:
        """Change the authorizer for every dirty pool; settle them. False if the lease is lost."""
        state = authorizer.read(self.registry.rest_api_id, self.registry.authorizer_id, held)
        listed = list(state.provider_arns)
        decisions = [_decide(record, listed) for record in dirty]
        _keep_one_pool(decisions, listed)
        changing = [d for d in decisions if d.change.changes_authorizer]
        if changing and not self.registry.mark_changing(
            {d.record.arn: d.origin if d.record.origin is None else None for d in changing},
            self.holder,
        ):
            return False
        refused = self._patch(state, changing, held)
        counted = any(d.change.changes_authorizer or d.unsure for d in decisions)
        seq = self.registry.next_seq() if counted else None
        self.registry.settle(
            [
                Settlement(
                    arn=d.record.arn,
                    version=d.record.version,
                    origin=d.origin,
                    last_change=d.change.value,
                    changed_seq=seq if d.change.changes_authorizer or d.unsure else None,
                    refused=refused.get(d.record.arn),
                )
                for d in decisions
            ],
            self.holder,
        )
        return True

    def _patch(
        self, state: authorizer.AuthorizerState, decisions: list[Decision], held: Deadline
    ) -> dict[str, str]:
        """Send the changes, adds before removes, a batch per call. The pools API Gateway
        refused to add, with its message (they are then tried one by one to find them)."""
        ordered = sorted(decisions, key=lambda d: d.change is not plan.Change.ADD)
        refused: dict[str, str] = {}
        for start in range(0, len(ordered), MAX_OPERATIONS):
            batch = ordered[start : start + MAX_OPERATIONS]
            try:
                state = authorizer.apply(state, [(d.change, d.record.arn) for d in batch], held)
            except ClientError as error:
                if retries.describe(error)[0] != "BadRequestException":
                    raise
                for decision in batch:
                    try:
                        state = authorizer.apply(
                            state, [(decision.change, decision.record.arn)], held
                        )
                    except ClientError as single:
                        if retries.describe(single)[0] != "BadRequestException":
                            raise
                        refused[decision.record.arn] = retries.describe(single)[1]
        return refused

    # -- the stages -----------------------------------------------------------------------------

    def _publish(self, stage_names: list[str], seq: int, held: Deadline) -> None:
        """One deployment made after change ``seq`` (read before it began), served by every
        stage behind; then their authorizer caches flushed, then recorded."""
        existing = publishing.existing_stages(self.registry.rest_api_id, held)
        live = [name for name in stage_names if name in existing]
        for gone in (name for name in stage_names if name not in existing):
            # A stage deleted since a registration named it serves nothing: nothing to wait for.
            self.registry.record_published(gone, seq, "stage-deleted")
        description = f"authorizer-pools: changes up to {seq}"
        if self.publication.strategy == "per-stage":
            for name in live:
                deployment = publishing.deploy(self.registry.rest_api_id, name, description, held)
                publishing.flush_authorizer_cache(self.registry.rest_api_id, name, held)
                self.registry.record_published(name, seq, deployment)
            return
        if not live:
            return
        deployment = publishing.deploy(self.registry.rest_api_id, live[0], description, held)
        for name in live[1:]:
            publishing.point_stage(self.registry.rest_api_id, name, deployment, held)
        for name in live:
            publishing.flush_authorizer_cache(self.registry.rest_api_id, name, held)
        for name in live:
            self.registry.record_published(name, seq, deployment)


@dataclass(frozen=True)
class Decision:
    record: PoolRecord
    change: plan.Change
    origin: str | None
    # The authorizer may have changed for this pool without being counted: count a change.
    unsure: bool


def _decide(record: PoolRecord, listed: Sequence[str]) -> Decision:
    present = record.arn in listed
    origin = record.origin
    unsure = record.changing  # a worker stopped while changing it
    if origin is None and present:
        # On the authorizer, and never added through the registry: unmanaged, never removed.
        # Whether a stage serves it is unknown, so count a change.
        origin, unsure = FOUND, True
    wanted = record.owners > 0 or origin == FOUND
    if wanted and not present:
        return Decision(record, plan.Change.ADD, origin or ADDED, unsure)
    if not wanted and present and origin == ADDED:
        return Decision(record, plan.Change.REMOVE, origin, unsure)
    unchanged = plan.Change.NONE_PRESENT if present else plan.Change.NONE_ABSENT
    return Decision(record, unchanged, origin, unsure)


def _keep_one_pool(decisions: list[Decision], listed: Sequence[str]) -> None:
    """API Gateway refuses an empty providerARNs: keep the last pool(s) a removal would take."""
    adds = sum(1 for d in decisions if d.change is plan.Change.ADD)
    removes = [i for i, d in enumerate(decisions) if d.change is plan.Change.REMOVE]
    while removes and len(listed) + adds - len(removes) < 1:
        index = removes.pop()
        decisions[index] = Decision(
            decisions[index].record, plan.Change.KEEP_LAST_POOL, decisions[index].origin, False
        )


__all__ = ["AwsCallFailed", "NotYetLive", "Publication", "Refused", "Worker", "settle"]
