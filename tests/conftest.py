"""Fixtures: one local AWS and one ResponseURL receiver per session; a fresh shared API per test.

The handler runs unmodified: boto3 reaches the local AWS through AWS_ENDPOINT_URL, and crhelper's
own sender PUTs its answer to the receiver over HTTPS, trusting its CA through SSL_CERT_FILE.
"""

from __future__ import annotations

import contextlib
import json
import os
import ssl
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import boto3
import pytest
from botocore.config import Config
from template_model import ROOT, Deployment, load_template

from authorizer_pools.registry import Owner, Registry
from authorizer_pools.timing import Deadline
from demo.shared_api import (
    REGISTRY_TABLE,
    SharedApi,
    create_registry_table,
    create_shared_api,
    create_user_pool,
    provider_arns,
)
from localaws.apigateway_deployments import served_provider_arns
from localaws.apigateway_flush import FLUSH_JOURNAL
from localaws.cloudformation import InProcessFunction, LocalCloudFormation, Stack
from localaws.journal import CallRecord
from localaws.lambda_runtime import FunctionConfig
from localaws.response_receiver import ResponseReceiver
from localaws.routes import RequestInfo
from localaws.server import LocalAws
from localaws.users import answers, sign_in

if TYPE_CHECKING:
    from mypy_boto3_apigateway import APIGatewayClient

ACCOUNT = "123456789012"
FUNCTION_AGENT = "cognito-authorizer-pools"
OTHERS_RETRY = Config(retries={"max_attempts": 10, "mode": "standard"})
REGION = "us-east-1"
REGISTRATION = "TenantPoolRegistration"
# The in-process handler runs on compressed time: its clock and its Lambda deadline run ten times
# faster than the wall clock (the local AWS answers at its own speed). FUNCTION_TIMEOUT is in
# model seconds: room for retries of transient faults, short enough that a test of giving up in
# time ends quickly.
TIME_SCALE = 0.1
FUNCTION_TIMEOUT = 60.0


@pytest.fixture(scope="session")
def local_aws() -> Iterator[LocalAws]:
    with LocalAws() as aws:
        yield aws


@pytest.fixture(scope="session")
def receiver() -> Iterator[ResponseReceiver]:
    with ResponseReceiver(region=REGION, account_id=ACCOUNT) as started:
        yield started


@pytest.fixture(scope="session")
def aws_environment(
    local_aws: LocalAws, receiver: ResponseReceiver, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, str]]:
    """The standard Lambda environment, pointing at the local AWS, set for this process.

    SSL_CERT_FILE holds the machine's CAs plus the receiver's, so that other HTTPS clients in
    the session (pip in `make build`) keep working."""
    bundle = tmp_path_factory.mktemp("ca") / "bundle.pem"
    system = Path(ssl.get_default_verify_paths().cafile or "/etc/ssl/certs/ca-certificates.crt")
    bundle.write_text(
        (system.read_text() if system.is_file() else "") + Path(receiver.ca_file).read_text()
    )
    environment = {
        **local_aws.env(),
        "SSL_CERT_FILE": str(bundle),
        # CloudFormation's response bucket is served by the receiver (boto3's standard
        # variable for S3's endpoint; only the function's answers use it).
        "AWS_ENDPOINT_URL_S3": receiver.endpoint_url,
        "REGISTRY_TABLE": REGISTRY_TABLE,
    }
    with pytest.MonkeyPatch.context() as patch:
        for name, value in environment.items():
            patch.setenv(name, value)
        for name in (*REGISTRAR_VARIABLES, "ALLOWED_USER_POOL_ARNS"):
            patch.delenv(name, raising=False)
        yield environment


@pytest.fixture(scope="session")
def handler(aws_environment: dict[str, str]) -> Any:
    """The handler module, imported once, after the environment is set (as Lambda's init)."""
    from authorizer_pools import handler as module  # noqa: PLC0415 (after the environment)

    return module.handler


