"""localaws.apigateway.patches: the documented API Gateway behaviour moto lacks (per-ARN patches,
CreateDeployment keeping the stage, the cache flush, canary releases, GetExport), through boto3."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError
from moto.apigateway.models import Authorizer, RestAPI, Stage

from localaws.apigateway import patches as apigateway_patches
from localaws.apigateway.deployments import served_provider_arn_lists, served_provider_arns
from localaws.apigateway.flush import FLUSH_JOURNAL
from localaws.server import LocalAws

if TYPE_CHECKING:
    from mypy_boto3_apigateway import APIGatewayClient
    from mypy_boto3_cognito_idp import CognitoIdentityProviderClient

INVALID = "ProviderARNs need to be valid Cognito Userpools. Invalid ARNs- "
OTHER_ACCOUNT_POOL = "arn:aws:cognito-idp:eu-west-1:111122223333:userpool/eu-west-1_AbCdEf123"


@dataclass
class Api:
    client: APIGatewayClient
    api_id: str
    authorizer_id: str
    pools: list[str]

    def patch(self, *operations: dict[str, Any]) -> list[str]:
        response = self.client.update_authorizer(
            restApiId=self.api_id,
            authorizerId=self.authorizer_id,
            patchOperations=list(operations),  # type: ignore[arg-type]
        )
        return list(response.get("providerARNs", []))

    def provider_arns(self) -> list[str]:
        authorizer = self.client.get_authorizer(
            restApiId=self.api_id, authorizerId=self.authorizer_id
        )
        return list(authorizer.get("providerARNs", []))


def add(arn: str) -> dict[str, Any]:
    return {"op": "add", "path": "/providerARNs", "value": arn}


def remove(arn: str) -> dict[str, Any]:
    return {"op": "remove", "path": "/providerARNs", "value": arn}


@dataclass
class World:
    """One server, clients and tenant pools for the module: moto takes ~0.1 s per pool."""

    aws: LocalAws
    apigateway: APIGatewayClient
    cognito: CognitoIdentityProviderClient
    pools: list[str]


@pytest.fixture(scope="module")
def world() -> Iterator[World]:
    with LocalAws() as aws:
        options: dict[str, Any] = {
            "endpoint_url": aws.endpoint_url,
            "region_name": "us-east-1",
            "aws_access_key_id": "testing",
            "aws_secret_access_key": "testing",
            # One attempt: a test that expects an error must see exactly one call.
            "config": Config(retries={"total_max_attempts": 1}),
        }
        apigateway: APIGatewayClient = boto3.client("apigateway", **options)
        cognito: CognitoIdentityProviderClient = boto3.client("cognito-idp", **options)
        pools = [
            cognito.create_user_pool(PoolName=f"tenant-{i}")["UserPool"]["Arn"] for i in range(3)
        ]
        yield World(aws, apigateway, cognito, pools)


@pytest.fixture
def api(world: World) -> Api:
    """A fresh REST API (one GET method) with a Cognito authorizer listing the first pool."""
    apigateway = world.apigateway
    api_id = apigateway.create_rest_api(name="shared")["id"]
    root = apigateway.get_resources(restApiId=api_id)["items"][0]["id"]
    apigateway.put_method(
        restApiId=api_id, resourceId=root, httpMethod="GET", authorizationType="NONE"
    )
    apigateway.put_integration(restApiId=api_id, resourceId=root, httpMethod="GET", type="MOCK")
    authorizer_id = apigateway.create_authorizer(
        restApiId=api_id,
        name="tenants",
        type="COGNITO_USER_POOLS",
        providerARNs=[world.pools[0]],
        identitySource="method.request.header.Authorization",
    )["id"]
    return Api(apigateway, api_id, authorizer_id, list(world.pools))


def error_of(exc: pytest.ExceptionInfo[ClientError]) -> tuple[int, str, str]:
    response: Any = exc.value.response
    return (
        response["ResponseMetadata"]["HTTPStatusCode"],
        response["Error"]["Code"],
        response["Error"]["Message"],
    )


# -- per-ARN add and remove -------------------------------------------------------------------


def test_add_then_remove_one_arn_at_a_time(api: Api) -> None:
    first, second, third = api.pools
    assert api.patch(add(second)) == [first, second]
    assert api.patch(add(third)) == [first, second, third]
    assert api.patch(remove(second)) == [first, third]
    assert api.provider_arns() == [first, third]


def test_add_before_remove_swaps_the_only_pool(api: Api) -> None:
    # Terraform's order: "providerARNs can't be empty, so add first and then remove".
    first, second, _ = api.pools
    assert api.patch(add(second), remove(first)) == [second]


def test_remove_before_add_of_the_only_pool_is_refused(api: Api) -> None:
    first, second, _ = api.pools
    with pytest.raises(ClientError) as exc:
        api.patch(remove(first), add(second))
    status, code, message = error_of(exc)
    assert (status, code) == (400, "BadRequestException")
    assert "cannot be empty" in message
    assert api.provider_arns() == [first]


def test_removing_the_last_pool_is_refused(api: Api) -> None:
    with pytest.raises(ClientError) as exc:
        api.patch(remove(api.pools[0]))
    assert error_of(exc)[:2] == (400, "BadRequestException")
    assert api.provider_arns() == [api.pools[0]]


def test_adding_a_listed_arn_is_refused(api: Api) -> None:
    with pytest.raises(ClientError) as exc:
        api.patch(add(api.pools[0]))
    status, code, message = error_of(exc)
    assert (status, code) == (400, "BadRequestException")
    assert "already listed" in message
    assert api.provider_arns() == [api.pools[0]]


def test_removing_an_unlisted_arn_is_refused(api: Api) -> None:
    api.patch(add(api.pools[1]))
    with pytest.raises(ClientError) as exc:
        api.patch(remove(api.pools[2]))
    status, code, message = error_of(exc)
    assert (status, code) == (400, "BadRequestException")
    assert "not listed" in message
    assert api.provider_arns() == api.pools[:2]


@pytest.mark.parametrize(
    "arn",
    [
        pytest.param(
            "arn:aws:cognito-identity:us-east-1:123456789012:identitypool/"
            "us-east-1:0f7d2d4c-1111-2222-3333-444455556666",
            id="identity-pool",
        ),
        pytest.param("not-an-arn", id="malformed"),
        pytest.param("arn:aws:cognito-idp:us-east-1:123456789012:userpool/", id="no-pool-id"),
        pytest.param(
            "arn:aws-cn:cognito-idp:cn-north-1:123456789012:userpool/cn-north-1_AbC123",
            id="other-partition",
        ),
        pytest.param(
            "arn:aws:cognito-idp:us-east-1:123456789012:userpool/eu-west-1_AbC123",
            id="pool-id-of-another-region",
        ),
        pytest.param(
            "arn:aws:cognito-idp:us-east-1:123456789012:userpool/us-east-1_DoesNotExist",
            id="missing-pool-own-account",
        ),
        pytest.param(
            "arn:aws:cognito-idp:us-west-2:123456789012:userpool/us-west-2_DoesNotExist",
            id="missing-pool-own-account-other-region",
        ),
    ],
)
def test_invalid_pool_arns_are_refused_with_aws_message(api: Api, arn: str) -> None:
    with pytest.raises(ClientError) as exc:
        api.patch(add(arn))
    assert error_of(exc) == (400, "BadRequestException", INVALID + arn)
    assert api.provider_arns() == [api.pools[0]]


def test_a_pool_of_another_account_is_accepted(api: Api) -> None:
    assert api.patch(add(OTHER_ACCOUNT_POOL)) == [api.pools[0], OTHER_ACCOUNT_POOL]


def test_a_listed_arn_of_a_deleted_pool_can_still_be_removed(api: Api, world: World) -> None:
    doomed = world.cognito.create_user_pool(PoolName="doomed")["UserPool"]
    api.patch(add(doomed["Arn"]))
    world.cognito.delete_user_pool(UserPoolId=doomed["Id"])
    assert api.patch(remove(doomed["Arn"])) == [api.pools[0]]


@pytest.mark.parametrize("op", ["replace", "move", "copy", "test"])
def test_other_operations_on_provider_arns_are_refused(api: Api, op: str) -> None:
    operation: dict[str, Any] = {"op": op, "path": "/providerARNs", "value": api.pools[1]}
    if op in ("move", "copy"):
        operation["from"] = "/providerARNs"
    with pytest.raises(ClientError) as exc:
        api.patch(operation)
    assert error_of(exc)[:2] == (400, "BadRequestException")
    assert api.provider_arns() == [api.pools[0]]


def test_indexed_provider_arns_path_is_refused(api: Api) -> None:
    with pytest.raises(ClientError) as exc:
        api.patch({"op": "add", "path": "/providerARNs/1", "value": api.pools[1]})
    assert error_of(exc)[:2] == (400, "BadRequestException")


def test_provider_arns_of_a_token_authorizer_are_refused(api: Api) -> None:
    token_authorizer = api.client.create_authorizer(
        restApiId=api.api_id,
        name="lambda",
        type="TOKEN",
        authorizerUri="arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/"
        "arn:aws:lambda:us-east-1:123456789012:function:auth/invocations",
        identitySource="method.request.header.Authorization",
    )["id"]
    with pytest.raises(ClientError) as exc:
        api.client.update_authorizer(
            restApiId=api.api_id,
            authorizerId=token_authorizer,
            patchOperations=[add(api.pools[1])],  # type: ignore[list-item]
        )
    status, code, message = error_of(exc)
    assert (status, code) == (400, "BadRequestException")
    assert "COGNITO_USER_POOLS" in message


@pytest.mark.parametrize(
    ("provider_arns", "message"),
    [
        (["not-an-arn"], INVALID + "not-an-arn"),
        ([], "cannot be empty"),
        (None, "cannot be empty"),
        ([OTHER_ACCOUNT_POOL, OTHER_ACCOUNT_POOL], "same ARN twice"),
    ],
)
def test_create_authorizer_refuses_what_aws_refuses(
    api: Api, provider_arns: list[str] | None, message: str
) -> None:
    arns: dict[str, Any] = {} if provider_arns is None else {"providerARNs": provider_arns}
    with pytest.raises(ClientError) as exc:
        api.client.create_authorizer(
            restApiId=api.api_id,
            name="second",
            type="COGNITO_USER_POOLS",
            identitySource="method.request.header.Authorization",
            **arns,
        )
    status, code, text = error_of(exc)
    assert (status, code) == (400, "BadRequestException")
    assert message in text


# -- atomicity --------------------------------------------------------------------------------


def test_a_refused_operation_undoes_the_whole_patch(api: Api) -> None:
    first, second, third = api.pools
    with pytest.raises(ClientError):
        api.patch(
            {"op": "replace", "path": "/name", "value": "renamed"},
            add(second),
            add(third),
            add("not-an-arn"),
        )
    authorizer = api.client.get_authorizer(restApiId=api.api_id, authorizerId=api.authorizer_id)
    assert authorizer["name"] == "tenants"
    assert authorizer["providerARNs"] == [first]


def test_a_patch_of_several_arns_applies_all_of_them(api: Api) -> None:
    first, second, third = api.pools
    assert api.patch(add(second), add(third), remove(first)) == [second, third]


def test_other_paths_keep_motos_behaviour(api: Api) -> None:
    api.patch({"op": "replace", "path": "/name", "value": "renamed"})
    authorizer = api.client.get_authorizer(restApiId=api.api_id, authorizerId=api.authorizer_id)
    assert authorizer["name"] == "renamed"
    assert authorizer["providerARNs"] == [api.pools[0]]


# -- CreateDeployment keeps the stage ---------------------------------------------------------


def test_create_deployment_keeps_stage_settings(api: Api) -> None:
    first = api.client.create_deployment(restApiId=api.api_id, stageName="prod")["id"]
    api.client.update_stage(
        restApiId=api.api_id,
        stageName="prod",
        patchOperations=[
            {"op": "replace", "path": "/description", "value": "tenant gateway"},
            {"op": "replace", "path": "/variables/tier", "value": "gold"},
            {"op": "replace", "path": "/*/*/logging/loglevel", "value": "INFO"},
        ],
    )
    second = api.client.create_deployment(restApiId=api.api_id, stageName="prod")["id"]
    stage = api.client.get_stage(restApiId=api.api_id, stageName="prod")
    assert first != second
    assert stage["deploymentId"] == second
    assert stage["description"] == "tenant gateway"
    assert stage["variables"] == {"tier": "gold"}
    assert stage["methodSettings"]["*/*"]["loggingLevel"] == "INFO"
    deployments = api.client.get_deployments(restApiId=api.api_id)["items"]
    assert {d["id"] for d in deployments} == {first, second}


def test_create_deployment_creates_a_missing_stage(api: Api) -> None:
    deployment = api.client.create_deployment(restApiId=api.api_id, stageName="beta")["id"]
    assert api.client.get_stage(restApiId=api.api_id, stageName="beta")["deploymentId"] == (
        deployment
    )


def test_stage_variables_on_redeploying_an_existing_stage_are_refused(api: Api) -> None:
    api.client.create_deployment(restApiId=api.api_id, stageName="prod")
    with pytest.raises(ClientError) as exc:
        api.client.create_deployment(
            restApiId=api.api_id, stageName="prod", variables={"tier": "gold"}
        )
    assert error_of(exc)[:2] == (400, "BadRequestException")


def test_deployment_created_date_has_one_second_resolution(api: Api) -> None:
    deployment_id = api.client.create_deployment(restApiId=api.api_id, stageName="prod")["id"]
    created = api.client.get_deployment(restApiId=api.api_id, deploymentId=deployment_id)[
        "createdDate"
    ]
    assert created.microsecond == 0


# -- FlushStageAuthorizersCache ---------------------------------------------------------------


def test_flush_of_an_existing_stage_answers_202_and_is_journaled(api: Api) -> None:
    api.client.create_deployment(restApiId=api.api_id, stageName="prod")
    response = api.client.flush_stage_authorizers_cache(restApiId=api.api_id, stageName="prod")
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 202
    records = FLUSH_JOURNAL.records(api_id=api.api_id)
    assert [(r.account_id, r.region, r.api_id, r.stage_name) for r in records] == [
        ("123456789012", "us-east-1", api.api_id, "prod")
    ]


@pytest.mark.parametrize(
    ("api_id", "stage", "message"),
    [
        (None, "missing", "Invalid stage identifier specified"),
        ("nope000000", "prod", "Invalid Rest API Id specified"),
    ],
)
def test_flush_of_a_missing_stage_or_api_is_not_found(
    api: Api, api_id: str | None, stage: str, message: str
) -> None:
    api.client.create_deployment(restApiId=api.api_id, stageName="prod")
    with pytest.raises(ClientError) as exc:
        api.client.flush_stage_authorizers_cache(restApiId=api_id or api.api_id, stageName=stage)
    assert error_of(exc) == (404, "NotFoundException", message)
    assert FLUSH_JOURNAL.records(api_id=api.api_id) == []


# -- installation -----------------------------------------------------------------------------


def test_install_is_idempotent(world: World) -> None:
    apigateway_patches.install()
    patched = Authorizer.apply_operations
    apigateway_patches.install()
    assert apigateway_patches.is_installed()
    assert Authorizer.apply_operations is patched
    assert RestAPI.create_deployment.__module__ == "localaws.apigateway.deployments"


# -- canary releases --------------------------------------------------------------------------

ACCOUNT = "123456789012"
REGION = "us-east-1"


@dataclass
class Served:
    """A REST API whose GET /orders is behind a Cognito authorizer, deployed to ``prod``."""

    client: APIGatewayClient
    api_id: str
    authorizer_id: str
    pools: list[str]
    base: str

    def add_pool(self, arn: str) -> None:
        self.client.update_authorizer(
            restApiId=self.api_id,
            authorizerId=self.authorizer_id,
            patchOperations=[add(arn)],  # type: ignore[list-item]
        )

    def lists(self, stage: str = "prod") -> list[tuple[str, ...]]:
        return served_provider_arn_lists(ACCOUNT, REGION, self.api_id, stage, self.authorizer_id)

    def base_list(self, stage: str = "prod") -> tuple[str, ...] | None:
        return served_provider_arns(ACCOUNT, REGION, self.api_id, stage, self.authorizer_id)

    def stage(self, stage: str = "prod") -> dict[str, Any]:
        return dict(self.client.get_stage(restApiId=self.api_id, stageName=stage))

    def update_stage(self, *operations: dict[str, Any], stage: str = "prod") -> dict[str, Any]:
        return dict(
            self.client.update_stage(
                restApiId=self.api_id,
                stageName=stage,
                patchOperations=list(operations),  # type: ignore[arg-type]
            )
        )

    def canary_deployment(self, **settings: Any) -> str:
        canary: Any = settings
        return self.client.create_deployment(
            restApiId=self.api_id, stageName="prod", canarySettings=canary
        )["id"]

    def export(self, export_type: str = "oas30", **parameters: str) -> dict[str, Any]:
        response = self.client.get_export(
            restApiId=self.api_id,
            stageName="prod",
            exportType=export_type,
            parameters=parameters,
            accepts="application/json",
        )
        document: dict[str, Any] = json.loads(response["body"].read())
        return document


@pytest.fixture
def served(world: World) -> Served:
    client = world.apigateway
    api_id = client.create_rest_api(name="shared", description="the shared API")["id"]
    root = client.get_resources(restApiId=api_id)["items"][0]["id"]
    orders = client.create_resource(restApiId=api_id, parentId=root, pathPart="orders")["id"]
    authorizer_id = client.create_authorizer(
        restApiId=api_id,
        name="tenants",
        type="COGNITO_USER_POOLS",
        providerARNs=[world.pools[0]],
        identitySource="method.request.header.Authorization",
    )["id"]
    method: Any = {"restApiId": api_id, "resourceId": orders, "httpMethod": "GET"}
    client.put_method(**method, authorizationType="COGNITO_USER_POOLS", authorizerId=authorizer_id)
    client.put_method_response(**method, statusCode="200")
    client.put_integration(
        **method, type="MOCK", requestTemplates={"application/json": '{"statusCode": 200}'}
    )
    client.put_integration_response(**method, statusCode="200", selectionPattern="")
    base = client.create_deployment(restApiId=api_id, stageName="prod")["id"]
    return Served(client, api_id, authorizer_id, list(world.pools), base)


def test_moto_alone_has_no_canary(served: Served) -> None:
    # What the extension is for: moto 5.2.5 ignores canarySettings and moves the base on
    # "replace /canarySettings/deploymentId".
    apigateway_patches.uninstall()
    try:
        stage = Stage(name="prod", deployment_id="base")
        stage.apply_operations(
            [{"op": "replace", "path": "/canarySettings/deploymentId", "value": "other"}]
        )
        assert stage.deployment_id == "other"
        assert "canarySettings" not in stage.to_json()
    finally:
        apigateway_patches.install()


def test_a_canary_deployment_becomes_the_canary_and_leaves_the_base(served: Served) -> None:
    first, second, _ = served.pools
    served.add_pool(second)
    canary = served.canary_deployment(
        percentTraffic=10, stageVariableOverrides={"tier": "canary"}, useStageCache=True
    )
    stage = served.stage()
    assert stage["deploymentId"] == served.base
    assert stage["canarySettings"] == {
        "deploymentId": canary,
        "percentTraffic": 10.0,
        "stageVariableOverrides": {"tier": "canary"},
        "useStageCache": True,
    }
    listed = served.client.get_stages(restApiId=served.api_id)["item"]
    assert [s["canarySettings"]["deploymentId"] for s in listed] == [canary]
    # Base first, then the canary's own, newer list; served_provider_arns is the base only.
    assert served.lists() == [(first,), (first, second)]
    assert served.base_list() == (first,)


def test_redeploying_the_base_leaves_the_canary_serving_its_old_pools(served: Served) -> None:
    first, second, third = served.pools
    canary = served.canary_deployment(percentTraffic=5)
    served.add_pool(second)
    redeployed = served.client.create_deployment(restApiId=served.api_id, stageName="prod")["id"]
    stage = served.stage()
    assert (stage["deploymentId"], stage["canarySettings"]["deploymentId"]) == (redeployed, canary)
    assert served.lists() == [(first, second), (first,)]
    # UpdateStage of /deploymentId moves the base only, too.
    served.add_pool(third)
    latest = served.client.create_deployment(restApiId=served.api_id)["id"]
    served.update_stage({"op": "replace", "path": "/deploymentId", "value": latest})
    assert served.stage()["canarySettings"]["deploymentId"] == canary
    assert served.lists() == [(first, second, third), (first,)]


def test_removing_canary_settings_ends_the_canary(served: Served) -> None:
    served.add_pool(served.pools[1])
    served.canary_deployment(percentTraffic=50)
    answer = served.update_stage({"op": "remove", "path": "/canarySettings"})
    assert "canarySettings" not in answer
    assert "canarySettings" not in served.stage()
    assert served.lists() == [(served.pools[0],)]


def test_replacing_the_canary_deployment_id_points_it_elsewhere(served: Served) -> None:
    first, second, _ = served.pools
    served.canary_deployment(percentTraffic=20)
    served.add_pool(second)
    other = served.client.create_deployment(restApiId=served.api_id)["id"]
    answer = served.update_stage(
        {"op": "replace", "path": "/canarySettings/deploymentId", "value": other}
    )
    assert answer["deploymentId"] == served.base
    assert answer["canarySettings"]["deploymentId"] == other
    assert answer["canarySettings"]["percentTraffic"] == 20.0
    assert served.lists() == [(first,), (first, second)]


def test_update_stage_turns_a_canary_on_as_aws_does(served: Served) -> None:
    # As recorded against AWS: a canary deploymentId alone gives a canary at 0 %; a
    # percentTraffic alone gives a canary on the base deployment.
    served.add_pool(served.pools[1])
    other = served.client.create_deployment(restApiId=served.api_id)["id"]
    answer = served.update_stage(
        {"op": "replace", "path": "/canarySettings/deploymentId", "value": other}
    )
    assert answer["canarySettings"] == {
        "deploymentId": other,
        "percentTraffic": 0.0,
        "useStageCache": False,
    }
    served.update_stage({"op": "remove", "path": "/canarySettings"})
    answer = served.update_stage(
        {"op": "replace", "path": "/canarySettings/percentTraffic", "value": "50"}
    )
    assert answer["canarySettings"] == {
        "deploymentId": served.base,
        "percentTraffic": 50.0,
        "useStageCache": False,
    }
    # A canary on the base deployment serves no other list.
    assert served.lists() == [(served.pools[0],)]


def test_canary_settings_can_be_updated(served: Served) -> None:
    served.canary_deployment(percentTraffic=10, stageVariableOverrides={"a": "1", "b": "2"})
    answer = served.update_stage(
        {"op": "replace", "path": "/canarySettings/percentTraffic", "value": "25.5"},
        {"op": "replace", "path": "/canarySettings/useStageCache", "value": "true"},
        {"op": "replace", "path": "/canarySettings/stageVariableOverrides/a", "value": "9"},
        {"op": "remove", "path": "/canarySettings/stageVariableOverrides/b"},
    )
    settings = answer["canarySettings"]
    assert (settings["percentTraffic"], settings["useStageCache"]) == (25.5, True)
    assert settings["stageVariableOverrides"] == {"a": "9"}


def test_promotion_copies_the_canary_deployment_and_variables(served: Served) -> None:
    first, second, _ = served.pools
    served.update_stage({"op": "replace", "path": "/variables/tier", "value": "base"})
    served.add_pool(second)
    canary = served.canary_deployment(
        percentTraffic=10, stageVariableOverrides={"tier": "canary", "new": "x"}
    )
    answer = served.update_stage(
        {"op": "copy", "from": "/canarySettings/deploymentId", "path": "/deploymentId"},
        {"op": "copy", "from": "/canarySettings/stageVariableOverrides", "path": "/variables"},
    )
    assert answer["deploymentId"] == canary
    assert answer["variables"] == {"tier": "canary", "new": "x"}
    assert answer["canarySettings"]["deploymentId"] == canary  # the canary stays until removed
    assert served.lists() == [(first, second)]


@pytest.mark.parametrize(
    ("stage_name", "message"),
    [
        (
            None,
            "Invalid deployment content specified.Non null and non empty stageName must be "
            "provided for canary deployment. Provided value is null",
        ),
        (
            "",
            "Invalid deployment content specified.Non null and non empty stageName must be "
            "provided for canary deployment. Provided value is ",
        ),
        (
            "missing",
            "Invalid deployment content specified.Stage missing must already be created before "
            "making a canary release deployment",
        ),
    ],
)
def test_a_canary_deployment_needs_an_existing_stage(
    served: Served, stage_name: str | None, message: str
) -> None:
    before = served.client.get_deployments(restApiId=served.api_id)["items"]
    stage: dict[str, Any] = {} if stage_name is None else {"stageName": stage_name}
    with pytest.raises(ClientError) as exc:
        served.client.create_deployment(
            restApiId=served.api_id, canarySettings={"percentTraffic": 50}, **stage
        )
    assert error_of(exc) == (400, "BadRequestException", message)
    assert served.client.get_deployments(restApiId=served.api_id)["items"] == before


@pytest.mark.parametrize(
    ("operations", "message"),
    [
        (
            [{"op": "add", "path": "/canarySettings/deploymentId", "value": "x"}],
            "Invalid add operation with path: /canarySettings/deploymentId",
        ),
        (
            [{"op": "replace", "path": "/canarySettings/deploymentId", "value": "nope"}],
            "Deployment id does not exist",
        ),
        (
            [{"op": "replace", "path": "/deploymentId", "value": "nope"}],
            "Deployment id does not exist",
        ),
        (
            [{"op": "replace", "path": "/canarySettings/badPath", "value": "x"}],
            "Invalid method setting path: /canarySettings/badPath. Must be one of: [",
        ),
        (
            [{"op": "replace", "path": "/canarySettings", "value": "x"}],
            "Invalid method setting path: /canarySettings. Must be one of: [",
        ),
        (
            [{"op": "remove", "path": "/canarySettings/stageVariableOverrides"}],
            "Cannot remove method setting canarySettings/stageVariableOverrides because there "
            "is no method setting for this method ",
        ),
        (
            [
                {
                    "op": "copy",
                    "from": "/variables",
                    "path": "/canarySettings/stageVariableOverrides",
                }
            ],
            "Invalid copy operation with path: /canarySettings/stageVariableOverrides and from "
            "/variables.",
        ),
        (
            [{"op": "copy", "from": "/canarySettings/deploymentId", "path": "/deploymentId"}],
            "Promotion not available. Canary does not exist.",
        ),
        # Undocumented in AWS: refused here.
        ([{"op": "remove", "path": "/canarySettings"}], "the stage has no canary"),
        (
            [{"op": "replace", "path": "/canarySettings/useStageCache", "value": "true"}],
            "the stage has no canary",
        ),
        (
            [{"op": "replace", "path": "/canarySettings/percentTraffic", "value": "100.5"}],
            "between 0.0 and 100.0",
        ),
        (
            [{"op": "replace", "path": "/canarySettings/percentTraffic", "value": "lots"}],
            "not a number",
        ),
    ],
)
def test_update_stage_refuses_what_aws_refuses(
    served: Served, operations: list[dict[str, Any]], message: str
) -> None:
    with pytest.raises(ClientError) as exc:
        served.update_stage(*operations)
    status, code, text = error_of(exc)
    assert (status, code) == (400, "BadRequestException")
    assert text.startswith(message) or message in text
    assert "canarySettings" not in served.stage()


def test_a_refused_stage_operation_undoes_the_whole_update(served: Served) -> None:
    served.canary_deployment(percentTraffic=10)
    before = served.stage()
    with pytest.raises(ClientError):
        served.update_stage(
            {"op": "replace", "path": "/description", "value": "changed"},
            {"op": "remove", "path": "/canarySettings"},
            {"op": "replace", "path": "/canarySettings/percentTraffic", "value": "200"},
        )
    after = served.stage()
    assert after["canarySettings"] == before["canarySettings"]
    assert after.get("description", "") == before.get("description", "")


def test_create_stage_takes_canary_settings(served: Served) -> None:
    served.add_pool(served.pools[1])
    second = served.client.create_deployment(restApiId=served.api_id)["id"]
    created = served.client.create_stage(
        restApiId=served.api_id,
        stageName="beta",
        deploymentId=served.base,
        canarySettings={"deploymentId": second, "percentTraffic": 60},
    )
    assert created["canarySettings"] == {
        "deploymentId": second,
        "percentTraffic": 60.0,
        "useStageCache": False,
    }
    assert served.lists("beta") == [(served.pools[0],), tuple(served.pools[:2])]
    with pytest.raises(ClientError) as exc:
        served.client.create_stage(
            restApiId=served.api_id,
            stageName="gamma",
            deploymentId=served.base,
            canarySettings={"deploymentId": "deploy"},
        )
    assert error_of(exc) == (400, "BadRequestException", "Deployment id does not exist")
    stages = served.client.get_stages(restApiId=served.api_id)["item"]
    assert "gamma" not in {s["stageName"] for s in stages}


def test_a_deployment_a_stage_serves_cannot_be_deleted(served: Served) -> None:
    canary = served.canary_deployment(percentTraffic=10)
    unused = served.client.create_deployment(restApiId=served.api_id)["id"]
    for deployment_id in (served.base, canary):
        with pytest.raises(ClientError) as exc:
            served.client.delete_deployment(restApiId=served.api_id, deploymentId=deployment_id)
        assert error_of(exc) == (
            400,
            "BadRequestException",
            "Active stages pointing to this deployment must be moved or deleted",
        )
    served.client.delete_deployment(restApiId=served.api_id, deploymentId=unused)
    served.update_stage({"op": "remove", "path": "/canarySettings"})
    served.client.delete_deployment(restApiId=served.api_id, deploymentId=canary)
    remaining = served.client.get_deployments(restApiId=served.api_id)["items"]
    assert [d["id"] for d in remaining] == [served.base]


def test_served_lists_of_a_missing_stage_are_empty(served: Served) -> None:
    assert served.lists("missing") == []
    assert (
        served_provider_arn_lists(ACCOUNT, REGION, "nope000000", "prod", served.authorizer_id) == []
    )


# -- GetExport ----------------------------------------------------------------------------------


def test_export_lists_the_pools_the_stage_serves_not_the_current_ones(served: Served) -> None:
    first, second, _ = served.pools
    served.add_pool(second)  # not deployed yet
    scheme = served.export(extensions="authorizers")["components"]["securitySchemes"]["tenants"]
    assert scheme == {
        "type": "apiKey",
        "name": "Authorization",
        "in": "header",
        "x-amazon-apigateway-authtype": "cognito_user_pools",
        "x-amazon-apigateway-authorizer": {"type": "cognito_user_pools", "providerARNs": [first]},
    }
    served.client.create_deployment(restApiId=served.api_id, stageName="prod")
    scheme = served.export(extensions="authorizers")["components"]["securitySchemes"]["tenants"]
    assert scheme["x-amazon-apigateway-authorizer"]["providerARNs"] == [first, second]


def test_export_is_of_the_base_deployment_not_the_canary(served: Served) -> None:
    served.add_pool(served.pools[1])
    served.canary_deployment(percentTraffic=100)
    scheme = served.export(extensions="apigateway")["components"]["securitySchemes"]["tenants"]
    assert scheme["x-amazon-apigateway-authorizer"]["providerARNs"] == [served.pools[0]]


def test_oas30_export_document(served: Served) -> None:
    document = served.export(extensions="apigateway")
    assert document["openapi"] == "3.0.1"
    assert document["info"]["title"] == "shared"
    assert document["info"]["description"] == "the shared API"
    assert document["servers"][0]["url"] == (
        f"https://{served.api_id}.execute-api.us-east-1.amazonaws.com/{{basePath}}"
    )
    assert document["servers"][0]["variables"]["basePath"]["default"] == "/prod"
    get = document["paths"]["/orders"]["get"]
    assert get["security"] == [{"tenants": []}]
    assert get["responses"] == {"200": {"description": "200 response", "content": {}}}
    assert get["x-amazon-apigateway-integration"]["type"] == "mock"
    assert get["x-amazon-apigateway-integration"]["responses"] == {"default": {"statusCode": "200"}}


def test_swagger_export_uses_security_definitions(served: Served) -> None:
    document = served.export("swagger", extensions="authorizers")
    assert (document["swagger"], document["basePath"]) == ("2.0", "/prod")
    assert document["host"] == f"{served.api_id}.execute-api.us-east-1.amazonaws.com"
    definition = document["securityDefinitions"]["tenants"]
    assert definition["x-amazon-apigateway-authorizer"]["providerARNs"] == [served.pools[0]]
    assert "x-amazon-apigateway-integration" not in document["paths"]["/orders"]["get"]


@pytest.mark.parametrize(
    "parameters",
    [{}, {"extensions": "integrations"}],
    ids=["no-extensions", "integrations-only"],
)
def test_export_without_authorizer_extensions_has_no_pool_list(
    served: Served, parameters: dict[str, str]
) -> None:
    document = served.export(**parameters)
    scheme = document["components"]["securitySchemes"]["tenants"]
    assert scheme == {"type": "apiKey", "name": "Authorization", "in": "header"}
    assert ("x-amazon-apigateway-integration" in document["paths"]["/orders"]["get"]) is bool(
        parameters
    )


def test_export_answers_json_in_a_streaming_body(served: Served) -> None:
    response = served.client.get_export(
        restApiId=served.api_id,
        stageName="prod",
        exportType="oas30",
        parameters={"extensions": "authorizers,integrations"},
        accepts="application/json",
    )
    assert response["contentType"] == "application/json"
    assert response["contentDisposition"].startswith("attachment; filename=")
    assert json.loads(response["body"].read())["openapi"] == "3.0.1"


@pytest.mark.parametrize(
    ("api_id", "stage", "export_type", "expected"),
    [
        (
            "nope000000",
            "prod",
            "oas30",
            (404, "NotFoundException", "Invalid Rest API Id specified"),
        ),
        (
            None,
            "missing",
            "oas30",
            (404, "NotFoundException", "Invalid stage identifier specified"),
        ),
        (
            None,
            "prod",
            "graphql",
            (400, "BadRequestException", "No API exporter for type 'graphql'"),
        ),
    ],
)
def test_export_of_a_missing_api_or_stage_or_unknown_type_is_refused(
    served: Served,
    api_id: str | None,
    stage: str,
    export_type: str,
    expected: tuple[int, str, str],
) -> None:
    with pytest.raises(ClientError) as exc:
        served.client.get_export(
            restApiId=api_id or served.api_id, stageName=stage, exportType=export_type
        )
    assert error_of(exc) == expected


@pytest.mark.parametrize(
    ("parameters", "accepts", "message"),
    [
        ({"extensions": "postman"}, "application/json", "postman is not modelled"),
        ({"extensions": "everything"}, "application/json", "Unknown export extension"),
        ({"extension": "authorizers"}, "application/json", "not modelled: extension"),
        ({"extensions": "authorizers"}, "application/yaml", "application/yaml is not modelled"),
    ],
)
def test_export_refuses_what_is_not_modelled(
    served: Served, parameters: dict[str, str], accepts: str, message: str
) -> None:
    with pytest.raises(ClientError) as exc:
        served.client.get_export(
            restApiId=served.api_id,
            stageName="prod",
            exportType="oas30",
            parameters=parameters,
            accepts=accepts,
        )
    status, code, text = error_of(exc)
    assert (status, code) == (400, "BadRequestException")
    assert message in text


def test_export_names_only_authorizers_the_deployment_uses(served: Served, api: Api) -> None:
    # The ``api`` fixture's only method is not behind its authorizer.
    api.client.create_deployment(restApiId=api.api_id, stageName="prod")
    response = api.client.get_export(
        restApiId=api.api_id,
        stageName="prod",
        exportType="oas30",
        parameters={"extensions": "authorizers"},
    )
    document = json.loads(response["body"].read())
    assert "components" not in document
    assert document["paths"]["/"]["get"] == {"responses": {}}
