"""The operator policies template.yaml outputs (OperatorPolicy and OperatorStagePolicy),
checked both ways against what ``python -m authorizer_pools list|reconcile`` really
does: every call it makes is allowed, every permission is used by some call, and none goes
beyond what the function itself may do, except reading the registrar's own stack."""

from __future__ import annotations

import io
import re
from typing import Any

import pytest
from conftest import World, create_registrar_stand_in
from support.iam import denied, iam_requests
from template_model import Deployment, listed, load_template, policy_allows

from authorizer_pools import cli
from demo.shared_api import REGISTRY_TABLE
from demo.world import ACCOUNT, REGION

STACK_NAME = "shared-authorizer-pools"
READ_THE_STACK = "ReadTheRegistrarStack"


# AllowedUserPoolArns as most deployments leave it (this account's pools), and narrowed to the
# tenants' pools: the policies' conditions take one branch or the other.
RESTRICTED = [f"arn:aws:cognito-idp:{REGION}:{ACCOUNT}:userpool/{REGION}_tenant*"]


def deployed(world: World, allowed: list[str] | None = None) -> Deployment:
    return world.deployed(**({"AllowedUserPoolArns": allowed} if allowed else {}))


def stand_in(world: World, **parameters: str) -> str:
    """The registrar stack as DescribeStacks shows it; returns its StackId."""
    return create_registrar_stand_in(
        STACK_NAME,
        {
            "RestApiId": world.api.rest_api_id,
            "AuthorizerId": world.api.authorizer_id,
            "StageNames": ",".join(world.api.stage_names),
            **parameters,
        },
        {"RegistryTableName": REGISTRY_TABLE},
    )


def operate(world: World, *arguments: str) -> int:
    return cli.main([*world.cli_target(), *arguments], out=io.StringIO())


def two_tenants(world: World) -> list[str]:
    """acme and globex, each registered by its own stack; their pools."""
    pools = [world.tenant_pool(name) for name in ("acme", "globex")]
    for number, pool in enumerate(pools):
        world.create_tenant(f"tenant-{number}", pool)
    return pools


@pytest.fixture
def operated(world: World) -> World:
    """Two tenants, drift, then an operator's session: list, a dry run, a repair, a check."""
    pools = two_tenants(world)
    gone = world.tenant_pool("initech")
    world.create_tenant("tenant-gone", gone)
    world.cloudformation.delete_stack("tenant-gone")
    # The shared API's own stack sets the list back to its template's and redeploys; someone
    # puts a gone tenant's pool back by hand.
    world.remove_behind_the_registrys_back(*pools)
    world.add_behind_the_registrys_back(gone)
    world.redeploy_every_stage()
    world.aws.control_plane.reset()  # count only the operator's calls
    assert operate(world, "list") == 0
    assert operate(world, "reconcile", "--dry-run") == cli.DRIFT_FOUND
    assert operate(world, "reconcile") == cli.DRIFT_FOUND
    assert operate(world, "reconcile") == 0
    assert all(world.live_everywhere(pool) for pool in pools)
    assert gone not in world.provider_arns()
    return world


def test_every_call_of_an_operators_session_is_allowed_by_the_operator_policies(
    operated: World,
) -> None:
    statements = deployed(operated).operator_statements()
    calls = operated.calls()
    assert {call.operation for call in calls} >= {
        "GetAuthorizer",
        "GetStages",
        "GetExport",
        "UpdateAuthorizer",
        "CreateDeployment",
        "FlushStageAuthorizersCache",
        "DescribeUserPool",
        "Query",
        "UpdateItem",
    }
    assert denied(calls, statements) == []


def test_every_action_the_operator_policies_grant_is_used_by_an_operators_session(
    operated: World,
) -> None:
    """Per statement (a stage policy's statement counts as used when the same statement of
    any stage's policy is: which stage a repair points with UpdateStage varies)."""
    statements = deployed(operated).operator_statements()
    # The statement for a removal that carries no pool key is used only where IAM gives a
    # `remove` none (not documented either way): count both.
    requests = [
        request
        for call in operated.calls()
        for carried in (True, False)
        for request in iam_requests(call, removes_carry_the_key=carried)
    ]
    used = {
        (statement["Sid"], action)
        for statement in statements
        for action in listed(statement["Action"])
        if any(
            requested == action and policy_allows([statement], requested, resource, context)
            for requested, resource, context in requests
        )
    }
    granted = {
        (statement["Sid"], action)
        for statement in statements
        if statement["Sid"] != READ_THE_STACK  # used by --stack: a test below
        if statement["Effect"] == "Allow"  # a Deny grants nothing
        for action in listed(statement["Action"])
    }
    assert granted - used == set()


def test_every_resource_and_condition_value_granted_is_needed_by_the_session(
    operated: World,
) -> None:
    """Without any one Resource item or condition value of a statement, some call of the
    session is denied. Stage names are exempt, as the stage policies are: which stages a repair
    deploys to varies."""
    statements = deployed(operated).operator_statements()
    requests = [request for call in operated.calls() for request in iam_requests(call)]
    unneeded = []
    for index, statement in enumerate(statements):
        if statement["Sid"] == READ_THE_STACK or "/stages/" in str(statement["Resource"]):
            continue
        for narrowed, dropped in _narrowings(statement):
            others = [*statements[:index], narrowed, *statements[index + 1 :]]
            if all(policy_allows(others, *request) for request in requests):
                unneeded.append((statement["Sid"], dropped))
    assert unneeded == []