def log_lines(logs: str) -> list[dict[str, Any]]:
    """The function's JSON log lines (crhelper's format), skipping anything else."""
    lines = []
    for text in logs.splitlines():
        try:
            parsed = json.loads(text)
        except ValueError:
            continue
        # Embedded Metric Format lines (``_aws``) are metrics, not log lines.
        if isinstance(parsed, dict) and "_aws" not in parsed:
            lines.append(parsed)
    return lines


@dataclass
class World:
    """A shared API on the local AWS, CloudFormation in front of the function, and ways to look
    at what a user would check."""

    aws: LocalAws
    api: SharedApi
    cloudformation: LocalCloudFormation
    receiver: ResponseReceiver

    def tenant_pool(self, name: str) -> str:
        return create_user_pool(name)

    def shared_pool(self, name: str) -> str:
        """A pool the registrar lets any registration name (SharedUserPoolArns): a pooled
        tier's, or one no tenant stack holds."""
        pool = create_user_pool(name)
        listed = os.environ.get("SHARED_USER_POOL_ARNS", "")
        os.environ["SHARED_USER_POOL_ARNS"] = ",".join(filter(None, (listed, pool)))
        return pool

    def registration(self, pool_arn: str, **overrides: Any) -> dict[str, Any]:
        properties: dict[str, Any] = {
            "UserPoolArn": pool_arn,
            "RestApiId": self.api.rest_api_id,
            "AuthorizerId": self.api.authorizer_id,
            "StageNames": list(self.api.stage_names),
        }
        properties.update(overrides)
        return {key: value for key, value in properties.items() if value is not None}

    def create_tenant(self, name: str, pool_arn: str, **overrides: Any) -> Stack:
        return self.cloudformation.create_stack(
            name, {REGISTRATION: self.registration(pool_arn, **overrides)}
        )

    def provider_arns(self) -> list[str]:
        return provider_arns(self.api)

    def served(self, stage_name: str) -> tuple[str, ...] | None:
        """The pools the stage's current deployment trusts (what callers really get)."""
        return served_provider_arns(
            ACCOUNT, REGION, self.api.rest_api_id, stage_name, self.api.authorizer_id
        )

    def live_everywhere(self, pool_arn: str) -> bool:
        return all(pool_arn in (self.served(stage) or ()) for stage in self.api.stage_names)

    def gone_everywhere(self, pool_arn: str) -> bool:
        return all(pool_arn not in (self.served(stage) or ()) for stage in self.api.stage_names)

    def sign_in(self, pool_arn: str, username: str = "user") -> str:
        """A fresh ID token of a user of the pool, as the tenant's web client holds it."""
        return sign_in(pool_arn, username)

    def answers(self, token: str, path: str = "/orders") -> dict[str, int]:
        """What each stage answers a GET with this token: what the tenant's user sees."""
        urls = {
            stage: self.aws.invoke_url(self.api.rest_api_id, stage)
            for stage in self.api.stage_names
        }
        return answers(urls, token, path)

    @contextlib.contextmanager
    def bystander(self, token: str) -> Iterator[list[dict[str, int]]]:
        """The user calls every stage just before each API Gateway call the function makes,
        as real traffic would land between them; the stages cache those answers too. Yields
        the answers seen meanwhile."""
        seen: list[dict[str, int]] = []
        active = True

        def call_between(info: RequestInfo) -> None:
            agent = info.headers.get("User-Agent", info.headers.get("user-agent", ""))
            if active and info.service == "apigateway" and FUNCTION_AGENT in agent:
                seen.append(self.answers(token))

        self.aws.control_plane.observe(call_between)
        try:
            yield seen
        finally:
            active = False

    def everywhere(self, status: int) -> dict[str, int]:
        return dict.fromkeys(self.api.stage_names, status)

    def apigateway(self) -> APIGatewayClient:
        """A client for the test's own changes (someone else's drift): it retries API Gateway's
        throttling as CloudFormation or the console would, so that a CreateDeployment right after
        the function's (one per 5 s per account) does not fail the test."""
        return boto3.client("apigateway", config=OTHERS_RETRY)

    def deployments(self) -> list[dict[str, Any]]:
        found = self.apigateway().get_deployments(restApiId=self.api.rest_api_id)
        return [dict(item) for item in found["items"]]

    def flushes(self, stage_name: str | None = None) -> int:
        return len(FLUSH_JOURNAL.records(api_id=self.api.rest_api_id, stage_name=stage_name))

    def calls(self) -> list[CallRecord]:
        """The calls the function made (its user agent says so), not the test's own."""
        return [
            call for call in self.aws.control_plane.journal() if FUNCTION_AGENT in call.user_agent
        ]

    def owners(self) -> dict[str, list[str]]:
        """The registry's owners, per pool ARN: "stack/logical id"."""
        registry = Registry(
            REGISTRY_TABLE, self.api.rest_api_id, self.api.authorizer_id, Deadline(1e18)
        )
        return {
            arn: sorted(str(record.owner) for record in records)
            for arn, records in registry.state().owners.items()
        }

    def record_owner(self, pool_arn: str, stack_name: str) -> None:
        """Record an owner as a request does before its worker runs (another container's
        request, caught between its owner change and its pass)."""
        registry = Registry(
            REGISTRY_TABLE, self.api.rest_api_id, self.api.authorizer_id, Deadline(1e18)
        )
        stack_id = f"arn:aws:cloudformation:{REGION}:{ACCOUNT}:stack/{stack_name}/{uuid.uuid4()}"
        registry.owners.add(pool_arn, Owner(stack_id, REGISTRATION), str(uuid.uuid4()))

    def remove_behind_the_registrys_back(self, *pools: str) -> None:
        """What the console, a script, or the shared API's own stack update does."""
        for pool in pools:
            self.apigateway().update_authorizer(
                restApiId=self.api.rest_api_id,
                authorizerId=self.api.authorizer_id,
                patchOperations=[{"op": "remove", "path": "/providerARNs", "value": pool}],
            )

    def add_behind_the_registrys_back(self, *pools: str) -> None:
        """What the console or a script does."""
        for pool in pools:
            self.apigateway().update_authorizer(
                restApiId=self.api.rest_api_id,
                authorizerId=self.api.authorizer_id,
                patchOperations=[{"op": "add", "path": "/providerARNs", "value": pool}],
            )

    def redeploy_every_stage(self) -> None:
        """The shared API's own stack or pipeline deploys every stage (it flushes nothing)."""
        for stage in self.api.stage_names:
            self.apigateway().create_deployment(restApiId=self.api.rest_api_id, stageName=stage)

    def deployed(self, **parameters: str | list[str]) -> Deployment:
        """template.yaml as deployed for this world's shared API, its operators' pool protected
        as the README deploys it (other parameters given)."""
        return Deployment(
            load_template(),
            {
                "RestApiId": self.api.rest_api_id,
                "AuthorizerId": self.api.authorizer_id,
                "StageNames": list(self.api.stage_names),
                "ProtectedUserPoolArns": [self.api.operators_pool_arn],
                **parameters,
            },
            account=ACCOUNT,
            region=REGION,
        )

    def cli_target(self) -> list[str]:
        """The operator CLI's options naming this world's authorizer, registry and stages."""
        return [
            "--rest-api-id",
            self.api.rest_api_id,
            "--authorizer-id",
            self.api.authorizer_id,
            "--table",
            REGISTRY_TABLE,
            "--stage-names",
            ",".join(self.api.stage_names),
        ]

    def snapshot(self) -> tuple[list[str], int, int]:
        """What a change would alter: the pool list, the deployment count, the flush count."""
        return self.provider_arns(), len(self.deployments()), self.flushes()


