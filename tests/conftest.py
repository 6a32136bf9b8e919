"""Fixtures: one local AWS and one ResponseURL receiver per session; a fresh shared API per test.

The handler runs unmodified: boto3 reaches the local AWS through AWS_ENDPOINT_URL, and crhelper's
own sender PUTs its answer to the receiver over HTTPS, trusting its CA through SSL_CERT_FILE.
"""

from __future__ import annotations

import json
import os
import ssl
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import boto3
import pytest
from template_model import ROOT, Deployment, load_template

from demo.shared_api import (
    REGISTRY_TABLE,
    SharedApi,
    create_registry_table,
    create_shared_api,
    create_user_pool,
)
from demo.world import (
    ACCOUNT,
    FUNCTION_CLOCK,
    FUNCTION_NAME,
    REGION,
    registrar_cloudformation,
)
from demo.world import World as SharedWorld
from localaws.awslambda.runtime import FunctionConfig
from localaws.cloudformation.response_receiver import ResponseReceiver
from localaws.cloudformation.stacks import InProcessFunction
from localaws.server import LocalAws

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


class World(SharedWorld):
    """The shared World, plus what only a test in this process does."""

    def shared_pool(self, name: str) -> str:
        """A pool the registrar lets any registration name (SharedUserPoolArns): a pooled
        tier's, or one no tenant stack holds."""
        pool = create_user_pool(name)
        listed = os.environ.get("SHARED_USER_POOL_ARNS", "")
        os.environ["SHARED_USER_POOL_ARNS"] = ",".join(filter(None, (listed, pool)))
        return pool

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
        function_name=FUNCTION_NAME,
        region=REGION,
        time_scale=TIME_SCALE,
        clock=FUNCTION_CLOCK,
    )
    # The function's continuations of itself (lambda:InvokeFunction) reach it.
    local_aws.control_plane.lambda_async.attach(function, time_scale=TIME_SCALE)
    cloudformation = registrar_cloudformation(
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
        function_name=FUNCTION_NAME,
        environment={
            **environment,
            **{name: os.environ[name] for name in REGISTRAR_VARIABLES if name in os.environ},
            "LOG_LEVEL": log_level,
        },
        time_scale=time_scale,
        clock=FUNCTION_CLOCK,
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
