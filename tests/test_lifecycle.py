"""A tenant's registration through CloudFormation's whole protocol, on the local AWS: Create,
replayed Create, Update that replaces, cleanup Delete, rollbacks, Delete."""

from __future__ import annotations

import pytest
from conftest import World, log_lines

from authorizer_pools.errors import REASON_LIMIT
from demo.world import REGISTRATION


def test_create_registers_the_pool_and_makes_it_live_on_every_stage(world: World) -> None:
    pool = world.tenant_pool("acme")
    alice = world.sign_in(pool, "alice")
    assert world.answers(alice) == world.everywhere(401)  # and the stages cache that answer

    with world.bystander(alice) as meanwhile:
        stack = world.create_tenant("tenant-acme", pool)

    assert stack.status == "CREATE_COMPLETE"
    (create,) = stack.exchanges
    assert create.status == "SUCCESS"
    assert create.physical_id == f"{world.api.rest_api_id}:{world.api.authorizer_id}:{pool}"
    assert create.data == {
        "UserPoolArn": pool,
        "RestApiId": world.api.rest_api_id,
        "AuthorizerId": world.api.authorizer_id,
    }
    assert world.provider_arns() == [world.api.operators_pool_arn, pool]
    assert world.live_everywhere(pool)
    assert world.answers(alice) == world.everywhere(200)
    assert meanwhile  # alice kept trying while the function worked
    assert world.flushes("dev") == 1
    assert world.flushes("prod") == 1


def test_one_add_operation_one_deployment_for_both_stages_then_each_cache_flushed(
    world: World,
) -> None:
    world.create_tenant("tenant-acme", world.tenant_pool("acme"))
    operations = [call.operation for call in world.calls() if call.service == "apigateway"]
    assert operations.count("UpdateAuthorizer") == 1
    published = [
        op
        for op in operations
        if op in ("CreateDeployment", "UpdateStage", "FlushStageAuthorizersCache")
    ]
    # CreateDeployment is allowed once per 5 s per account: one deployment, pointed at the
    # second stage too; each cache is flushed once the stage serves it.
    assert published == [
        "CreateDeployment",
        "FlushStageAuthorizersCache",
        "UpdateStage",
        "FlushStageAuthorizersCache",
    ]
    served = {world.served(stage) for stage in world.api.stage_names}
    assert len(served) == 1


def test_a_replayed_create_answers_the_same_id_and_lists_the_pool_once(world: World) -> None:
    pool = world.tenant_pool("acme")
    stack = world.cloudformation.new_stack("tenant-acme")
    exchange = world.cloudformation.send(
        "Create", stack, REGISTRATION, world.registration(pool), deliveries=2
    )
    assert exchange.status == "SUCCESS"
    answers = world.receiver.answers(str(exchange.event["RequestId"]))
    assert [a.status for a in answers] == ["SUCCESS", "SUCCESS"]
    assert {a.physical_resource_id for a in answers} == {exchange.physical_id}
    assert world.provider_arns().count(pool) == 1


def test_other_tenants_pools_are_never_touched(world: World) -> None:
    acme, globex = world.tenant_pool("acme"), world.tenant_pool("globex")
    world.create_tenant("tenant-acme", acme)
    world.create_tenant("tenant-globex", globex)
    world.cloudformation.delete_stack("tenant-acme")
    assert world.provider_arns() == [world.api.operators_pool_arn, globex]
    assert world.live_everywhere(globex)
    assert world.gone_everywhere(acme)


def test_update_to_another_pool_is_a_replacement_whose_cleanup_removes_the_old_pool(
    world: World,
) -> None:
    old, new = world.tenant_pool("acme-v1"), world.tenant_pool("acme-v2")
    world.create_tenant("tenant-acme", old)
    old_user, new_user = world.sign_in(old, "alice"), world.sign_in(new, "alice")
    assert (world.answers(old_user), world.answers(new_user)) == (
        world.everywhere(200),
        world.everywhere(401),
    )

    stack = world.cloudformation.update_stack(
        "tenant-acme", {REGISTRATION: world.registration(new)}
    )

    assert stack.status == "UPDATE_COMPLETE"
    update, cleanup = stack.exchanges[-2:]
    assert update.request_type == "Update"
    assert update.physical_id.endswith(new)
    assert cleanup.request_type == "Delete"
    assert cleanup.event["PhysicalResourceId"].endswith(old)
    # The cleanup Delete carries the new properties; it removed the old pool all the same.
    assert cleanup.event["ResourceProperties"]["UserPoolArn"] == new
    assert world.provider_arns() == [world.api.operators_pool_arn, new]
    assert world.live_everywhere(new)
    assert (world.answers(old_user), world.answers(new_user)) == (
        world.everywhere(401),
        world.everywhere(200),
    )
    assert world.gone_everywhere(old)