def fresh_world(local_aws: LocalAws, receiver: ResponseReceiver, handler: Any) -> World:
    """A clean local AWS with a new shared API and registry, and CloudFormation in front of
    the handler running in this process on compressed time."""
    local_aws.reset()
    receiver.clear()
    api = create_shared_api()
    create_registry_table()
    # The registrar is deployed for this shared API (template.yaml's parameters).
    os.environ.update(registrar_environment(api))
    local_aws.control_plane.reset()  # count only what the function does
    function = InProcessFunction(
        handler,
        timeout=FUNCTION_TIMEOUT,
        region=REGION,
        time_scale=TIME_SCALE,
        clock_module="authorizer_pools.timing",
    )
    # The function's continuations of itself (lambda:InvokeFunction) reach it.
    local_aws.control_plane.lambda_async.attach(function, time_scale=TIME_SCALE)
    cloudformation = LocalCloudFormation(
        function,
        receiver,
        service_timeout=FUNCTION_TIMEOUT * TIME_SCALE + 30,
        lambda_async=local_aws.control_plane.lambda_async,
    )
    return World(local_aws, api, cloudformation, receiver)


REGISTRAR_VARIABLES = (
    "REST_API_ID",
    "AUTHORIZER_ID",
    "STAGE_NAMES",
    "PROTECTED_USER_POOL_ARNS",
    "SHARED_USER_POOL_ARNS",
)


