"""The reconcilers on their own, against an in-memory API: what each changes, records and
reports, for every shape of desired and observed state (the fast tier).

The same reconcilers run against the local AWS in every lifecycle test; here each rule is seen
without the worker, the lease or the registry around it.
"""

from __future__ import annotations

import types
from typing import cast

import pytest
from support.memory_api import MemoryApiGateway, MemoryTenure

from authorizer_pools import convergence, metrics, plan
from authorizer_pools.plan import Bounds
from authorizer_pools.reconcilers.pools import reconcile_pools
from authorizer_pools.reconcilers.stages import StagesSeen, reconcile_stages
from authorizer_pools.registry import Owner, Registry
from authorizer_pools.registry.state import (
    OwnerRecord,
    PoolRecord,
    RegistryState,
    StageRecord,
    Tombstone,
)
from authorizer_pools.tenure import Tenure
from authorizer_pools.timing import Deadline

pytestmark = pytest.mark.fast

POOL = "arn:aws:cognito-idp:us-east-1:111111111111:userpool/us-east-1_{}"
OPERATORS, A, B, C = (POOL.format(name) for name in ("Ops", "A", "B", "C"))
STAGES = ("dev", "prod")
BOUNDS = Bounds(allowed=("arn:aws:cognito-idp:us-east-1:111111111111:userpool/*",))


def owners(*arns: str, refused: str | None = None) -> dict[str, tuple[OwnerRecord, ...]]:
    return {
        arn: (OwnerRecord(arn, Owner(f"stack-{arn[-1]}", "Pool"), f"req-{arn[-1]}", "t", refused),)
        for arn in arns
    }


def wanted(*arns: str, managed: tuple[str, ...] = (), **extra: object) -> RegistryState:
    pools = {arn: PoolRecord(arn) for arn in (*arns, *managed)}
    return RegistryState(owners=owners(*arns), pools=pools, **extra)  # type: ignore[arg-type]


def as_tenure(tenure: MemoryTenure) -> Tenure:
    return cast(Tenure, tenure)


# -- the authorizer's list -------------------------------------------------------------------


def test_owned_pools_are_added_stale_managed_ones_removed_and_unmanaged_ones_left() -> None:
    api = MemoryApiGateway([OPERATORS, B], STAGES)
    tenure = MemoryTenure()

    seen = reconcile_pools(
        wanted(A, managed=(B,)),
        api.authorizer(tenure.held()),
        api,
        as_tenure(tenure),
        BOUNDS,
        judge_removals=False,
    )

    assert api.listed == [OPERATORS, A]
    assert (seen.added, seen.removed, seen.changed) == ((A,), (B,), True)
    assert seen.authorizer.provider_arns == (OPERATORS, A)
    recorded = {fact.arn: (fact.present, fact.last_change) for fact in tenure.pools}
    assert recorded == {A: (True, "add"), B: (False, "remove")}


def test_a_pass_with_nothing_to_do_changes_nothing_and_reports_no_change() -> None:
    api = MemoryApiGateway([OPERATORS, A], STAGES)
    tenure = MemoryTenure()
    desired = RegistryState(owners=owners(A), pools={A: PoolRecord(A, present=True)})

    seen = reconcile_pools(
        desired, api.authorizer(tenure.held()), api, as_tenure(tenure), BOUNDS, judge_removals=False
    )

    assert not seen.changed
    assert api.calls == ["GetAuthorizer"]
    assert tenure.pools == []


def test_a_refused_add_is_marked_on_its_owners_and_its_pool_is_held_by_nobody() -> None:
    api = MemoryApiGateway([OPERATORS], STAGES)
    api.refuse_adds[A] = "Invalid user pool ARN"
    tenure = MemoryTenure()

    seen = reconcile_pools(
        wanted(A),
        api.authorizer(tenure.held()),
        api,
        as_tenure(tenure),
        BOUNDS,
        judge_removals=False,
    )

    assert dict(seen.refused) == {A: "Invalid user pool ARN"}
    assert seen.added == ()
    assert tenure.registry.owners.refused == [
        (A, Owner("stack-A", "Pool"), "Invalid user pool ARN")
    ]
    [fact] = tenure.pools
    assert (fact.arn, fact.present, fact.forgettable) == (A, False, True)


def test_the_last_pool_stays_with_the_reason_when_every_listed_pool_is_stale() -> None:
    api = MemoryApiGateway([B], STAGES)
    tenure = MemoryTenure()

    seen = reconcile_pools(
        wanted(managed=(B,)),
        api.authorizer(tenure.held()),
        api,
        as_tenure(tenure),
        BOUNDS,
        judge_removals=False,
    )

    assert api.listed == [B]
    assert dict(seen.kept) == {B: plan.KEEP_LAST_POOL_REASON}


def test_pools_outside_the_bounds_are_never_added_and_protected_ones_never_removed() -> None:
    outsider = "arn:aws:cognito-idp:us-east-1:999999999999:userpool/us-east-1_X"
    bounds = Bounds(allowed=BOUNDS.allowed, protected=frozenset({OPERATORS}))
    api = MemoryApiGateway([OPERATORS, A], STAGES)
    tenure = MemoryTenure()

    seen = reconcile_pools(
        wanted(outsider, managed=(OPERATORS,)),
        api.authorizer(tenure.held()),
        api,
        as_tenure(tenure),
        bounds,
        judge_removals=False,
    )

    assert outsider not in api.listed
    assert OPERATORS in api.listed
    assert seen.added == ()


