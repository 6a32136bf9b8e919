"""An in-memory shared API and lease, for testing the reconcilers in milliseconds.

``MemoryApiGateway`` answers as ``authorizer_pools.api_gateway.ApiGateway`` does: the same
methods, the same typed errors. A deployment snapshots the authorizer's list as it is when made
(what API Gateway documents for CreateDeployment), a stage serves one deployment, and an export
shows what that deployment serves. ``MemoryTenure`` stands for a worker's hold on the lease: it
keeps what a reconciler records instead of writing the registry.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from authorizer_pools.api_gateway import (
    COGNITO_USER_POOLS,
    ApiGateway,
    AuthorizerState,
    PoolChange,
)
from authorizer_pools.aws_errors import NotFound, Throttled
from authorizer_pools.plan import Change, StageView
from authorizer_pools.registry import Owner, PoolFact, StageFact
from authorizer_pools.timing import Deadline
from fakes import client_error


class MemoryApiGateway(ApiGateway):
    def __init__(self, listed: Iterable[str], stages: Iterable[str]) -> None:
        super().__init__("api", "authorizer")
        self.listed = list(listed)
        self.snapshots: dict[str, tuple[str, ...]] = {"d0": tuple(self.listed)}
        self.serving: dict[str, str] = dict.fromkeys(stages, "d0")
        self.canaries: dict[str, str] = {}
        self.flushed: list[str] = []
        self.calls: list[str] = []
        # ARNs whose add API Gateway refuses, with its message.
        self.refuse_adds: dict[str, str] = {}
        self.throttle_deployments = 0

    def authorizer(self, deadline: Deadline) -> AuthorizerState:
        self.calls.append("GetAuthorizer")
        return AuthorizerState(COGNITO_USER_POOLS, tuple(self.listed), "tenants")

    def patch_pools(
        self, state: AuthorizerState, changes: Sequence[PoolChange], deadline: Deadline
    ) -> tuple[AuthorizerState, dict[str, str]]:
        refused: dict[str, str] = {}
        for change, arn in changes:
            self.calls.append("UpdateAuthorizer")
            if change is Change.ADD and arn in self.refuse_adds:
                refused[arn] = self.refuse_adds[arn]
            elif change is Change.ADD and arn not in self.listed:
                self.listed.append(arn)
            elif change is Change.REMOVE and arn in self.listed:
                if len(self.listed) == 1:
                    raise AssertionError("API Gateway refuses an empty providerARNs")
                self.listed.remove(arn)
        return AuthorizerState(COGNITO_USER_POOLS, tuple(self.listed), "tenants"), refused

    def stages(
        self, deadline: Deadline, names: Iterable[str] | None = None
    ) -> dict[str, StageView]:
        self.calls.append("GetStages")
        return {
            name: StageView(
                name,
                exists=name in self.serving,
                deployment_id=self.serving.get(name),
                canary_deployment_id=self.canaries.get(name),
            )
            for name in (self.serving if names is None else names)
        }

    def exported_pools(
        self, stage_name: str, authorizer_name: str, deadline: Deadline
    ) -> tuple[str, ...] | None:
        self.calls.append("GetExport")
        return self.snapshots[self.serving[stage_name]]

    def deploy(self, stage_name: str, description: str, deadline: Deadline) -> str:
        self.calls.append("CreateDeployment")
        if self.throttle_deployments:
            self.throttle_deployments -= 1
            error = client_error("TooManyRequestsException", 429, "CreateDeployment")
            raise Throttled("CreateDeployment", error)
        deployment = f"d{len(self.snapshots)}"
        self.snapshots[deployment] = tuple(self.listed)
        self.serving[stage_name] = deployment
        return deployment

    def point(self, stage_name: str, deployment_id: str, deadline: Deadline) -> None:
        self.calls.append("UpdateStage")
        if stage_name not in self.serving:
            raise NotFound("UpdateStage", "NotFoundException", "Invalid stage identifier")
        self.serving[stage_name] = deployment_id

    def flush(self, stage_name: str, deadline: Deadline) -> None:
        self.calls.append("FlushStageAuthorizersCache")
        if stage_name not in self.serving:
            raise NotFound("FlushStageAuthorizersCache", "NotFoundException", "no stage")
        self.flushed.append(stage_name)

    def served(self, stage_name: str) -> tuple[str, ...]:
        return self.snapshots[self.serving[stage_name]]


@dataclass
class _Owners:
    refused: list[tuple[str, Owner, str]] = field(default_factory=list)

    def mark_refused(self, arn: str, owner: Owner, request_id: str, reason: str) -> None:
        self.refused.append((arn, owner, reason))


@dataclass
class _Registry:
    owners: _Owners = field(default_factory=_Owners)
    # Pools whose removal a recorded request asked for.
    requested_removals: set[str] = field(default_factory=set)

    def removal_requested(self, tombstones: Iterable[object]) -> bool:
        return any(getattr(t, "arn", None) in self.requested_removals for t in tombstones)


class MemoryTenure:
    """A lease held for ever, and what the reconcilers recorded under it."""

    def __init__(self) -> None:
        self.holder = "worker"
        self.deadline = Deadline(float("inf"))
        self.registry = _Registry()
        self.pools: list[PoolFact] = []
        self.stages: list[StageFact] = []
        self.served: list[tuple[int, tuple[str, ...], tuple[str, ...], bool]] = []
        self.holds = 0

    def held(self) -> Deadline:
        return self.deadline

    def hold(self) -> None:
        self.holds += 1

    def record(self, pools: Sequence[PoolFact] = (), stages: Sequence[StageFact] = ()) -> None:
        self.pools += pools
        self.stages += stages

    def record_served(
        self, epoch: int, served: Sequence[str], canary: Sequence[str], *, complete: bool
    ) -> None:
        self.served.append((epoch, tuple(served), tuple(canary), complete))