def test_update_of_stage_names_only_keeps_the_id_and_publishes_the_new_list(world: World) -> None:
    pool = world.tenant_pool("acme")
    world.create_tenant("tenant-acme", pool, StageNames=["dev"])
    # Every stage the registrar publishes serves the authorizer's whole list: prod too.
    assert world.live_everywhere(pool)

    stack = world.cloudformation.update_stack(
        "tenant-acme", {REGISTRATION: world.registration(pool, StageNames=["dev", "prod"])}
    )

    update = stack.exchanges[-1]
    assert stack.status == "UPDATE_COMPLETE"
    assert update.request_type == "Update"
    assert update.physical_id == stack.exchanges[0].physical_id
    assert world.live_everywhere(pool)
    assert world.provider_arns().count(pool) == 1


def test_update_rollback_after_a_replacement_leaves_exactly_the_old_pool(world: World) -> None:
    old, new = world.tenant_pool("acme-v1"), world.tenant_pool("acme-v2")
    world.create_tenant("tenant-acme", old)

    stack = world.cloudformation.update_stack(
        "tenant-acme", {REGISTRATION: world.registration(new)}, fail_after_resources=True
    )

    assert stack.status == "UPDATE_ROLLBACK_COMPLETE"
    assert [e.request_type for e in stack.exchanges[-3:]] == ["Update", "Update", "Delete"]
    assert stack.exchanges[-1].event["PhysicalResourceId"].endswith(new)
    assert world.provider_arns() == [world.api.operators_pool_arn, old]
    assert world.live_everywhere(old)
    assert world.gone_everywhere(new)


def test_an_update_refused_for_bad_input_changes_nothing_and_rolls_back_cleanly(
    world: World,
) -> None:
    old = world.tenant_pool("acme")
    world.create_tenant("tenant-acme", old)
    before = world.snapshot()

    stack = world.cloudformation.update_stack(
        "tenant-acme",
        {REGISTRATION: world.registration(world.tenant_pool("acme-v2"), StageNames=["qa"])},
    )

    failed = stack.exchanges[-2]
    assert failed.status == "FAILED"
    assert "StageNames 'qa' is not a stage this registrar publishes (dev, prod)" in failed.reason
    assert stack.status == "UPDATE_ROLLBACK_COMPLETE"
    assert world.provider_arns() == before[0]
    assert world.live_everywhere(old)


def test_delete_removes_only_its_pool_and_publishes_the_removal(world: World) -> None:
    pool = world.tenant_pool("acme")
    world.create_tenant("tenant-acme", pool)
    alice = world.sign_in(pool, "alice")
    assert world.answers(alice) == world.everywhere(200)  # and the stages cache that answer
    flushes = world.flushes()

    with world.bystander(alice) as meanwhile:
        stack = world.cloudformation.delete_stack("tenant-acme")

    delete = stack.exchanges[-1]
    assert stack.status == "DELETE_COMPLETE"
    assert delete.status == "SUCCESS"
    # crhelper would sleep 120 s before answering a Delete; this one answers at once.
    assert delete.seconds < 30
    assert world.provider_arns() == [world.api.operators_pool_arn]
    assert world.gone_everywhere(pool)
    assert world.answers(alice) == world.everywhere(401)
    assert meanwhile
    assert world.flushes() == flushes + 2
    removes = [c for c in world.calls() if c.operation == "UpdateAuthorizer"]
    assert len(removes) == 2  # the add, then exactly one remove


def test_delete_of_a_pool_already_gone_succeeds_and_changes_nothing(world: World) -> None:
    pool = world.tenant_pool("acme")
    stack = world.create_tenant("tenant-acme", pool)
    world.cloudformation.delete_stack("tenant-acme")
    before = world.snapshot()

    replay = world.cloudformation.send(
        "Delete",
        stack,
        REGISTRATION,
        world.registration(pool),
        physical_id=stack.exchanges[0].physical_id,
    )

    assert replay.status == "SUCCESS"
    assert world.snapshot() == before


