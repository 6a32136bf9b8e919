"""The planner on its own: the rules, checked over random registry states, lists and stages."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from authorizer_pools import plan
from authorizer_pools.plan import Change, PoolState, StageView

# The fast tier (make test-fast): no local AWS, seconds in all.
pytestmark = pytest.mark.fast

ARNS = [f"arn:aws:cognito-idp:us-east-1:123456789012:userpool/us-east-1_{n}" for n in "abcdef"]
arn_sets = st.frozensets(st.sampled_from(ARNS))
listed_lists = st.lists(st.sampled_from(ARNS), unique=True)


def applied(listed: list[str], managed: frozenset[str], owned: frozenset[str]) -> list[str]:
    """The list after a pass: the adds, then the removals planned from what the adds left."""
    after_adds = plan.listed_after(listed, plan.adds(listed, owned), ())
    return plan.listed_after(after_adds, (), plan.removals(after_adds, managed, owned).removes)


@given(listed=listed_lists, managed=arn_sets, owned=arn_sets)
def test_a_pass_leaves_exactly_the_unmanaged_and_owned_pools(
    listed: list[str], managed: frozenset[str], owned: frozenset[str]
) -> None:
    managed |= owned  # every owned pool is managed (its first registration made it so)
    result = applied(listed, managed, owned)
    unmanaged = {arn for arn in listed if arn not in managed}
    assert len(result) == len(set(result)), "a pool listed twice"
    assert unmanaged | owned <= set(result), "a wanted pool left out"
    extra = set(result) - unmanaged - owned
    if unmanaged | owned:
        assert not extra, "a managed pool with no owner kept although others remain"
    elif listed:
        assert len(extra) == 1, "the last pool must be kept, and only one"
    assert result == plan.wanted_list(listed, managed, owned)
    assert applied(result, managed, owned) == result, "a second pass changes something"


@given(listed=listed_lists, managed=arn_sets, owned=arn_sets)
def test_adds_are_owned_and_unlisted_and_removals_managed_and_unowned(
    listed: list[str], managed: frozenset[str], owned: frozenset[str]
) -> None:
    adds = plan.adds(listed, owned)
    assert set(adds) == owned - set(listed)
    removals = plan.removals(listed, managed, owned)
    assert set(removals.removes) <= (set(listed) & managed) - owned
    assert not set(removals.removes) & set(removals.kept)
    if listed:
        assert len(listed) - len(removals.removes) >= 1, "the list would be empty"


def test_a_refused_add_does_not_count_so_the_last_pool_is_kept() -> None:
    only, refused = ARNS[0], ARNS[1]
    # The only listed pool loses its owner while a new pool is registered; API Gateway refuses
    # the new one. Planned from what the adds left, the removal keeps the last pool.
    listed_after_adds = [only]
    removals = plan.removals(listed_after_adds, {only, refused}, set())
    assert removals.removes == ()
    assert removals.kept == {only: plan.KEEP_LAST_POOL_REASON}


bounds = st.builds(
    plan.Bounds,
    allowed=st.sampled_from(
        [("arn:*:cognito-idp:*:*:userpool/*",), (ARNS[0], ARNS[1], ARNS[2]), ("arn:aws:sts::*:*",)]
    ),
    protected=arn_sets,
)


@given(listed=listed_lists, managed=arn_sets, owned=arn_sets, bounds=bounds)
def test_no_pass_adds_a_pool_out_of_bounds_nor_removes_a_protected_one(
    listed: list[str],
    managed: frozenset[str],
    owned: frozenset[str],
    bounds: plan.Bounds,
) -> None:
    """Whatever the registry holds (an operator's UpdateItem can mark any pool managed, or
    give it an owner), the registrar's own parameters bound what a pass changes."""
    managed |= owned
    after_adds = plan.listed_after(listed, plan.adds(listed, owned, bounds), ())
    removes = plan.removals(after_adds, managed, owned, bounds).removes
    result = plan.listed_after(after_adds, (), removes)
    for arn in set(result) - set(listed):
        assert bounds.may_add(arn), f"a pass added {arn}, out of bounds"
    assert {arn for arn in listed if arn in bounds.protected} <= set(result), "protected removed"
    assert result == plan.wanted_list(listed, managed, owned, bounds)


