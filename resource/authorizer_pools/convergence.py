"""Making the authorizer and every stage match what is wanted, whatever happened meanwhile.

Level-triggered, like a Kubernetes controller: every pass of the authorizer's *worker* reads the
whole desired state (the owners in the registry) and the whole actual state (the authorizer's
``providerARNs``, each stage's deployment and canary), applies the whole difference (``plan``),
publishes every stage that does not serve the result, and records what it *saw* served. Nothing
the registry recorded about earlier passes is trusted to skip work: a pool someone removed in
the console, a stage a late worker pointed back, a deployment made by the shared API's own stack
are all found by the next pass, whoever triggers it (a tenant's request, the scheduled run,
``reconcile``).

One worker at a time holds the authorizer's lease and works for everyone; the others wait
cheaply on one small item (``registry.lease``). A request is live when a pass that read the
registry after its owner change saw every one of its stages serve the authorizer's list.
``docs/ownership.md`` gives the protocol and why every interleaving keeps the invariant.
"""

from __future__ import annotations

import dataclasses
import logging
import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import NamedTuple

from botocore.exceptions import ClientError

from . import authorizer, metrics, plan, publishing, retries, timing
from .errors import AwsCallFailed, ResourceError
from .plan import Change, StageVerdict
from .registry import PoolFact, Registry, RegistryState, StageFact, Status, migrations
from .timing import Deadline

logger = logging.getLogger(__name__)

# How long the worker's lease lasts; it is renewed before every pass, deployment and UpdateStage.
LEASE_SECONDS = 60.0
# The worker stops calling AWS this long before its lease ends. Every call is bounded by the
# time left (``aws.CONFIG``'s timeouts are shorter than this margin), so no call the worker
# makes outlives its lease.
LEASE_MARGIN_SECONDS = 15.0
# Passes one worker makes before it lets someone else take over (and answers its own request).
MAX_PASSES = 4
# Rounds of reading the owners and changing the authorizer before publishing: requests keep
# arriving while the worker changes the list (on launch day, hundreds within seconds), and the
# next deployment may be 5 s away.
_MAX_ROUNDS = 8
# Waiting requests read one small item every 0.5 to 1.5 s, eventually consistent: half a read
# unit a second on average, so that 1,000 waiters (Cognito's default pools per region) take a
# sixth of one partition's 3,000 read units.
_POLL_SECONDS = (0.5, 1.5)
_rng = random.Random()
_RELEASE_SECONDS = 2.0
# What a waiter keeps for its next read of the status.
_READ_SECONDS = 2.0
_EXPORT_SECONDS = 5.0


class LeaseLost(Exception):
    """Someone else is the worker now (this one was too slow): stop calling AWS."""


@dataclass(frozen=True)
class Publication:
    """How a worker makes a change live on several stages."""

    # "update-stage": one CreateDeployment, pointed at the other stages with UpdateStage
    # (CreateDeployment is allowed once per 5 s per account; UpdateStage only counts in the
    # 10 calls/s). "per-stage": one CreateDeployment per stage.
    strategy: str = "update-stage"


# What the function does. ``make bench`` swaps in "per-stage" in a variant of the function, to
# measure the alternative on the same model.
PUBLICATION = Publication()


@dataclass(frozen=True)
class Live:
    """What a request waited for, as the worker saw it."""

    epoch: int
    # Stages where a canary release serves another deployment (its share keeps its own list).
    canary_stages: tuple[str, ...] = ()


@dataclass(frozen=True)
class Pending:
    """The change is recorded, but not yet seen live everywhere, and the deadline came first:
    a later invocation goes on."""

    reason: str


def await_live(
    registry: Registry,
    *,
    stage_names: Sequence[str],
    all_stages: Sequence[str],
    holder: str,
    deadline: Deadline,
    bounds: plan.Bounds,
) -> Live | Pending:
    """Once a pass that read the registry after the caller's owner change saw every stage the
    registrar publishes (``all_stages``) serve the authorizer's list: :class:`Live`; work as the
    worker when nobody is. ``stage_names``: the stages the caller reports on (a canary on them).
    :class:`Pending` when ``deadline`` comes first."""
    outcome = _await_pass(
        registry, holder, deadline, bounds, all_stages, verify=False, own_pass_enough=False
    )
    if isinstance(outcome, Pending):
        return outcome
    return Live(outcome.target, tuple(outcome.status.canary_blocked(stage_names)))