@pytest.mark.parametrize("gone", ["api", "authorizer"])
def test_delete_succeeds_when_the_api_or_authorizer_is_gone(world: World, gone: str) -> None:
    pool = world.tenant_pool("acme")
    world.create_tenant("tenant-acme", pool)
    client = world.apigateway()
    if gone == "api":
        client.delete_rest_api(restApiId=world.api.rest_api_id)
    else:
        client.delete_authorizer(
            restApiId=world.api.rest_api_id, authorizerId=world.api.authorizer_id
        )

    stack = world.cloudformation.delete_stack("tenant-acme")

    assert stack.status == "DELETE_COMPLETE"


def test_delete_publishes_only_the_stages_that_still_exist(world: World) -> None:
    pool = world.tenant_pool("acme")
    world.create_tenant("tenant-acme", pool)
    world.apigateway().delete_stage(restApiId=world.api.rest_api_id, stageName="prod")

    stack = world.cloudformation.delete_stack("tenant-acme")

    assert stack.status == "DELETE_COMPLETE"
    assert world.served("prod") is None  # not recreated by a deployment
    assert pool not in (world.served("dev") or ())


def test_delete_of_an_id_this_resource_never_issued_changes_nothing(world: World) -> None:
    pool = world.tenant_pool("acme")
    world.create_tenant("tenant-acme", pool)
    stack = world.cloudformation.new_stack("tenant-other")
    before = world.snapshot()

    delete = world.cloudformation.send(
        "Delete",
        stack,
        REGISTRATION,
        world.registration(pool),
        physical_id="tenant-other_TenantPoolRegistration_K3J9QX2M",
    )

    assert delete.status == "SUCCESS"
    assert world.snapshot() == before


def test_a_create_refused_for_bad_input_rolls_back_with_nothing_changed(world: World) -> None:
    before = world.snapshot()

    stack = world.create_tenant("tenant-typo", world.tenant_pool("acme"), UserpoolArn="x")

    create, rollback = stack.exchanges
    assert create.status == "FAILED"
    assert create.reason.startswith("unknown property 'UserpoolArn'; did you mean UserPoolArn?")
    assert len(create.reason) <= REASON_LIMIT
    assert "Traceback" not in create.reason
    # crhelper invented an id for the failed Create; the rollback Delete carries it.
    assert rollback.request_type == "Delete"
    assert rollback.event["PhysicalResourceId"] == create.physical_id
    assert rollback.status == "SUCCESS"
    assert stack.status == "ROLLBACK_COMPLETE"
    assert world.snapshot() == before


def test_a_tenant_cannot_register_the_protected_operators_pool_and_so_cannot_remove_it(
    world: World,
) -> None:
    # AllowedUserPoolArns allows every pool of this account (the default), the operators' too.
    operators = world.api.operators_pool_arn
    token = world.sign_in(operators, "operator")

    stack = world.create_tenant("tenant-sly", operators)

    create, rollback = stack.exchanges
    assert create.status == "FAILED"
    assert create.reason.startswith(f"UserPoolArn '{operators}' is protected")
    assert rollback.status == "SUCCESS"
    assert world.owners() == {}
    assert world.provider_arns() == [operators]
    assert world.answers(token) == world.everywhere(200)


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        (
            {"UserPoolArn": "arn:aws:cognito-idp:us-east-1:123456789012:userpool/us-east-1_Nope1"},
            "UserPoolArn 'arn:aws:cognito-idp:us-east-1:123456789012:userpool/us-east-1_Nope1' "
            "names no user pool",
        ),
        # Names that are not the registrar's are refused before anything is looked up.
        ({"RestApiId": "zzzzzzzzzz"}, "RestApiId 'zzzzzzzzzz' is not the REST API this registrar"),
        ({"AuthorizerId": "zzzzzz"}, "AuthorizerId 'zzzzzz' is not the authorizer this registrar"),
        ({"StageNames": ["dev", "qa"]}, "StageNames 'qa' is not a stage this registrar publishes"),
    ],
)
def test_a_create_naming_something_that_does_not_exist_is_refused_by_name(
    world: World, overrides: dict[str, object], expected: str
) -> None:
    before = world.snapshot()
    stack = world.create_tenant("tenant-acme", world.tenant_pool("acme"), **overrides)
    create = stack.exchanges[0]
    assert create.status == "FAILED"
    assert expected in create.reason
    assert stack.status == "ROLLBACK_COMPLETE"
    assert world.snapshot() == before


