"""The stacks of ``examples/``, made through boto3 on the local AWS.

moto cannot create API Gateway resources (nor run custom resources) from a template, so these
functions make, call by call, the resources ``examples/shared-api.yaml`` and the non-custom part
of ``examples/tenant.yaml`` declare. Keep them in step with the templates:

- shared-api.yaml: the operators' user pool; a REST API; a COGNITO_USER_POOLS authorizer trusting
  only the operators' pool (API Gateway refuses an empty list); ``/orders`` with a GET method
  behind it and a MOCK integration; one deployment; the stages ``dev`` and ``prod`` on it.
- tenant.yaml: the tenant's user pool and its app client.

And ``create_registry_table`` makes the ownership registry as ``template.yaml`` declares it
(key schema and on-demand billing; moto ignores the rest).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import boto3

# What examples/shared-api.yaml's MOCK integration answers to a token the authorizer let in.
MOCK_BODY = (
    '{"answeredBy": "the shared API example (MOCK integration): the authorizer let this token in"}'
)

if TYPE_CHECKING:
    from mypy_boto3_apigateway import APIGatewayClient
    from mypy_boto3_cognito_idp import CognitoIdentityProviderClient

REGISTRY_TABLE = "shared-authorizer-pools-Registry"


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
    """A user pool; returns its ARN."""
    return cognito().create_user_pool(PoolName=name)["UserPool"]["Arn"]


def create_tenant_pool(tenant: str) -> str:
    """tenant.yaml's TenantUserPool and TenantAppClient; returns the pool's ARN."""
    pool = cognito().create_user_pool(PoolName=f"tenant-{tenant}")["UserPool"]
    cognito().create_user_pool_client(
        UserPoolId=pool["Id"],
        ClientName=f"tenant-{tenant}-web",
        GenerateSecret=False,
        ExplicitAuthFlows=["ALLOW_USER_SRP_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"],
    )
    return pool["Arn"]


def create_shared_api(
    name: str = "shared-api", stage_names: Sequence[str] = ("dev", "prod")
) -> SharedApi:
    """shared-api.yaml's resources (ApiName = ``name``)."""
    client = apigateway()
    operators_pool_arn = create_user_pool(f"{name}-operators")
    api_id = client.create_rest_api(name=name, endpointConfiguration={"types": ["REGIONAL"]})["id"]
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
    method: Any = {"restApiId": api_id, "resourceId": resource_id, "httpMethod": "GET"}
    client.put_method(**method, authorizationType="COGNITO_USER_POOLS", authorizerId=authorizer_id)
    client.put_method_response(**method, statusCode="200")
    client.put_integration(
        **method, type="MOCK", requestTemplates={"application/json": '{"statusCode": 200}'}
    )
    client.put_integration_response(
        **method, statusCode="200", responseTemplates={"application/json": MOCK_BODY}
    )
    deployment_id = client.create_deployment(restApiId=api_id, description="shared API stack")["id"]
    for stage_name in stage_names:
        client.create_stage(restApiId=api_id, stageName=stage_name, deploymentId=deployment_id)
    return SharedApi(api_id, authorizer_id, operators_pool_arn, tuple(stage_names))


def provider_arns(api: SharedApi) -> list[str]:
    found = apigateway().get_authorizer(restApiId=api.rest_api_id, authorizerId=api.authorizer_id)
    return list(found.get("providerARNs", []))


def create_registry_table(name: str = REGISTRY_TABLE) -> str:
    """template.yaml's Registry table; returns its name."""
    client = boto3.client("dynamodb")
    client.create_table(
        TableName=name,
        BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[
            {"AttributeName": "pk", "AttributeType": "S"},
            {"AttributeName": "sk", "AttributeType": "S"},
        ],
        KeySchema=[
            {"AttributeName": "pk", "KeyType": "HASH"},
            {"AttributeName": "sk", "KeyType": "RANGE"},
        ],
        SSESpecification={"Enabled": True},
        DeletionProtectionEnabled=True,
    )
    client.update_continuous_backups(
        TableName=name,
        PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": True},
    )
    client.update_time_to_live(
        TableName=name,
        TimeToLiveSpecification={"AttributeName": "expires_at", "Enabled": True},
    )
    return name