def repair_pass(
    registry: Registry,
    *,
    stages: Sequence[str],
    holder: str,
    deadline: Deadline,
    bounds: plan.Bounds,
) -> Report | Pending | None:
    """A pass that began after this call, verifying what every stage's deployment serves when
    this caller makes it: its :class:`Report`; None when another worker's pass (begun after
    this call) finished first. :class:`Pending` when ``deadline`` comes first."""
    outcome = _await_pass(
        registry, holder, deadline, bounds, stages, verify=True, own_pass_enough=True
    )
    return outcome if isinstance(outcome, Pending) else outcome.report


class _Waited(NamedTuple):
    status: Status
    target: int  # the first epoch of a pass begun after the wait did
    report: Report | None  # this caller's own passes, when it stopped after working


def _await_pass(
    registry: Registry,
    holder: str,
    deadline: Deadline,
    bounds: plan.Bounds,
    stages: Sequence[str],
    *,
    verify: bool,
    own_pass_enough: bool,
) -> _Waited | Pending:
    """Wait for a pass that began after this call to see every stage served, working as the
    worker when nobody is (``own_pass_enough``: return as soon as this caller worked, whatever
    its passes achieved)."""
    status = registry.lease.status(consistent=True)
    # Any pass whose epoch is past this one bumped it after this read, so after the caller's
    # owner change (or the change a repair event tells of), and read the owners after that.
    target = status.epoch + 1
    while True:
        if status.serves(stages, target):
            return _Waited(status, target, None)
        if status.lease_free(timing.clock.time(), LEASE_SECONDS):
            try:
                worked = work_if_free(
                    registry, holder, deadline, stages=stages, bounds=bounds, verify=verify
                )
            except AwsCallFailed as failure:
                if not failure.transient:
                    raise
                # AWS stayed busy for the whole lease: try again while there is time (the
                # wait below says when there is not).
                worked = None
            if worked and own_pass_enough:
                return _Waited(status, target, worked)
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


@dataclass
class Report:
    """What one worker's passes did, for the logs, the metrics and ``reconcile``."""

    added: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    refused: dict[str, str] = field(default_factory=dict)
    kept: dict[str, str] = field(default_factory=dict)
    repaired_pools: list[str] = field(default_factory=list)
    republished_stages: list[str] = field(default_factory=list)
    adopted_stages: list[str] = field(default_factory=list)
    canary_stages: list[str] = field(default_factory=list)
    deployments: list[str] = field(default_factory=list)
    # Removed although no deletion the registrar recorded asked for it: the registry said they
    # were managed, and nothing says who made them so.
    unrequested_removals: list[str] = field(default_factory=list)


def work_if_free(
    registry: Registry,
    holder: str,
    deadline: Deadline,
    *,
    stages: Sequence[str],
    bounds: plan.Bounds,
    verify: bool = False,
    emit_metrics: bool = True,
) -> Report | None:
    """Be the authorizer's worker for a few passes if its lease is free (or already this
    request's); None when someone else holds it. ``stages``: every stage the registrar
    publishes. ``verify``: read what every stage's deployment serves (GetExport), for the
    scheduled run and ``reconcile``."""
    started = timing.clock.monotonic()
    now = timing.clock.time()
    if not registry.lease.take(holder, now, now + LEASE_SECONDS):
        return None
    worker = Worker(
        registry,
        holder,
        deadline,
        started,
        stages=stages,
        bounds=bounds,
        verify=verify,
        judge_removals=emit_metrics,
    )
    try:
        worker.run()
    finally:
        try:
            # Even when the worker used all its time: the others need not wait for the lease to
            # expire. One small write, within the time kept back for the answer.
            registry.within(Deadline(timing.clock.monotonic() + _RELEASE_SECONDS)).lease.release(
                holder
            )
        except (ClientError, ResourceError):
            logger.warning({"step": "release-lease", "outcome": "failed: it expires by itself"})
        if emit_metrics:
            worker.emit_metrics()
    return worker.report