@pytest.mark.parametrize(
    ("variable", "value", "expected"),
    [
        ("REST_API_ID", "zzzzzzzzzz", "RestApiId 'zzzzzzzzzz' names no REST API"),
        ("AUTHORIZER_ID", "zzzzzz", "AuthorizerId 'zzzzzz' names no authorizer of REST API"),
        ("STAGE_NAMES", "dev,prod,qa", "StageNames 'qa' is not a stage of REST API"),
    ],
)
def test_a_registrar_deployed_for_what_does_not_exist_refuses_by_name(
    world: World, monkeypatch: pytest.MonkeyPatch, variable: str, value: str, expected: str
) -> None:
    monkeypatch.setenv(variable, value)
    before = world.snapshot()
    stack = world.create_tenant(
        "tenant-acme",
        world.tenant_pool("acme"),
        RestApiId=None,
        AuthorizerId=None,
        StageNames=value.split(",") if variable == "STAGE_NAMES" else None,
    )
    assert expected in stack.exchanges[0].reason
    assert stack.status == "ROLLBACK_COMPLETE"
    assert world.snapshot() == before


def test_an_authorizer_that_is_not_cognito_is_refused(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    token = world.apigateway().create_authorizer(
        restApiId=world.api.rest_api_id,
        name="legacy",
        type="TOKEN",
        authorizerUri="arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/"
        "arn:aws:lambda:us-east-1:123456789012:function:auth/invocations",
        identitySource="method.request.header.Authorization",
    )["id"]
    monkeypatch.setenv("AUTHORIZER_ID", token)  # a registrar deployed for the wrong one
    stack = world.create_tenant("tenant-acme", world.tenant_pool("acme"), AuthorizerId=token)
    assert f"AuthorizerId '{token}' is an authorizer of type TOKEN" in stack.exchanges[0].reason


def test_the_last_pool_is_kept_so_the_tenant_stack_can_still_go(world: World) -> None:
    client = world.apigateway()
    pool = world.tenant_pool("acme")
    world.create_tenant("tenant-acme", pool)
    # Take the operators' pool off, leaving the tenant's the only one.
    client.update_authorizer(
        restApiId=world.api.rest_api_id,
        authorizerId=world.api.authorizer_id,
        patchOperations=[
            {"op": "remove", "path": "/providerARNs", "value": world.api.operators_pool_arn}
        ],
    )

    stack = world.cloudformation.delete_stack("tenant-acme")

    delete = stack.exchanges[-1]
    assert stack.status == "DELETE_COMPLETE"
    assert world.provider_arns() == [pool]
    (warning,) = [line for line in log_lines(delete.logs) if line["level"] == "WARNING"]
    assert warning["message"]["outcome"] == "kept-last-pool"
    assert "operators' pool" in warning["message"]["remedy"]


OTHER_ACCOUNT_POOL = "arn:aws:cognito-idp:eu-west-1:210987654321:userpool/eu-west-1_Zz9Yy8"


def test_another_accounts_pool_is_refused_unless_the_stack_allows_and_shares_it(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    refused = world.create_tenant("tenant-partner", OTHER_ACCOUNT_POOL)
    assert "is not allowed by AllowedUserPoolArns" in refused.exchanges[0].reason

    monkeypatch.setenv("ALLOWED_USER_POOL_ARNS", "arn:aws:cognito-idp:*:210987654321:userpool/*")
    unshared = world.create_tenant("tenant-partner-1", OTHER_ACCOUNT_POOL)
    assert "is another account's or Region's pool" in unshared.exchanges[0].reason
    monkeypatch.setenv("SHARED_USER_POOL_ARNS", OTHER_ACCOUNT_POOL)
    allowed = world.create_tenant("tenant-partner-2", OTHER_ACCOUNT_POOL)

    assert allowed.status == "CREATE_COMPLETE", allowed.exchanges[0].reason
    assert world.live_everywhere(OTHER_ACCOUNT_POOL)


def test_a_registration_naming_only_its_pool_uses_the_functions_defaults(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("REST_API_ID", world.api.rest_api_id)
    monkeypatch.setenv("AUTHORIZER_ID", world.api.authorizer_id)
    monkeypatch.setenv("STAGE_NAMES", "dev,prod")
    pool = world.tenant_pool("acme")

    stack = world.create_tenant(
        "tenant-acme", pool, RestApiId=None, AuthorizerId=None, StageNames=None
    )

    assert stack.status == "CREATE_COMPLETE", stack.exchanges[0].reason
    assert set(stack.exchanges[0].event["ResourceProperties"]) == {"ServiceToken", "UserPoolArn"}
    assert world.live_everywhere(pool)
    deleted = world.cloudformation.delete_stack("tenant-acme")
    assert deleted.status == "DELETE_COMPLETE"
    assert world.gone_everywhere(pool)
