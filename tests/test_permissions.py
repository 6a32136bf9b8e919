"""Least privilege, checked against what the function really does: every call it made during a
whole lifecycle must be allowed by template.yaml's role, deployed for this shared API."""

from __future__ import annotations

import json
from urllib.parse import unquote

from conftest import ACCOUNT, REGION, REGISTRATION, World
from template_model import Deployment, load_template

from localaws.control_plane import CallRecord

POOL_KEY = "apigateway:Request/CognitoUserPoolProviderArn"


def iam_request(call: CallRecord) -> tuple[str, str, dict[str, str]]:
    """(action, resource, condition keys) IAM evaluates for this call."""
    if call.service == "apigateway":
        resource = f"arn:aws:apigateway:{call.region}::{unquote(call.path)}"
        context: dict[str, str] = {}
        if call.operation == "UpdateAuthorizer":
            operations = json.loads(call.body)["patchOperations"]
            (operation,) = [op for op in operations if op["path"] == "/providerARNs"]
            context[POOL_KEY] = operation["value"]
        return f"apigateway:{call.method}", resource, context
    if call.service == "cognito-idp":
        pool_id = json.loads(call.body)["UserPoolId"]
        region = pool_id.split("_")[0]
        resource = f"arn:aws:cognito-idp:{region}:{call.account_id}:userpool/{pool_id}"
        return f"cognito-idp:{call.operation}", resource, {}
    raise AssertionError(f"unexpected call to {call.service}: {call.operation}")


def test_every_call_of_a_whole_lifecycle_is_allowed_by_the_role(world: World) -> None:
    role = Deployment(
        load_template(),
        {
            "RestApiId": world.api.rest_api_id,
            "AuthorizerId": world.api.authorizer_id,
            "StageNames": list(world.api.stage_names),
        },
        account=ACCOUNT,
        region=REGION,
    )
    first, second = world.tenant_pool("acme-v1"), world.tenant_pool("acme-v2")
    world.create_tenant("tenant-acme", first, StageNames=["dev"])
    world.cloudformation.update_stack("tenant-acme", {REGISTRATION: world.registration(first)})
    world.cloudformation.update_stack("tenant-acme", {REGISTRATION: world.registration(second)})
    stack = world.cloudformation.delete_stack("tenant-acme")
    assert stack.status == "DELETE_COMPLETE"

    calls = world.calls()
    assert {call.operation for call in calls} >= {
        "DescribeUserPool",
        "GetAuthorizer",
        "GetStages",
        "UpdateAuthorizer",
        "CreateDeployment",
        "FlushStageAuthorizersCache",
    }
    denied = [
        (call.operation, *iam_request(call)[:2])
        for call in calls
        if not role.allows(*iam_request(call))
    ]
    assert denied == []
