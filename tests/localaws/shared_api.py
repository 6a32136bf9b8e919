"""The shared API of ``examples/shared-api.yaml``, made through boto3 on the local AWS.

moto cannot create API Gateway resources from a template for us, so this makes the same
resources the template declares, call by call; keep the two in step. A REST API with one method
behind a COGNITO_USER_POOLS authorizer, the operators' permanent pool on that authorizer (API
Gateway refuses an empty pool list, and the operators keep access), and one stage per name.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import boto3

if TYPE_CHECKING:
    from mypy_boto3_apigateway import APIGatewayClient
    from mypy_boto3_cognito_idp import CognitoIdentityProviderClient


@dataclass(frozen=True)
class SharedApi:
    rest_api_id: str
    authorizer_id: str
    operators_pool_arn: str
    stage_names: tuple[str, ...]


def apigateway() -> APIGatewayClient:
    return boto3.client("apigateway")


def cognito() -> CognitoIdentityProviderClient:
    return boto3.client("cognito-idp")


def create_user_pool(name: str) -> str:
    """A user pool (as a tenant stack's AWS::Cognito::UserPool); returns its ARN."""
    return cognito().create_user_pool(PoolName=name)["UserPool"]["Arn"]


def create_shared_api(
    name: str = "shared-api", stage_names: Sequence[str] = ("dev", "prod")
) -> SharedApi:
    client = apigateway()
    operators_pool_arn = create_user_pool(f"{name}-operators")
    api_id = client.create_rest_api(name=name)["id"]
    resources = client.get_resources(restApiId=api_id)["items"]
    root_id = next(item["id"] for item in resources if item["path"] == "/")
    authorizer_id = client.create_authorizer(
        restApiId=api_id,
        name="tenants",
        type="COGNITO_USER_POOLS",
        providerARNs=[operators_pool_arn],
        identitySource="method.request.header.Authorization",
        authorizerResultTtlInSeconds=300,
    )["id"]
    resource_id = client.create_resource(restApiId=api_id, parentId=root_id, pathPart="orders")[
        "id"
    ]
    client.put_method(
        restApiId=api_id,
        resourceId=resource_id,
        httpMethod="GET",
        authorizationType="COGNITO_USER_POOLS",
        authorizerId=authorizer_id,
    )
    client.put_integration(
        restApiId=api_id,
        resourceId=resource_id,
        httpMethod="GET",
        type="MOCK",
        requestTemplates={"application/json": '{"statusCode": 200}'},
    )
    for stage_name in stage_names:
        client.create_deployment(
            restApiId=api_id, stageName=stage_name, description="shared API stack"
        )
    return SharedApi(api_id, authorizer_id, operators_pool_arn, tuple(stage_names))


def provider_arns(api: SharedApi) -> list[str]:
    found = apigateway().get_authorizer(restApiId=api.rest_api_id, authorizerId=api.authorizer_id)
    return list(found.get("providerARNs", []))
