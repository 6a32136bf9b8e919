"""Repair within seconds after someone else's change: template.yaml's EventBridge rules, on the
local EventBridge fed by the local CloudTrail (every API Gateway change of the local AWS) and by
CloudFormation's status changes, deliver to the function's repair alias as Lambda delivers an
asynchronous invocation. No schedule, no tenant event."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from conftest import World, log_lines

from demo.world import ACCOUNT, FUNCTION_AGENT, REGION
from localaws.cloudformation.stacks import InProcessFunction
from localaws.eventbridge.rules import AliasTarget, LocalEventBridge

SHARED_API_STACK = "shared-api"
PIPELINE_ROLE = f"arn:aws:iam::{ACCOUNT}:role/shared-api-pipeline"
IDLE_SECONDS = 120.0  # real seconds: a generous bound for the asynchronous deliveries to end


class RecordingAlias(AliasTarget):
    """The repair alias, keeping what each of its invocations returned and logged."""

    def __init__(self, function: Any, alias: str) -> None:
        super().__init__(function, alias)
        self.results: list[Any] = []

    def deliver(self, event: Any) -> Any:
        result = super().deliver(event)
        self.results.append(result)
        return result


def put_rules(world: World, bus: LocalEventBridge, *names: str) -> RecordingAlias:
    """template.yaml's rules ``names`` as deployed for this world, targets and permissions
    checked: each invokes the repair alias, which its own permission lets it invoke."""
    function = world.cloudformation.function
    assert isinstance(function, InProcessFunction)
    alias = RecordingAlias(function, "repair")
    resources = world.deployed(SharedApiStackName=SHARED_API_STACK).resources()
    for name in names:
        rule = resources[name]["Properties"]
        assert [target["Arn"] for target in rule["Targets"]] == ["<RepairAlias>"]
        permission = resources[f"{name}Permission"]["Properties"]
        assert permission["FunctionName"] == "<RepairAlias>"
        assert permission["SourceArn"] == f"<{name}.Arn>"
        bus.put_rule(name, rule["EventPattern"], alias)
    return alias


@pytest.fixture
def bus(world: World) -> Iterator[LocalEventBridge]:
    events = LocalEventBridge(
        world.aws.control_plane.lambda_async,
        account_id=ACCOUNT,
        region=REGION,
        function_role=str(world.deployed().resolve({"Fn::GetAtt": ["FunctionRole", "Arn"]})),
        other_role=PIPELINE_ROLE,
        function_agent=FUNCTION_AGENT,
    )
    world.aws.control_plane.after(events.trail)
    yield events
    assert world.aws.control_plane.lambda_async.wait_idle(IDLE_SECONDS)


def reset_by_the_shared_apis_pipeline(world: World, *pools: str) -> None:
    """What a shared API stack update that rewrites the authorizer does: the tenants' pools
    gone from the list, every stage redeployed."""
    world.remove_behind_the_registrys_back(*pools)
    world.redeploy_every_stage()


def summaries(alias: RecordingAlias) -> list[dict[str, Any]]:
    return [
        line["message"]
        for result in alias.results
        for line in log_lines(result.logs)
        if line["message"].get("step") == "repair"
    ]


def test_someone_elses_reset_of_the_authorizer_is_repaired_with_no_tenant_event_and_no_schedule(
    world: World, bus: LocalEventBridge
) -> None:
    acme, globex = world.tenant_pool("acme"), world.tenant_pool("globex")
    world.create_tenant("tenant-acme", acme)
    world.create_tenant("tenant-globex", globex)
    alias = put_rules(world, bus, "ApiChangesRule")
    tokens = [world.sign_in(acme), world.sign_in(globex)]

    reset_by_the_shared_apis_pipeline(world, acme, globex)
    assert world.aws.control_plane.lambda_async.wait_idle(IDLE_SECONDS)

    assert [world.answers(token) for token in tokens] == [world.everywhere(200)] * 2
    assert world.live_everywhere(acme)
    assert world.live_everywhere(globex)
    assert {summary["trigger"] for summary in summaries(alias)} == {"api-change"}
    repaired = {pool for summary in summaries(alias) for pool in summary.get("repaired_pools", [])}
    assert repaired == {acme, globex}


def test_the_functions_own_changes_trigger_no_repair(world: World, bus: LocalEventBridge) -> None:
    """The rule leaves the function's role out: its repairs cannot feed themselves."""
    alias = put_rules(world, bus, "ApiChangesRule")

    world.create_tenant("tenant-acme", world.tenant_pool("acme"))
    world.cloudformation.delete_stack("tenant-acme")

    changes = [event for event in bus.events if event["source"] == "aws.apigateway"]
    assert changes, "the function changed the API: CloudTrail recorded it"
    assert not bus.delivered
    assert not alias.results


def test_a_burst_of_changes_costs_a_pass_or_two_not_one_each(
    world: World, bus: LocalEventBridge
) -> None:
    """One stack update makes several calls (an authorizer update, a deployment per stage),
    which CloudTrail delivers in one batch: each is an event and an invocation, but a run waits
    for a pass begun after it arrived rather than making its own, and a pass finding nothing to
    repair deploys nothing."""
    acme = world.tenant_pool("acme")
    world.create_tenant("tenant-acme", acme)
    alias = put_rules(world, bus, "ApiChangesRule")
    deployments = len(world.deployments())

    with bus.held():
        reset_by_the_shared_apis_pipeline(world, acme)
    assert world.aws.control_plane.lambda_async.wait_idle(IDLE_SECONDS)

    others = 1 + len(world.api.stage_names)
    assert len(alias.results) == others  # one invocation per change, none of the function's
    assert world.live_everywhere(acme)
    repairing = [s for s in summaries(alias) if s["outcome"] == "converged" and s["deployments"]]
    assert len(repairing) == 1, summaries(alias)
    # The others' deployments, and the repair's one (pointed at every stage).
    assert len(world.deployments()) == deployments + others - 1 + 1


def test_the_shared_api_stacks_update_is_repaired_where_no_trail_logs_api_calls(
    world: World, bus: LocalEventBridge
) -> None:
    """An account without a trail sends no API call events; CloudFormation's status change of
    the shared API's stack still reaches the rule, and only that stack's."""
    acme = world.tenant_pool("acme")
    world.create_tenant("tenant-acme", acme)
    alias = put_rules(world, bus, "SharedApiStackRule")
    reset_by_the_shared_apis_pipeline(world, acme)
    prefix = f"arn:aws:cloudformation:{REGION}:{ACCOUNT}:stack"

    for stack in (f"{SHARED_API_STACK}-staging", SHARED_API_STACK):
        for status in ("UPDATE_IN_PROGRESS", "UPDATE_COMPLETE"):
            bus.put_event(
                "aws.cloudformation",
                "CloudFormation Stack Status Change",
                {
                    "stack-id": f"{prefix}/{stack}/0b5e2f10-d1a7-11ee-8c4e-0a1b2c3d4e5f",
                    "status-details": {"status": status, "status-reason": ""},
                },
            )
    assert world.aws.control_plane.lambda_async.wait_idle(IDLE_SECONDS)

    assert len(alias.results) == 1
    assert world.live_everywhere(acme)
    assert [summary["trigger"] for summary in summaries(alias)] == ["shared-api-stack"]
