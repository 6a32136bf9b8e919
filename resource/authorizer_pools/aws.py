"""boto3 clients, made on first use and kept for the container's life.

Made lazily so that importing the handler stays cheap (cold starts), and configured so that
botocore does not retry by itself: ``retries.call`` owns retrying, because botocore does not
retry API Gateway's 409 and ignores its ``Retry-After``. Endpoints come from boto3's standard
configuration, so ``AWS_ENDPOINT_URL`` points everything at a local AWS.
"""

from __future__ import annotations

import functools
import io
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import boto3
from botocore.awsrequest import AWSResponse, HTTPHeaders
from botocore.client import BaseClient
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError
from urllib3.response import HTTPResponse

if TYPE_CHECKING:
    from mypy_boto3_apigateway import APIGatewayClient
    from mypy_boto3_cloudformation import CloudFormationClient
    from mypy_boto3_cognito_idp import CognitoIdentityProviderClient
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_lambda import LambdaClient

# Connect and read timeouts together stay under the worker's lease margin (15 s,
# ``tenure.LEASE_MARGIN_SECONDS``): no call a worker makes can outlive its lease.
CONNECT_SECONDS = 3
READ_SECONDS = 10
# In every call's User-Agent: how CloudTrail's records (and the repair rule) tell the
# function's own calls from anyone else's.
USER_AGENT_EXTRA = "cognito-authorizer-pools"
CONFIG = Config(
    retries={"total_max_attempts": 1, "mode": "standard"},
    connect_timeout=CONNECT_SECONDS,
    read_timeout=READ_SECONDS,
    user_agent_extra=USER_AGENT_EXTRA,
)
# The longest one attempt of any call can take: a call started before a deadline less this
# ends before the deadline.
LONGEST_CALL_SECONDS = float(CONNECT_SECONDS + READ_SECONDS)


@functools.cache
def apigateway() -> APIGatewayClient:
    return boto3.client("apigateway", config=CONFIG)


@functools.cache
def cloudformation() -> CloudFormationClient:
    return boto3.client("cloudformation", config=CONFIG)


@functools.cache
def cognito(region: str) -> CognitoIdentityProviderClient:
    # A pool may live in another region than the function; ask that region.
    return boto3.client("cognito-idp", region_name=region, config=CONFIG)


@functools.cache
def dynamodb() -> DynamoDBClient:
    return boto3.client("dynamodb", config=CONFIG)


@functools.cache
def lambda_() -> LambdaClient:
    return boto3.client("lambda", config=CONFIG)


# Every call the function makes, with the fewest arguments botocore accepts. ``prime`` makes each
# once, answered in-process: what botocore builds on an operation's first use (the service's and
# the operation's models, serializer, parser, endpoint rules, event handlers) is then built by an
# init that environments share (a fork server, or a SnapStart snapshot: AWS Lambda developer
# guide, "Maximize Lambda SnapStart performance", priming), not by each environment's first
# request. tests/test_aws_priming.py fails when the package makes a call missing here.
PRIMED_CALLS: tuple[tuple[str, str, dict[str, Any]], ...] = (
    ("apigateway", "get_rest_api", {"restApiId": "r"}),
    ("apigateway", "get_authorizer", {"restApiId": "r", "authorizerId": "a"}),
    ("apigateway", "update_authorizer", {"restApiId": "r", "authorizerId": "a"}),
    ("apigateway", "get_stages", {"restApiId": "r"}),
    ("apigateway", "get_export", {"restApiId": "r", "stageName": "s", "exportType": "oas30"}),
    ("apigateway", "create_deployment", {"restApiId": "r"}),
    ("apigateway", "update_stage", {"restApiId": "r", "stageName": "s"}),
    ("apigateway", "flush_stage_authorizers_cache", {"restApiId": "r", "stageName": "s"}),
    ("dynamodb", "get_item", {"TableName": "t", "Key": {}}),
    ("dynamodb", "update_item", {"TableName": "t", "Key": {}}),
    ("dynamodb", "query", {"TableName": "t"}),
    (
        "dynamodb",
        "transact_write_items",
        {
            "TransactItems": [
                {"ConditionCheck": {"TableName": "t", "Key": {}, "ConditionExpression": "c"}}
            ]
        },
    ),
    ("cloudformation", "describe_stacks", {"StackName": "s"}),
    ("cloudformation", "describe_stack_resource", {"StackName": "s", "LogicalResourceId": "l"}),
    ("cloudformation", "list_stack_resources", {"StackName": "s"}),
    ("cognito", "describe_user_pool", {"UserPoolId": "p"}),
    ("lambda_", "invoke", {"FunctionName": "f"}),
)


def prime() -> list[str]:
    """Make each of ``PRIMED_CALLS`` once, its clients included, without the network: each is
    answered in-process with an empty success. Returns the operations botocore would not prime
    (a runtime's other botocore may parse differently); priming is an optimisation, never a
    reason for an init to fail. Cognito's client is the function's region's."""
    region = boto3.session.Session().region_name or ""
    clients: dict[str, Callable[[], BaseClient]] = {
        "apigateway": apigateway,
        "dynamodb": dynamodb,
        "cloudformation": cloudformation,
        "cognito": functools.partial(cognito, region),
        "lambda_": lambda_,
    }
    unprimed = []
    for client_name, operation, arguments in PRIMED_CALLS:
        client = clients[client_name]()
        answer = functools.partial(_empty_success, _empty_body(client, operation))
        # A before-send handler's response is used instead of sending (botocore's event
        # reference); the type stubs declare handlers as returning None.
        client.meta.events.register_first("before-send", answer, unique_id=_PRIMING)  # type: ignore[arg-type]
        try:
            getattr(client, operation)(**arguments)
        except (BotoCoreError, ClientError):
            unprimed.append(operation)
        finally:
            client.meta.events.unregister("before-send", unique_id=_PRIMING)
    return unprimed


_PRIMING = "authorizer-pools-priming"


def _empty_body(client: BaseClient, operation: str) -> bytes:
    if client.meta.service_model.protocol == "query":
        # The Query protocol's answer: <OperationResponse><OperationResult/>…
        name = client.meta.method_to_api_mapping[operation]
        return f"<{name}Response><{name}Result/></{name}Response>".encode()
    return b"{}"


def _empty_success(body: bytes, **_: object) -> AWSResponse:
    raw = HTTPResponse(body=io.BytesIO(body), status=200, preload_content=False)
    return AWSResponse("https://priming.invalid/", 200, HTTPHeaders(), raw)
