"""boto3 clients, made on first use and kept for the container's life.

Made lazily so that importing the handler stays cheap (cold starts), and configured so that
botocore does not retry by itself: ``retries.call`` owns retrying, because botocore does not
retry API Gateway's 409 and ignores its ``Retry-After``. Endpoints come from boto3's standard
configuration, so ``AWS_ENDPOINT_URL`` points everything at a local AWS.
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING

import boto3
from botocore.config import Config

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
