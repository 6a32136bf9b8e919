"""localaws.apigateway_ext: the documented API Gateway behaviour moto lacks, through boto3."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError
from moto.apigateway.models import Authorizer, RestAPI

from localaws import apigateway_ext
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
    records = apigateway_ext.FLUSH_JOURNAL.records(api_id=api.api_id)
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
    assert apigateway_ext.FLUSH_JOURNAL.records(api_id=api.api_id) == []


# -- installation -----------------------------------------------------------------------------


def test_install_is_idempotent(world: World) -> None:
    apigateway_ext.install()
    patched = Authorizer.apply_operations
    apigateway_ext.install()
    assert apigateway_ext.is_installed()
    assert Authorizer.apply_operations is patched
    assert RestAPI.create_deployment.__module__ == "localaws.apigateway_ext"
