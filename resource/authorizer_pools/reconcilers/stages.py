"""Every stage serving the authorizer's list, its cache flushed, seen and recorded.

A stage that does not serve the list (``plan.stage_verdict``) gets one CreateDeployment, and
every other stage behind is pointed at that same deployment with UpdateStage: CreateDeployment
is allowed once per 5 s for the whole account, UpdateStage counts only in the 10 calls a second.
Each stage's authorizer cache is flushed once it serves the new deployment (a flush before
would let the cache refill from the old one; the cache otherwise keeps answers for up to the
authorizer's TTL, 300 s by default), and the stage is recorded only once flushed: a stage
recorded is done.

Then every stage is read again, and only what that read shows counts as served
(``plan.seen_serving``). A stage with a canary release sends a share of its traffic to the
canary's own deployment, which keeps its old pool list; the worker never replaces a canary (it
would end someone's release), it reports it.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Sequence
from dataclasses import dataclass

from .. import plan, retries, timing
from ..api_gateway import ApiGateway, AuthorizerState
from ..aws_errors import NotFound, Throttled
from ..errors import AwsCallFailed
from ..plan import StageVerdict, StageView
from ..registry import RegistryState, StageFact
from ..tenure import Tenure
from ..timing import Deadline

logger = logging.getLogger(__name__)

# A stage's export is read for a few seconds at most: publishing again is the answer when it
# cannot be read.
_EXPORT_SECONDS = 5.0


@dataclass(frozen=True)
class StagesSeen:
    """What one publication did, and which stages it saw serve the list."""

    # It could not finish (throttled, the list moved, a stage not seen on the new deployment):
    # the next pass must try again.
    unfinished: bool
    served: tuple[str, ...] = ()
    canary: tuple[str, ...] = ()
    republished: tuple[str, ...] = ()
    adopted: tuple[str, ...] = ()


def reconcile_stages(
    desired: RegistryState,
    listed: AuthorizerState,
    epoch: int,
    port: ApiGateway,
    tenure: Tenure,
    *,
    stages: Sequence[str],
    verify: bool,
    deployments: list[str],
) -> StagesSeen:
    """Publish every stage of ``stages`` that does not serve ``listed``; record, under
    ``epoch``, the stages seen serving it. ``verify``: read what every stage's deployment
    serves, not only the deployments the ledger does not know. Each deployment made is
    appended to ``deployments`` at once, so that it counts even when the pass fails later."""
    names = sorted(set(stages))
    return _Publication(
        desired, listed, port, tenure, epoch=epoch, names=names, deployments=deployments
    ).run(verify)


class _Publication:
    def __init__(
        self,
        desired: RegistryState,
        listed: AuthorizerState,
        port: ApiGateway,
        tenure: Tenure,
        *,
        epoch: int,
        names: list[str],
        deployments: list[str],
    ) -> None:
        self.desired = desired
        self.listed = listed
        self.epoch = epoch
        self.port = port
        self.tenure = tenure
        self.names = names
        self.wanted = plan.fingerprint(listed.provider_arns)
        self.deployments = deployments
        # Stages this pass published, flushed and recorded.
        self.recorded: set[str] = set()

    def run(self, verify: bool) -> StagesSeen:
        views, verdicts = self._verdicts(verify)
        behind = [name for name in self.names if not verdicts[name].serves]
        if behind:
            try:
                deployed = self._publish(behind)
            except Throttled as throttled:
                # Someone deployed less than 5 s ago. Wait, then decide again (and take in
                # what arrived meanwhile) before deploying: one deployment then covers it too.
                # The stages already moved are in the ledger: the next pass leaves them.
                retries.pause("CreateDeployment", throttled.error, 1, self.tenure.held())
                return StagesSeen(unfinished=True)
            if deployed is None:
                return StagesSeen(unfinished=True)  # the list moved while we deployed
            # Seen, not assumed: the stages as API Gateway shows them now.
            before, views = views, self.port.stages(self.tenure.held(), self.names)
            for name in self.names:
                verdicts[name] = dataclasses.replace(
                    verdicts[name],
                    serves=plan.seen_serving(
                        views[name], verdicts[name], before[name].deployment_id, deployed.get(name)
                    ),
                    canary=plan.has_canary(views[name]),
                )
        served = [name for name in self.names if verdicts[name].serves]
        self._count_served(served, views)
        canary = [name for name in served if verdicts[name].canary]
        complete = len(served) == len(self.names)
        self.tenure.record_served(self.epoch, served, canary, complete=complete)
        return StagesSeen(
            unfinished=not complete,
            served=tuple(served),
            canary=tuple(canary),
            republished=tuple(name for name in behind if verdicts[name].drifted),
            adopted=tuple(name for name in self.names if verdicts[name].adopted),
        )

    def _verdicts(self, verify: bool) -> tuple[dict[str, StageView], dict[str, StageVerdict]]:
        views = self.port.stages(self.tenure.held(), self.names)
        verdicts = {}
        for name in self.names:
            view = views[name]
            record = self.desired.stages.get(name)
            unknown = record is None or record.deployment_id != view.deployment_id
            # What a deployment the ledger does not know serves is read, not guessed: the
            # shared API's own pipeline may have deployed the very same list.
            if view.exists and (verify or unknown):
                exported = self._exported(name)
                if exported is not None:
                    view = dataclasses.replace(view, exported=exported)
            verdicts[name] = plan.stage_verdict(
                view,
                record.deployment_id if record else None,
                record.fingerprint if record else None,
                self.wanted,
            )
        return views, verdicts

    def _count_served(self, served: list[str], views: dict[str, StageView]) -> None:
        facts = []
        for name in served:
            view, record = views[name], self.desired.stages.get(name)
            if plan.needs_flush_to_count(
                view,
                name in self.recorded,
                record.deployment_id if record else None,
                record.fingerprint if record else None,
                self.wanted,
            ):
                self._flush(name)
                facts.append(StageFact(name, str(view.deployment_id), self.wanted))
        self.tenure.record(stages=facts)

    def _publish(self, behind: list[str]) -> dict[str, str] | None:
        """One deployment for the first stage behind, pointed at by every other: the
        deployment each stage should now serve; None when the list moved while it was made
        (it may serve either list). The lease is renewed right before each call that changes
        what a stage serves, and each stage moved is recorded at once, so that a pass cut
        short (throttled, out of time) is not redone."""
        deployed: dict[str, str] = {}
        self.tenure.hold()
        deployment = self.port.deploy(
            behind[0], f"authorizer-pools: pass {self.epoch}", self.tenure.held()
        )
        self.deployments.append(deployment)
        again = self.port.authorizer(self.tenure.held())
        if plan.fingerprint(again.provider_arns) != self.wanted:
            return None
        self._moved(behind[0], deployment, deployed)
        for name in behind[1:]:
            self.tenure.hold()
            try:
                self.port.point(name, deployment, self.tenure.held())
            except NotFound:
                logger.warning({"step": "publish", "outcome": "stage-gone", "stage": name})
                deployed[name] = deployment
                continue
            self._moved(name, deployment, deployed)
        return deployed

    def _moved(self, name: str, deployment: str, deployed: dict[str, str]) -> None:
        # Flushed once it serves the deployment, and recorded only once flushed.
        deployed[name] = deployment
        if not self._flush(name):
            return  # deleted meanwhile: it serves nothing
        self.tenure.record(stages=[StageFact(name, deployment, self.wanted)])
        self.recorded.add(name)

    def _exported(self, name: str) -> tuple[str, ...] | None:
        """The stage's deployed pool list, or None when it cannot be read now: the stage is
        then published again, which a failed read must not prevent."""
        within = Deadline(min(self.tenure.held().at, timing.clock.monotonic() + _EXPORT_SECONDS))
        try:
            return self.port.exported_pools(name, self.listed.name, within)
        except AwsCallFailed as error:
            logger.warning({"step": "verify", "outcome": "export-unreadable", "reason": str(error)})
            return None

    def _flush(self, name: str) -> bool:
        """Flush the stage's authorizer cache; False when the stage no longer exists."""
        try:
            self.port.flush(name, self.tenure.held())
        except NotFound:
            logger.warning({"step": "publish", "outcome": "stage-gone", "stage": name})
            return False
        return True
