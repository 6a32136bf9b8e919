"""examples/: the demo builds the shared API by hand (moto cannot deploy the template), so check
that what it builds is what examples/shared-api.yaml declares, and that tenant.yaml declares the
registration the README shows."""

from __future__ import annotations

import json
from typing import Any

from conftest import World
from template_model import ROOT, load_template

from demo.shared_api import MOCK_BODY
from localaws.dataplane.users import call


def resources_of(name: str, kind: str) -> list[dict[str, Any]]:
    template = load_template(ROOT / "examples" / name)
    return [r["Properties"] for r in template["Resources"].values() if r["Type"] == kind]


def test_the_demos_shared_api_is_the_one_the_template_declares(world: World) -> None:
    client = world.apigateway()
    api = world.api
    (authorizer,) = resources_of("shared-api.yaml", "AWS::ApiGateway::Authorizer")
    made = client.get_authorizer(restApiId=api.rest_api_id, authorizerId=api.authorizer_id)
    assert made["type"] == authorizer["Type"]
    assert made["identitySource"] == authorizer["IdentitySource"]
    assert made["authorizerResultTtlInSeconds"] == authorizer["AuthorizerResultTtlInSeconds"]
    assert len(authorizer["ProviderARNs"]) == 1  # only the operators' pool
    assert made["providerARNs"] == [api.operators_pool_arn]

    stages = {
        stage["StageName"] for stage in resources_of("shared-api.yaml", "AWS::ApiGateway::Stage")
    }
    made_stages = client.get_stages(restApiId=api.rest_api_id)["item"]
    assert {stage["stageName"] for stage in made_stages} == stages
    assert len({stage["deploymentId"] for stage in made_stages}) == 1  # one Deployment

    (resource,) = resources_of("shared-api.yaml", "AWS::ApiGateway::Resource")
    (method,) = resources_of("shared-api.yaml", "AWS::ApiGateway::Method")
    made_resource = next(
        r
        for r in client.get_resources(restApiId=api.rest_api_id)["items"]
        if r.get("pathPart") == resource["PathPart"]
    )
    made_method = client.get_method(
        restApiId=api.rest_api_id, resourceId=made_resource["id"], httpMethod=method["HttpMethod"]
    )
    assert made_method["authorizationType"] == method["AuthorizationType"]
    assert made_method["authorizerId"] == api.authorizer_id
    assert made_method["methodIntegration"]["type"] == method["Integration"]["Type"]


def test_the_tenant_template_declares_one_registration_importing_the_service_token() -> None:
    (registration,) = resources_of("tenant.yaml", "Custom::AuthorizerUserPool")
    assert set(registration) == {"ServiceToken", "UserPoolArn", "ServiceTimeout"}
    # CloudFormation's longest wait: a launch-day registration may poll past Lambda's 900 s.
    assert registration["ServiceTimeout"] == 3600
    assert "Fn::ImportValue" in registration["ServiceToken"]
    assert registration["UserPoolArn"] == {"Fn::GetAtt": ["TenantUserPool", "Arn"]}


def test_a_token_the_authorizer_lets_in_gets_a_body_that_says_what_answered(world: World) -> None:
    """An empty 200 looks like a failure to whoever curls the example API; its MOCK integration
    answers with a body naming itself, as examples/shared-api.yaml declares."""
    (method,) = resources_of("shared-api.yaml", "AWS::ApiGateway::Method")
    (response,) = method["Integration"]["IntegrationResponses"]
    assert response["ResponseTemplates"]["application/json"] == MOCK_BODY
    acme = world.tenant_pool("acme")
    world.create_tenant("tenant-acme", acme)
    token = world.sign_in(acme)

    for stage in world.api.stage_names:
        reply = call(world.aws.invoke_url(world.api.rest_api_id, stage) + "/orders", token)
        assert reply.status == 200
        assert "authorizer let this token in" in json.loads(reply.body)["answeredBy"]
