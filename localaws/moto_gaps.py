"""Every documented AWS behaviour moto lacks and this package reproduces, in one place.

Each ``Gap`` says what AWS does (and where AWS documents it), what moto does instead, and how
this package makes up for it (``answered_by``): by replacing moto's methods (``replaces``,
installed by ``install()``) or by answering the call in moto's place (a module the
control-plane middleware, the data plane or a test calls). When moto gains a behaviour, its gap
goes from here, with the module that reproduces it.

The table was checked against ``MOTO_CHECKED``. ``localaws/tests/test_moto_gaps.py`` fails
when the installed moto is another version (re-check each gap against it: the module named
has its tests), and when starting a ``LocalAws`` replaces any function, method or property of
any loaded moto module that this table does not list, or leaves one it lists in place.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

from localaws.apigateway import patches as apigateway_patches
from localaws.cloudformation import patches as cloudformation_patches
from localaws.dynamodb import model as dynamodb_model

MOTO_CHECKED = "5.2.5"


@dataclass(frozen=True)
class Gap:
    aws: str  # what AWS does
    source: str  # where AWS documents it
    moto: str  # what moto does instead
    answered_by: tuple[str, ...]  # the modules of this package that reproduce it
    replaces: tuple[str, ...] = ()  # moto's methods that module's install() replaces


_APIGW_MODELS = "moto.apigateway.models"
_APIGW_RESPONSES = "moto.apigateway.responses.APIGatewayResponse"

GAPS: tuple[Gap, ...] = (
    Gap(
        aws="UpdateAuthorizer patches /providerARNs one ARN per add/remove operation, and "
        "CreateAuthorizer and UpdateAuthorizer refuse an ARN that is not a Cognito user pool",
        source="API Gateway API reference, UpdateAuthorizer and PatchOperation",
        moto="raises 'not implemented' for the /providerARNs path; validates no ARN",
        answered_by=("localaws.apigateway.authorizers",),
        replaces=(
            f"{_APIGW_MODELS}.Authorizer.apply_operations",
            f"{_APIGW_MODELS}.APIGatewayBackend.update_authorizer",
            f"{_APIGW_MODELS}.APIGatewayBackend.create_authorizer",
        ),
    ),
    Gap(
        aws="CreateDeployment with a stageName keeps the stage and points it at a new "
        "deployment, a snapshot of the API that the stage serves; DeleteDeployment refuses a "
        "deployment any stage serves",
        source="API Gateway API reference, CreateDeployment and DeleteDeployment; developer "
        "guide, 'Deploy a REST API'",
        moto="replaces the Stage object (losing its settings), serves the API's current state, "
        "checks only the stage a deployment was first made for",
        answered_by=("localaws.apigateway.deployments",),
        replaces=(
            f"{_APIGW_MODELS}.APIGatewayBackend.create_deployment",
            f"{_APIGW_MODELS}.RestAPI.create_deployment",
            f"{_APIGW_MODELS}.RestAPI.delete_deployment",
            f"{_APIGW_RESPONSES}.create_deployment",
        ),
    ),
    Gap(
        aws="Canary releases: CreateDeployment with canarySettings, a stage's canary, "
        "UpdateStage of the canary, its promotion and its end",
        source="API Gateway developer guide, 'Create a canary release deployment'; API "
        "reference, CreateDeployment canarySettings and UpdateStage",
        moto="drops canarySettings",
        answered_by=("localaws.apigateway.canary", "localaws.apigateway.stage_updates"),
        replaces=(
            f"{_APIGW_MODELS}.APIGatewayBackend.update_stage",
            f"{_APIGW_MODELS}.Stage.to_json",
            f"{_APIGW_RESPONSES}.create_stage",
        ),
    ),
    Gap(
        aws="FlushStageAuthorizersCache empties a stage's authorizer cache (202)",
        source="API Gateway API reference, FlushStageAuthorizersCache",
        moto="does not route the call",
        answered_by=("localaws.apigateway.flush",),
    ),
    Gap(
        aws="GetExport of a stage is the OpenAPI document of the deployment the stage serves, "
        "with its authorizers' providerARNs",
        source="API Gateway API reference, GetExport; developer guide, 'Export a REST API from "
        "API Gateway'",
        moto="ignores the stage and the type, reads the API's current state, knows no authorizer",
        answered_by=("localaws.apigateway.export",),
    ),
    Gap(
        aws="API Gateway's control plane throttles per account (10 requests a second, burst "
        "40; CreateDeployment once per 5 s) and answers 409 to overlapping changes of one API",
        source="API Gateway developer guide, 'Amazon API Gateway quotas'; API reference, "
        "ConflictException",
        moto="answers every call at once, in any number",
        answered_by=("localaws.middleware.control_plane",),
    ),
    Gap(
        aws="A stage serves its deployment's COGNITO_USER_POOLS authorizer to callers, caching "
        "each token's result for the authorizer's TTL until a flush",
        source="API Gateway developer guide, 'Control access to REST APIs using Amazon Cognito "
        "user pools as an authorizer'",
        moto="has no data plane",
        answered_by=("localaws.dataplane.gateway",),
    ),
    Gap(
        aws="Lambda's asynchronous Invoke answers 202 at once and delivers the event later, at "
        "least once, retrying a failed delivery twice",
        source="Lambda developer guide, 'Invoking a Lambda function asynchronously'",
        moto="runs functions only in Docker",
        answered_by=("localaws.awslambda.async_invoke",),
    ),
    Gap(
        aws="CloudFormation runs custom resources: sends each request to the ServiceToken, "
        "reads the answer from the pre-signed ResponseURL, and records the stack and resource "
        "phase by phase for DescribeStacks and DescribeStackResource",
        source="CloudFormation user guide, 'Custom resources'; API reference, "
        "DescribeStackResource",
        moto="runs custom resources only through Docker-backed Lambda, and only Create",
        answered_by=("localaws.cloudformation.stacks",),
    ),
    Gap(
        aws="DescribeStacks returns each ParameterValue as the string given (a "
        "CommaDelimitedList reads 'dev,prod') and masks NoEcho parameters by key",
        source="CloudFormation API reference, Parameter; user guide, NoEcho",
        moto="renders a list parameter as a Python list and masks by value",
        answered_by=("localaws.cloudformation.patches",),
        replaces=("moto.cloudformation.models.Stack.parameter_list",),
    ),
    Gap(
        aws="EventBridge matches CloudTrail's records of API calls, and CloudFormation's stack "
        "events, against a rule's pattern and invokes its Lambda target asynchronously",
        source="EventBridge user guide, 'Amazon EventBridge event patterns'; CloudTrail user "
        "guide, 'Creating rules for AWS API calls via CloudTrail'",
        moto="has no CloudTrail source and runs no Lambda target without Docker",
        answered_by=("localaws.eventbridge.rules",),
    ),
    Gap(
        aws="A transaction costs per item written, nothing per table",
        source="DynamoDB developer guide, 'Amazon DynamoDB Transactions: capacity management'",
        moto="deep-copies the whole table once per item of the transaction",
        answered_by=("localaws.dynamodb.model",),
        replaces=("moto.dynamodb.models.DynamoDBBackend.transact_write_items",),
    ),
    Gap(
        aws="DynamoDB's TTL process deletes items whose TTL attribute is in the past",
        source="DynamoDB developer guide, 'Time to Live (TTL)'",
        moto="stores the TTL specification and never deletes anything",
        answered_by=("localaws.dynamodb.model",),
    ),
)

_INSTALL_LOCK = threading.Lock()


def install() -> None:
    """Replace every moto method ``GAPS`` lists, in this process. Calling it again changes
    nothing."""
    with _INSTALL_LOCK:
        apigateway_patches.install()
        dynamodb_model.install()
        cloudformation_patches.install()


def replaced() -> frozenset[str]:
    """The moto methods ``GAPS`` says ``install()`` replaces."""
    return frozenset(target for gap in GAPS for target in gap.replaces)