def test_a_removal_no_recorded_request_asked_for_is_reported_as_unrequested() -> None:
    tombstone = Tombstone(B, Owner("stack-B", "Pool"), "req-B")
    desired = wanted(A, managed=(B, C), tombstones={B: (tombstone,), C: ()})
    api = MemoryApiGateway([OPERATORS, B, C], STAGES)
    tenure = MemoryTenure()
    tenure.registry.requested_removals.add(B)

    seen = reconcile_pools(
        desired, api.authorizer(tenure.held()), api, as_tenure(tenure), BOUNDS, judge_removals=True
    )

    assert set(seen.removed) == {B, C}
    assert seen.unrequested == (C,)


# -- the stages ------------------------------------------------------------------------------


def stages_pass(
    desired: RegistryState, api: MemoryApiGateway, tenure: MemoryTenure, *, verify: bool = False
) -> tuple[StagesSeen, list[str]]:
    deployments: list[str] = []
    seen = reconcile_stages(
        desired,
        api.authorizer(tenure.held()),
        7,
        api,
        as_tenure(tenure),
        stages=STAGES,
        verify=verify,
        deployments=deployments,
    )
    return seen, deployments


def ledger_of(api: MemoryApiGateway, *names: str) -> dict[str, StageRecord]:
    return {
        name: StageRecord(name, api.serving[name], plan.fingerprint(api.served(name)))
        for name in names
    }


def test_every_stage_behind_serves_one_new_deployment_flushed_after_it_and_recorded() -> None:
    api = MemoryApiGateway([OPERATORS], STAGES)
    api.listed.append(A)  # the list changed after d0 was deployed
    tenure = MemoryTenure()
    desired = RegistryState(stages=ledger_of(api, *STAGES))

    seen, deployments = stages_pass(desired, api, tenure)

    assert deployments == ["d1"]
    assert api.serving == {"dev": "d1", "prod": "d1"}
    assert api.calls.count("CreateDeployment") == 1
    assert api.calls.count("UpdateStage") == 1
    assert sorted(api.flushed) == ["dev", "prod"]
    assert {fact.stage_name: fact.deployment_id for fact in tenure.stages} == {
        "dev": "d1",
        "prod": "d1",
    }
    assert tenure.served == [(7, ("dev", "prod"), (), True)]
    assert not seen.unfinished


def test_a_deployment_nobody_recorded_is_adopted_when_its_export_serves_the_list() -> None:
    # The shared API's own pipeline deployed the very list: no deployment, but the cache is
    # flushed before the stage counts, as it may still hold allows from before.
    api = MemoryApiGateway([OPERATORS, A], STAGES)
    tenure = MemoryTenure()

    seen, deployments = stages_pass(RegistryState(), api, tenure)

    assert deployments == []
    assert sorted(api.flushed) == ["dev", "prod"]
    assert sorted(seen.adopted) == ["dev", "prod"]
    assert tenure.served == [(7, ("dev", "prod"), (), True)]


def test_a_stage_the_ledger_knows_is_left_alone_and_not_flushed_again() -> None:
    api = MemoryApiGateway([OPERATORS, A], STAGES)
    tenure = MemoryTenure()

    stages_pass(RegistryState(stages=ledger_of(api, *STAGES)), api, tenure)

    assert "CreateDeployment" not in api.calls
    assert "GetExport" not in api.calls
    assert api.flushed == []
    assert tenure.served == [(7, ("dev", "prod"), (), True)]


def test_a_throttled_deployment_leaves_the_pass_unfinished_and_nothing_counted() -> None:
    api = MemoryApiGateway([OPERATORS], STAGES)
    api.listed.append(A)
    api.throttle_deployments = 1
    tenure = MemoryTenure()

    seen, _ = stages_pass(RegistryState(stages=ledger_of(api, *STAGES)), api, tenure)

    assert seen.unfinished
    assert tenure.served == []
    assert tenure.stages == []


def test_a_stage_deleted_meanwhile_serves_nothing_and_does_not_hold_the_others_back() -> None:
    api = MemoryApiGateway([OPERATORS], STAGES)
    api.listed.append(A)
    tenure = MemoryTenure()
    desired = RegistryState(stages=ledger_of(api, *STAGES))
    real_deploy = api.deploy

    def deploy_then_lose_prod(stage_name: str, description: str, deadline: object) -> str:
        deployment = real_deploy(stage_name, description, deadline)  # type: ignore[arg-type]
        del api.serving["prod"]
        return deployment

    api.deploy = deploy_then_lose_prod  # type: ignore[method-assign]

    seen, _ = stages_pass(desired, api, tenure)

    assert not seen.unfinished
    assert [fact.stage_name for fact in tenure.stages] == ["dev"]


def test_a_stage_whose_canary_serves_another_deployment_is_reported() -> None:
    api = MemoryApiGateway([OPERATORS, A], STAGES)
    api.canaries["prod"] = "d0-canary"
    tenure = MemoryTenure()

    seen, _ = stages_pass(RegistryState(stages=ledger_of(api, *STAGES)), api, tenure)

    assert seen.canary == ("prod",)
    assert tenure.served == [(7, ("dev", "prod"), ("prod",), True)]


# -- the worker --------------------------------------------------------------------------------


def test_a_worker_that_does_not_get_the_lease_emits_no_metrics(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Only a worker that held the lease reports what its passes did: on launch day most
    requests find the lease taken, and an all-zero datapoint from each would drown the real
    ones. (A regression found by an adversarial review.)"""
    emitted: list[dict[str, float]] = []
    monkeypatch.setattr(metrics, "emit", lambda values, **_: emitted.append(dict(values)))
    registry = types.SimpleNamespace(
        rest_api_id="api", authorizer_id="auth", lease=types.SimpleNamespace(take=lambda *_: False)
    )

    report = convergence.work_if_free(
        cast(Registry, registry), "holder", Deadline(float("inf")), stages=STAGES, bounds=BOUNDS
    )

    assert report is None
    assert emitted == []