def test_a_protected_pool_marked_managed_by_hand_is_never_removed() -> None:
    operators, tenant = ARNS[:2]
    bounds = plan.Bounds(protected=frozenset({operators}))
    removals = plan.removals([operators, tenant], {operators, tenant}, {tenant}, bounds)
    assert removals.removes == ()
    statuses = plan.classify_pools([operators, tenant], {operators, tenant}, {tenant}, (), bounds)
    assert [s.state for s in statuses] == [PoolState.PROTECTED, PoolState.OK]


@given(
    before=st.dictionaries(
        st.sampled_from(ARNS), st.tuples(st.sampled_from([None, True, False]), st.none())
    ),
    listed=listed_lists,
)
def test_a_pool_is_repaired_only_when_the_ledger_last_left_it_otherwise(
    before: dict[str, tuple[bool | None, None]], listed: list[str]
) -> None:
    managed = frozenset(before)
    owned = frozenset(arn for arn in managed if hash(arn) % 2)
    after_adds = plan.listed_after(listed, plan.adds(listed, owned), ())
    removals = plan.removals(after_adds, managed, owned)
    outcomes = plan.pool_outcomes(
        before, listed, plan.adds(listed, owned), removals.removes, removals.kept
    )
    for outcome in outcomes:
        was_present = before[outcome.arn][0]
        if outcome.change is Change.ADD:
            assert outcome.repaired == (was_present is True)
        elif outcome.change is Change.REMOVE:
            assert outcome.repaired == (was_present is False)
        else:
            assert not outcome.repaired
        assert outcome.present == (outcome.arn in plan.wanted_list(listed, managed, owned))


def test_the_patch_operation_is_one_arn_on_provider_arns() -> None:
    assert plan.patch_operation(Change.ADD, ARNS[0]) == {
        "op": "add",
        "path": "/providerARNs",
        "value": ARNS[0],
    }


def test_the_fingerprint_ignores_order() -> None:
    assert plan.fingerprint(ARNS[:3]) == plan.fingerprint(ARNS[2::-1])
    assert plan.fingerprint(ARNS[:3]) != plan.fingerprint(ARNS[:2])


WANTED = plan.fingerprint(ARNS[:2])
OTHER = plan.fingerprint(ARNS[:1])


def test_a_stage_on_the_deployment_the_ledger_knows_serves_what_the_ledger_says() -> None:
    view = StageView("prod", True, "d1")
    assert plan.stage_verdict(view, "d1", WANTED, WANTED).serves
    assert not plan.stage_verdict(view, "d1", OTHER, WANTED).serves  # the list changed since


def test_a_stage_moved_to_an_unknown_deployment_is_published_again_as_a_repair() -> None:
    verdict = plan.stage_verdict(StageView("prod", True, "old"), "d2", WANTED, WANTED)
    assert not verdict.serves
    assert verdict.drifted


def test_an_export_decides_over_the_ledger() -> None:
    stale = StageView("prod", True, "d1", exported=tuple(ARNS[:1]))
    assert not plan.stage_verdict(stale, "d1", WANTED, WANTED).serves
    foreign = StageView("prod", True, "theirs", exported=tuple(ARNS[1::-1]))
    verdict = plan.stage_verdict(foreign, "d1", WANTED, WANTED)
    assert verdict.serves
    assert verdict.adopted


def test_a_missing_stage_serves_nothing_to_wait_for_and_a_canary_is_reported() -> None:
    assert plan.stage_verdict(StageView("gone", False), None, None, WANTED).serves
    canary = StageView("prod", True, "d1", canary_deployment_id="d0")
    assert plan.stage_verdict(canary, "d1", WANTED, WANTED).canary
    same = StageView("prod", True, "d1", canary_deployment_id="d1")
    assert not plan.stage_verdict(same, "d1", WANTED, WANTED).canary


