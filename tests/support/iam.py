"""The IAM requests behind the calls the local AWS recorded, and which of them a policy refuses:
how tests check template.yaml's policies against what the function and the CLI really did."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qs, unquote

import boto3
from template_model import policy_allows

from demo.world import ACCOUNT, REGION
from localaws.middleware.journal import CallRecord

POOL_KEY = "apigateway:Request/CognitoUserPoolProviderArn"
AUTHORIZER_TYPE = "apigateway:Resource/AuthorizerType"
STAGE_NAME = "apigateway:Request/StageName"
LEADING_KEYS = "dynamodb:LeadingKeys"
FUNCTION_PREFIX = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:"


Request = tuple[str, str, dict[str, str | list[str]]]
# TransactWriteItems is authorized per item, as the underlying single-item action (DynamoDB
# developer guide, "Using IAM with DynamoDB transactions").
# (TransactGetItems likewise, as GetItem.)
TRANSACTION_ACTIONS = {
    "Put": "PutItem",
    "Update": "UpdateItem",
    "Delete": "DeleteItem",
    "ConditionCheck": "ConditionCheckItem",
}


def iam_requests(call: CallRecord, *, removes_carry_the_key: bool = True) -> list[Request]:
    """The (action, resource, condition keys) IAM evaluates for this call."""
    if call.service == "apigateway":
        resource = f"arn:aws:apigateway:{call.region}::{unquote(call.path)}"
        context: dict[str, str | list[str]] = {}
        if call.operation == "UpdateAuthorizer":
            operations = json.loads(call.body)["patchOperations"]
            # AWS documents the key for the pools a request sets; whether a `remove` carries
            # its ARN too is not documented, so the role must do with either.
            keyed = [
                op["value"]
                for op in operations
                if op["path"] == "/providerARNs" and (removes_carry_the_key or op["op"] != "remove")
            ]
            if keyed:
                context[POOL_KEY] = keyed
            found = boto3.client("apigateway").get_authorizer(
                restApiId=call.path.split("/")[2], authorizerId=call.path.split("/")[4]
            )
            context[AUTHORIZER_TYPE] = found["type"]
        if call.operation == "CreateDeployment":
            context[STAGE_NAME] = json.loads(call.body)["stageName"]
        return [(f"apigateway:{call.method}", resource, context)]
    if call.service == "cognito-idp":
        pool_id = json.loads(call.body)["UserPoolId"]
        region = pool_id.split("_")[0]
        resource = f"arn:aws:cognito-idp:{region}:{call.account_id}:userpool/{pool_id}"
        return [(f"cognito-idp:{call.operation}", resource, {})]
    if call.service == "dynamodb":
        body = json.loads(call.body)
        table = f"arn:aws:dynamodb:{call.region}:{call.account_id}:table/"
        if call.operation == "TransactGetItems":
            return [
                (
                    "dynamodb:GetItem",
                    table + item["Get"]["TableName"],
                    {LEADING_KEYS: [item["Get"]["Key"]["pk"]["S"]]},
                )
                for item in body["TransactItems"]
            ]
        if call.operation == "TransactWriteItems":
            requests: list[Request] = []
            for item in body["TransactItems"]:
                ((kind, write),) = item.items()
                key = write.get("Key") or write.get("Item")
                requests.append(
                    (
                        f"dynamodb:{TRANSACTION_ACTIONS[kind]}",
                        table + write["TableName"],
                        {LEADING_KEYS: [key["pk"]["S"]]},
                    )
                )
            return requests
        if call.operation == "Query":
            leading = [body["ExpressionAttributeValues"][":pk"]["S"]]
        else:
            leading = [body["Key"]["pk"]["S"]]
        return [(f"dynamodb:{call.operation}", table + body["TableName"], {LEADING_KEYS: leading})]
    if call.service == "cloudformation":
        form = parse_qs(call.body.decode())
        # Named by its stack id, the stack's ARN is the resource (CloudFormation's Service
        # Authorization Reference: DescribeStackResource and DescribeStacks take "stack").
        return [(f"cloudformation:{call.operation}", form["StackName"][0], {})]
    if call.service == "lambda" and call.operation == "Invoke":
        # /2015-03-31/functions/<name or ARN>/invocations
        named = unquote(call.path.split("/")[3])
        function = named if named.startswith("arn:") else f"{FUNCTION_PREFIX}{named}"
        return [("lambda:InvokeFunction", function, {})]
    raise AssertionError(f"unexpected call to {call.service}: {call.operation}")


def denied(calls: list[CallRecord], statements: list[dict[str, Any]]) -> list[Request]:
    """What IAM would refuse of these calls under these statements, whether or not a `remove`
    carries the pool key."""
    return [
        (action, resource, context)
        for call in calls
        for carried in (True, False)
        for action, resource, context in iam_requests(call, removes_carry_the_key=carried)
        if not policy_allows(statements, action, resource, context)
    ]