def registrar_environment(api: SharedApi) -> dict[str, str]:
    """What template.yaml passes the function about the shared API it serves."""
    return {
        "REST_API_ID": api.rest_api_id,
        "AUTHORIZER_ID": api.authorizer_id,
        "STAGE_NAMES": ",".join(api.stage_names),
        # As the README deploys it: the shared API's operators' pool is protected.
        "PROTECTED_USER_POOL_ARNS": api.operators_pool_arn,
    }


def create_registrar_stand_in(
    name: str, parameters: Mapping[str, str], outputs: Mapping[str, str]
) -> str:
    """A stack that DescribeStacks shows as a registrar deployed from template.yaml: these
    parameters, typed as template.yaml types them, and these outputs (the local AWS cannot
    deploy template.yaml itself: no SAM transform, no Lambda). Returns its StackId."""
    types = load_template()["Parameters"]
    stand_in = {
        "Parameters": {key: {"Type": types[key]["Type"]} for key in parameters},
        "Resources": {"Placeholder": {"Type": "AWS::SNS::Topic"}},
        "Outputs": {key: {"Value": value} for key, value in outputs.items()},
    }
    return str(
        boto3.client("cloudformation").create_stack(
            StackName=name,
            TemplateBody=json.dumps(stand_in),
            Parameters=[{"ParameterKey": k, "ParameterValue": v} for k, v in parameters.items()],
        )["StackId"]
    )


def template_function(
    environment: dict[str, str], *, time_scale: float, timeout: float, log_level: str = "INFO"
) -> FunctionConfig:
    """template.yaml's function as Lambda runs it (its code folder, its handler), one process
    per execution environment, on the model's time scale; ``timeout`` in model seconds."""
    function = load_template()["Resources"]["Function"]["Properties"]
    return FunctionConfig(
        code_dir=ROOT / function["CodeUri"],
        handler=function["Handler"],
        timeout=timeout,
        function_name="shared-authorizer-pools-Function",
        environment={
            **environment,
            **{name: os.environ[name] for name in REGISTRAR_VARIABLES if name in os.environ},
            "LOG_LEVEL": log_level,
        },
        time_scale=time_scale,
        clock_module="authorizer_pools.timing",
    )


@pytest.fixture
def world(
    local_aws: LocalAws, receiver: ResponseReceiver, handler: Any, aws_environment: dict[str, str]
) -> Iterator[World]:
    yield fresh_world(local_aws, receiver, handler)
    local_aws.control_plane.clear()
    for name in REGISTRAR_VARIABLES:
        os.environ.pop(name, None)
    for name in list(os.environ):
        assert not name.startswith("LOCALAWS_"), name