@given(listed=listed_lists, managed=arn_sets, owned=arn_sets)
def test_reconcile_classifies_every_pool_as_the_pass_would_treat_it(
    listed: list[str], managed: frozenset[str], owned: frozenset[str]
) -> None:
    managed |= owned
    wanted = plan.wanted_list(listed, managed, owned)
    statuses = {
        status.arn: status.state for status in plan.classify_pools(listed, managed, owned, ())
    }
    assert set(listed) <= set(statuses)
    for arn, state in statuses.items():
        assert (arn in wanted) == (state is not PoolState.STALE)
        assert (arn in listed) == (state is not PoolState.MISSING)
    assert all(
        state.is_drift == (state not in (PoolState.OK, PoolState.UNMANAGED))
        for state in statuses.values()
    )


RESOURCE_STATUSES = [
    f"{action}_{outcome}"
    for action in ("CREATE", "UPDATE", "DELETE", "IMPORT")
    for outcome in ("IN_PROGRESS", "COMPLETE", "FAILED")
] + ["DELETE_SKIPPED", "UPDATE_ROLLBACK_COMPLETE", "IMPORT_ROLLBACK_COMPLETE"]
# CloudFormation sends a resource that left its stack (deleted, or retained) no more requests.
LEFT_THE_STACK = ("DELETE_COMPLETE", "DELETE_SKIPPED")
STACK_STATUSES = [
    "CREATE_COMPLETE",
    "UPDATE_IN_PROGRESS",
    "UPDATE_COMPLETE_CLEANUP_IN_PROGRESS",
    "UPDATE_COMPLETE",
    "UPDATE_ROLLBACK_IN_PROGRESS",
    "UPDATE_ROLLBACK_COMPLETE_CLEANUP_IN_PROGRESS",
    "UPDATE_ROLLBACK_COMPLETE",
    "UPDATE_ROLLBACK_FAILED",
    "UPDATE_FAILED",
    "ROLLBACK_IN_PROGRESS",
    "ROLLBACK_FAILED",
    "ROLLBACK_COMPLETE",
    "IMPORT_COMPLETE",
    "DELETE_IN_PROGRESS",
    "DELETE_FAILED",
    "DELETE_COMPLETE",
    "",  # DescribeStacks listed no stack
]


@given(
    resource_status=st.sampled_from(RESOURCE_STATUSES),
    physical_id=st.sampled_from(["ours", "another", None]),
    stack_status=st.sampled_from(STACK_STATUSES),
    steady=st.booleans(),
)
def test_an_owner_departs_only_when_cloudformation_settled_without_its_registration(
    resource_status: str, physical_id: str | None, stack_status: str, steady: bool
) -> None:
    record = plan.HeldRecord(True, resource_status, physical_id, stack_status, steady)
    reason = plan.departure(record, "ours")
    left = stack_status == "DELETE_COMPLETE" or resource_status in LEFT_THE_STACK
    moving = resource_status.endswith("_IN_PROGRESS") or not stack_status.endswith("_COMPLETE")
    if not steady:
        assert reason is None  # the reads disagree: ask again next run
    elif left:
        assert reason is not None  # no request for this resource will ever come again
    elif moving or physical_id == "ours":
        assert reason is None  # held, or may be again: a rollback may still restore it
    else:
        assert reason is not None
        assert stack_status in reason
        assert resource_status in reason


def test_an_owner_cloudformation_knows_nothing_of_departs() -> None:
    assert plan.departure(plan.HeldRecord(exists=False), "ours") is not None


@given(
    holder=st.sampled_from(["mine", "theirs", None]),
    live=st.frozensets(st.sampled_from(["mine", "theirs", "third"])),
    gone=st.frozensets(st.sampled_from(["mine", "theirs", "third"])),
    managed=st.booleans(),
)
def test_a_pool_goes_to_a_stack_only_from_one_that_registers_it_or_nobody_ever_did(
    holder: str | None, live: frozenset[str], gone: frozenset[str], managed: bool
) -> None:
    pool = plan.PoolStacks(holder, live, live | gone, managed or bool(live))
    refusal = plan.claim_refusal("mine", pool)
    if holder == "mine" or live:
        assert refusal is None  # its own, or a move from a stack that still registers it
    elif holder is None and not (managed and "mine" not in gone):
        assert refusal is None  # new to the registry, or this stack's own from before claims
    else:
        assert refusal == plan.CLAIMED_ELSEWHERE