def _narrowings(statement: dict[str, Any]) -> list[tuple[dict[str, Any], str]]:
    """The statement without one of its Resource items or one of a condition's values (when
    it has more than one)."""
    found = []
    resources = listed(statement["Resource"])
    if len(resources) > 1:
        for item in resources:
            found.append(({**statement, "Resource": [r for r in resources if r != item]}, item))
    for operator, keys in statement.get("Condition", {}).items():
        for key, values in keys.items():
            allowed = listed(values)
            if len(allowed) < 2 or key == "apigateway:Request/StageName":
                continue
            for value in allowed:
                kept = [v for v in allowed if v != value]
                condition = {**statement["Condition"], operator: {**keys, key: kept}}
                found.append(({**statement, "Condition": condition}, f"{key}={value}"))
    return found


@pytest.mark.parametrize("allowed", [None, RESTRICTED], ids=["this-account", "restricted"])
def test_the_operator_policies_grant_nothing_the_function_may_not_but_reading_its_stack(
    world: World, allowed: list[str] | None
) -> None:
    deployment = deployed(world, allowed)
    function = deployment.role_statements()
    for statement in deployment.operator_statements():
        if statement["Sid"] == READ_THE_STACK:
            assert statement["Action"] == "cloudformation:DescribeStacks"
            assert statement["Resource"] == (
                f"arn:aws:cloudformation:{REGION}:{ACCOUNT}:stack/{STACK_NAME}/*"
            )
            continue
        assert any(_covers(same, statement) for same in function), statement


def _covers(broader: dict[str, Any], statement: dict[str, Any]) -> bool:
    return (
        broader["Sid"] == statement["Sid"]
        and set(listed(statement["Action"])) <= set(listed(broader["Action"]))
        and set(listed(statement["Resource"])) <= set(listed(broader["Resource"]))
        and _narrower_or_equal(statement.get("Condition", {}), broader.get("Condition", {}))
    )


def test_the_stage_policy_names_each_stage_of_the_registrar_and_nothing_else(
    world: World,
) -> None:
    policy = deployed(world).resources()["OperatorStagePolicy"]
    for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
        stages = sorted(
            re.sub(r"^.*/stages/([^/]+).*$", r"\1", resource) for resource in statement["Resource"]
        )
        assert stages == sorted(world.api.stage_names), statement["Sid"]
        assert not [resource for resource in statement["Resource"] if "*" in resource]


def test_the_outputs_operators_attach_are_exactly_the_operator_policies(world: World) -> None:
    """The README attaches every output whose key starts with Operator: each must be one of
    the policies checked above, and every managed policy is the function's or an operator's."""
    template = load_template()
    referenced = {
        output["Value"]["Ref"]
        for key, output in template["Outputs"].items()
        if key.startswith("Operator")
    }
    policies = {
        logical_id: resource
        for logical_id, resource in deployed(world).resources().items()
        if resource["Type"] == "AWS::IAM::ManagedPolicy"
    }
    operators = {logical_id for logical_id in policies if logical_id.startswith("Operator")}
    assert referenced == operators
    for logical_id in set(policies) - operators:
        assert policies[logical_id]["Properties"].get("Roles") == ["<FunctionRole>"], logical_id
    for logical_id in operators:
        assert not {"Roles", "Users", "Groups"} & set(policies[logical_id]["Properties"])


def test_the_cli_finds_its_target_from_the_stack_with_only_describe_stacks(world: World) -> None:
    """``--stack``: the registrar stack's parameters and outputs name the rest. Its one
    CloudFormation call is DescribeStacks on that stack, which OperatorPolicy allows."""
    stack_id = stand_in(world)
    world.aws.control_plane.reset()
    out = io.StringIO()

    assert cli.main(["--stack", STACK_NAME, "list"], out=out) == 0

    assert f"registry {REGISTRY_TABLE}; stages {', '.join(world.api.stage_names)}" in (
        out.getvalue()
    )
    statements = deployed(world).operator_statements()
    assert policy_allows(statements, "cloudformation:DescribeStacks", stack_id)
    assert not policy_allows(
        statements,
        "cloudformation:DescribeStacks",
        stack_id.replace(f"stack/{STACK_NAME}/", "stack/another-stack/"),
    )


def test_a_registrar_narrowed_to_its_tenants_pools_gives_an_operator_no_denied_call(
    world: World,
) -> None:
    """With AllowedUserPoolArns naming the tenants' pools, the operator policy no longer covers
    the operators' pool: the CLI, told so by the stack, does not look it up."""
    pools = two_tenants(world)
    stand_in(world, AllowedUserPoolArns=",".join(pools))
    world.aws.control_plane.reset()

    assert cli.main(["--stack", STACK_NAME, "reconcile", "--dry-run"], out=io.StringIO()) == 0

    assert denied(world.calls(), deployed(world, pools).operator_statements()) == []
    looked_up = [call for call in world.calls() if call.operation == "DescribeUserPool"]
    assert len(looked_up) == len(pools)


def _narrower_or_equal(operator: dict[str, Any], function: dict[str, Any]) -> bool:
    """Same condition operators and keys; each key's allowed values a subset."""
    if operator.keys() != function.keys():
        return False
    for name, keys in operator.items():
        if keys.keys() != function[name].keys():
            return False
        for key, values in keys.items():
            if not set(listed(values)) <= set(listed(function[name][key])):
                return False
    return True