class Worker:
    """The authorizer's worker, for a few passes."""

    def __init__(
        self,
        registry: Registry,
        holder: str,
        deadline: Deadline,
        lease_from: float,
        *,
        stages: Sequence[str],
        bounds: plan.Bounds,
        verify: bool = False,
        publication: Publication | None = None,
        judge_removals: bool = True,
    ) -> None:
        self.registry = registry
        self.holder = holder
        self.deadline = deadline
        # When (monotonic) the lease was last taken or renewed: measured *before* the call, so
        # the time the call took (its retries included) counts against the lease.
        self._lease_from = lease_from
        self.stages = sorted(set(stages))
        self.bounds = bounds
        self.verify = verify
        self.publication = publication or PUBLICATION
        # Tell removals no request asked for (``UnrequestedRemovals``) from the requests'
        # records: the function's own partition, which an operator's ``reconcile`` cannot read.
        self.judge_removals = judge_removals
        self.report = Report()

    def held(self) -> Deadline:
        """The time this worker may still call AWS: its lease's, or its request's if sooner."""
        return Deadline(
            min(self.deadline.at, self._lease_from + LEASE_SECONDS - LEASE_MARGIN_SECONDS)
        )

    def _registry(self) -> Registry:
        return self.registry.within(self.held())

    def _hold(self) -> None:
        """Renew the lease right before a call that changes what is served."""
        started = timing.clock.monotonic()
        if not self._registry().lease.renew(self.holder, timing.clock.time() + LEASE_SECONDS):
            raise LeaseLost
        self._lease_from = started

    def run(self) -> None:
        for number in range(MAX_PASSES):
            try:
                if number:
                    self._hold()
                busy = self._pass()
            except LeaseLost:
                logger.warning({"step": "work", "outcome": "lease-lost", "holder": self.holder})
                return
            except AwsCallFailed:
                if self.deadline.allows(LEASE_MARGIN_SECONDS) and not self.held().allows(1.0):
                    return  # the lease's time ran out, not the request's: hand over
                raise
            if not busy:
                return

    def _pass(self) -> bool:
        """Converge once. True when it could not finish (the next pass must try again); a
        request that arrived meanwhile makes its own pass once the lease is free."""
        epoch = 0
        for _ in range(_MAX_ROUNDS):
            bumped = self._registry().lease.bump(self.holder)
            if bumped is None:
                raise LeaseLost
            epoch = bumped
            state = self._registry().state()
            listed = authorizer.read(
                self.registry.rest_api_id, self.registry.authorizer_id, self.held()
            )
            listed, changed = self._converge_authorizer(state, listed)
            if not changed:
                break
        return self._publish(state, listed, epoch)

    # -- the authorizer ---------------------------------------------------------------------

    def _converge_authorizer(
        self, state: RegistryState, current: authorizer.AuthorizerState
    ) -> tuple[authorizer.AuthorizerState, bool]:
        migrations.keep_live_owners_alive(
            self._registry().owners, (r for records in state.owners.values() for r in records)
        )
        owned = state.owned
        before = current.provider_arns
        to_add = plan.adds(before, owned, self.bounds)
        current, refused = authorizer.apply_batches(
            current, [(Change.ADD, arn) for arn in to_add], self.held()
        )
        for arn, reason in refused.items():
            for record in state.owners.get(arn, ()):
                if not record.refused:
                    self._registry().owners.mark_refused(
                        arn, record.owner, record.request_id, reason
                    )
        owned -= set(refused)
        removals = plan.removals(current.provider_arns, state.managed, owned, self.bounds)
        current, refused_removals = authorizer.apply_batches(
            current, [(Change.REMOVE, arn) for arn in removals.removes], self.held()
        )
        kept = dict(removals.kept)
        kept.update(
            (arn, f"API Gateway refused to remove it: {reason}")
            for arn, reason in refused_removals.items()
        )
        added = [arn for arn in to_add if arn not in refused]
        removed = [arn for arn in removals.removes if arn not in refused_removals]
        outcomes = plan.pool_outcomes(
            {arn: (record.present, record.kept) for arn, record in state.pools.items()},
            before,
            added,
            removed,
            kept,
        )
        facts = [
            PoolFact(
                o.arn,
                o.present,
                o.change.value,
                o.kept,
                forgettable=not o.present and o.arn not in owned,
            )
            for o in outcomes
        ]
        if facts and not self._registry().ledger.record(self.holder, facts, []):
            raise LeaseLost
        report = self.report
        report.added += added
        report.removed += removed
        report.refused.update(refused)
        report.kept.update(kept)
        report.repaired_pools += [o.arn for o in outcomes if o.repaired]
        unrequested = [
            arn
            for arn in removed
            if self.judge_removals
            and not self._registry().removal_requested(state.tombstones.get(arn, ()))
        ]
        report.unrequested_removals += unrequested
        for arn in unrequested:
            logger.warning(
                {
                    "step": "authorizer",
                    "outcome": "unrequested-removal",
                    "pool": arn,
                    "remedy": "the registry marked it managed, yet no deletion the registrar "
                    "recorded asked for it: find who wrote to the registry",
                }
            )
        for outcome in outcomes:
            logger.info(
                {
                    "step": "authorizer",
                    "outcome": outcome.change.value,
                    "pool": outcome.arn,
                    **({"repaired": "true"} if outcome.repaired else {}),
                    **({"kept": outcome.kept} if outcome.kept else {}),
                }
            )
        return current, bool(added or removed)

    # -- the stages -------------------------------------------------------------------------

    def _publish(
        self, state: RegistryState, current: authorizer.AuthorizerState, epoch: int
    ) -> bool:
        """Publish every stage that does not serve ``current``; record what was seen served.
        True when it must try again: throttled, the list moved meanwhile, or a stage was not
        seen on the new deployment."""
        api = self.registry.rest_api_id
        wanted = plan.fingerprint(current.provider_arns)
        names = self.stages
        views, verdicts = self._verdicts(state, current, names, wanted)
        behind = [name for name in names if not verdicts[name].serves]
        recorded: set[str] = set()
        if behind:
            try:
                deployments = self._deploy(behind, epoch, wanted, recorded)
            except publishing.Throttled as throttled:
                # Someone deployed less than 5 s ago. Wait, then decide again (and take in
                # what arrived meanwhile) before deploying: one deployment then covers it too.
                # The stages already moved are in the ledger: the next pass leaves them.
                retries.pause("CreateDeployment", throttled.error, 1, self.held())
                return True
            if deployments is None:
                return True  # the list moved while we deployed: the next pass decides again
            # Seen, not assumed: the stages as API Gateway shows them now. A stage that was
            # fine before must still be on the same deployment (a late call may have moved it).
            before, views = views, publishing.stage_views(api, self.held(), names)
            for name in names:
                view = views[name]
                if name in deployments:
                    seen = view.deployment_id == deployments[name]
                else:
                    seen = (
                        verdicts[name].serves and view.deployment_id == before[name].deployment_id
                    )
                verdicts[name] = dataclasses.replace(
                    verdicts[name], serves=not view.exists or seen, canary=plan.has_canary(view)
                )
        served = [name for name in names if verdicts[name].serves]
        facts = []
        for name in served:
            view, record = views[name], state.stages.get(name)
            known = name in recorded or (
                record is not None
                and (record.deployment_id, record.fingerprint) == (view.deployment_id, wanted)
            )
            if view.exists and not known:
                # Served by a deployment this registrar did not make for this list (the shared
                # API's own, seen serving it in its export): its cache may still hold allows
                # from before, so flush it before counting it served.
                self._flush(name)
                facts.append(StageFact(name, str(view.deployment_id), wanted))
        if facts and not self._registry().ledger.record(self.holder, [], facts):
            raise LeaseLost
        canary = [name for name in served if verdicts[name].canary]
        complete = len(served) == len(names)
        if not self._registry().lease.record_served(
            self.holder, epoch, served, canary, complete=complete
        ):
            raise LeaseLost
        report = self.report
        report.republished_stages += [name for name in behind if verdicts[name].drifted]
        report.adopted_stages += [name for name in names if verdicts[name].adopted]
        report.canary_stages = canary
        return not complete

    def _verdicts(
        self,
        state: RegistryState,
        current: authorizer.AuthorizerState,
        names: list[str],
        wanted: str,
    ) -> tuple[dict[str, plan.StageView], dict[str, StageVerdict]]:
        api = self.registry.rest_api_id
        views = publishing.stage_views(api, self.held(), names)
        verdicts = {}
        for name in names:
            view = views[name]
            record = state.stages.get(name)
            unknown = record is None or record.deployment_id != view.deployment_id
            # What a deployment the ledger does not know serves is read, not guessed: the
            # shared API's own pipeline may have deployed the very same list.
            if view.exists and (self.verify or unknown):
                exported = self._exported(name, current.name)
                if exported is not None:
                    view = dataclasses.replace(view, exported=exported)
            verdicts[name] = plan.stage_verdict(
                view,
                record.deployment_id if record else None,
                record.fingerprint if record else None,
                wanted,
            )
        return views, verdicts

    def _deploy(
        self, behind: list[str], epoch: int, wanted: str, recorded: set[str]
    ) -> dict[str, str] | None:
        """Deploy for every stage behind: one deployment pointed at each (or one per stage),
        each stage's authorizer cache flushed once it serves it. The lease is renewed right
        before each call that changes what a stage serves: a worker that lost it changes
        nothing more. Each stage
        moved is recorded at once (``recorded``), so that a pass cut short (throttled, out of
        time) is not redone. The deployment each stage should now serve; None when the list
        moved while a deployment was made (it may serve either list)."""
        api = self.registry.rest_api_id
        description = f"authorizer-pools: pass {epoch}"
        deployments: dict[str, str] = {}

        def moved(name: str, deployment: str) -> None:
            # Flushed once it serves the deployment (a flush before would let the cache refill
            # from the old one), and recorded only once flushed: a stage recorded is done.
            if not self._flush(name):
                deployments[name] = deployment  # deleted meanwhile: it serves nothing
                return
            if not self._registry().ledger.record(
                self.holder, [], [StageFact(name, deployment, wanted)]
            ):
                raise LeaseLost
            deployments[name] = deployment
            recorded.add(name)

        def made(name: str) -> str | None:
            self._hold()
            deployment = publishing.deploy(api, name, description, self.held())
            self.report.deployments.append(deployment)
            again = authorizer.read(api, self.registry.authorizer_id, self.held())
            if plan.fingerprint(again.provider_arns) != wanted:
                return None
            moved(name, deployment)
            return deployment

        if self.publication.strategy == "per-stage":
            for name in behind:
                if made(name) is None:
                    return None
        else:
            deployment = made(behind[0])
            if deployment is None:
                return None
            for name in behind[1:]:
                self._hold()
                try:
                    publishing.point_stage(api, name, deployment, self.held())
                except ClientError as error:
                    if not publishing.is_not_found(error):
                        raise
                    logger.warning({"step": "publish", "outcome": "stage-gone", "stage": name})
                    deployments[name] = deployment
                    continue
                moved(name, deployment)
        return deployments

    def _exported(self, name: str, authorizer_name: str) -> tuple[str, ...] | None:
        """The stage's deployed pool list, or None when it cannot be read now: the stage is
        then published again, which a failed read must not prevent."""
        # A few seconds at most: publishing again is the answer when it cannot be read.
        within = Deadline(min(self.held().at, timing.clock.monotonic() + _EXPORT_SECONDS))
        try:
            return publishing.exported_pools(
                self.registry.rest_api_id, name, authorizer_name, within
            )
        except (ClientError, AwsCallFailed) as error:
            logger.warning({"step": "verify", "outcome": "export-unreadable", "reason": str(error)})
            return None

    def _flush(self, name: str) -> bool:
        """Flush the stage's authorizer cache; False when the stage no longer exists."""
        try:
            publishing.flush_authorizer_cache(self.registry.rest_api_id, name, self.held())
        except ClientError as error:
            if not publishing.is_not_found(error):
                raise
            logger.warning({"step": "publish", "outcome": "stage-gone", "stage": name})
            return False
        return True

    def emit_metrics(self) -> None:
        report = self.report
        metrics.emit(
            {
                metrics.POOLS_REPAIRED: len(report.repaired_pools),
                metrics.STAGES_REPUBLISHED: len(report.republished_stages),
                metrics.LAST_POOL_KEPT: len(report.kept),
                metrics.DEPLOYMENTS: len(report.deployments),
                metrics.UNREQUESTED_REMOVALS: len(report.unrequested_removals),
            }
        )
