"""The registrar's world on the local AWS, shared by ``make demo`` and the tests.

``localaws`` knows nothing of this product: the custom resource's type, the property naming a
tenant's pool and where the function keeps its clock are handed to it here, once. ``World`` is
what a user would look at: the authorizer's list, what each stage serves, what a tenant's user
gets, the registry's owners, the calls the function made.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import boto3
from botocore.config import Config

from authorizer_pools.aws import USER_AGENT_EXTRA
from authorizer_pools.registry import Owner, Registry
from authorizer_pools.timing import Deadline
from demo.shared_api import REGISTRY_TABLE, SharedApi, create_user_pool, provider_arns
from localaws.apigateway.deployments import served_provider_arns
from localaws.apigateway.flush import FLUSH_JOURNAL
from localaws.awslambda.runtime import ClockSeam
from localaws.cloudformation.response_receiver import ResponseReceiver
from localaws.cloudformation.stacks import Function, LocalCloudFormation, Stack
from localaws.dataplane.users import answers, sign_in
from localaws.middleware.journal import CallRecord
from localaws.middleware.routes import RequestInfo
from localaws.server import LocalAws

if TYPE_CHECKING:
    from mypy_boto3_apigateway import APIGatewayClient

ACCOUNT, REGION = "123456789012", "us-east-1"
# examples/tenant.yaml's custom resource: its type, its logical id, the property naming its pool.
RESOURCE_TYPE = "Custom::AuthorizerUserPool"
REGISTRATION = "TenantPoolRegistration"
POOL_PROPERTY = "UserPoolArn"
# template.yaml's function: its name, and its one injectable clock (authorizer_pools.timing).
FUNCTION_NAME = "shared-authorizer-pools-Function"
FUNCTION_CLOCK = ClockSeam("authorizer_pools.timing", "clock")
# What every boto3 call of the function carries in its User-Agent.
FUNCTION_AGENT = USER_AGENT_EXTRA
# Someone else's changes (the console, a pipeline) retry API Gateway's throttling as the console
# or CloudFormation would.
OTHERS_RETRY = Config(retries={"max_attempts": 10, "mode": "standard"})


def registrar_cloudformation(
    function: Function, receiver: ResponseReceiver, **options: Any
) -> LocalCloudFormation:
    """CloudFormation in front of the registrar, for tenant stacks shaped like
    examples/tenant.yaml (which declares the tenant's pool beside its registration)."""
    options.setdefault("pool_property", POOL_PROPERTY)
    return LocalCloudFormation(
        function, receiver, resource_type=RESOURCE_TYPE, region=REGION, **options
    )


@dataclass
class World:
    """A shared API on the local AWS, CloudFormation in front of the registrar, and ways to look
    at what a user would check."""

    aws: LocalAws
    api: SharedApi
    cloudformation: LocalCloudFormation
    receiver: ResponseReceiver
    table: str = REGISTRY_TABLE

    # -- tenants ---------------------------------------------------------------------------

    def tenant_pool(self, name: str) -> str:
        return create_user_pool(name)

    def registration(self, pool_arn: str, **overrides: Any) -> dict[str, Any]:
        """examples/tenant.yaml's registration of ``pool_arn``; an override of None drops it."""
        properties: dict[str, Any] = {
            POOL_PROPERTY: pool_arn,
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

    # -- what is live ------------------------------------------------------------------------

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

    def invoke_urls(self) -> dict[str, str]:
        return {
            stage: self.aws.invoke_url(self.api.rest_api_id, stage)
            for stage in self.api.stage_names
        }

    def answers(self, token: str, path: str = "/orders") -> dict[str, int]:
        """What each stage answers a GET with this token: what the tenant's user sees."""
        return answers(self.invoke_urls(), token, path)

    def everywhere(self, status: int) -> dict[str, int]:
        return dict.fromkeys(self.api.stage_names, status)

    @contextmanager
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

    # -- what the function did -------------------------------------------------------------

    def apigateway(self) -> APIGatewayClient:
        """A client for changes of someone else's (it retries API Gateway's throttling, so a
        CreateDeployment right after the function's, one per 5 s per account, still lands)."""
        return boto3.client("apigateway", config=OTHERS_RETRY)

    def deployments(self) -> list[dict[str, Any]]:
        found = self.apigateway().get_deployments(restApiId=self.api.rest_api_id)
        return [dict(item) for item in found["items"]]

    def flushes(self, stage_name: str | None = None) -> int:
        return len(FLUSH_JOURNAL.records(api_id=self.api.rest_api_id, stage_name=stage_name))

    def calls(self) -> list[CallRecord]:
        """The calls the function made (its user agent says so), not anyone else's."""
        return [
            call for call in self.aws.control_plane.journal() if FUNCTION_AGENT in call.user_agent
        ]

    def snapshot(self) -> tuple[list[str], int, int]:
        """What a change would alter: the pool list, the deployment count, the flush count."""
        return self.provider_arns(), len(self.deployments()), self.flushes()

    # -- the registry ----------------------------------------------------------------------

    def registry(self) -> Registry:
        return Registry(self.table, self.api.rest_api_id, self.api.authorizer_id, Deadline(1e18))

    def owners(self) -> dict[str, list[str]]:
        """The registry's owners, per pool ARN: "stack/logical id"."""
        return {
            arn: sorted(str(record.owner) for record in records)
            for arn, records in self.registry().state().owners.items()
        }

    def record_owner(self, pool_arn: str, stack_name: str) -> None:
        """Record an owner as a request does before its worker runs (another container's
        request, caught between its owner change and its pass)."""
        stack_id = f"arn:aws:cloudformation:{REGION}:{ACCOUNT}:stack/{stack_name}/{uuid.uuid4()}"
        self.registry().owners.add(pool_arn, Owner(stack_id, REGISTRATION), str(uuid.uuid4()))

    # -- someone else's changes ------------------------------------------------------------

    def remove_behind_the_registrys_back(self, *pools: str) -> None:
        """What the console, a script, or the shared API's own stack update does."""
        self._patch_pools("remove", pools)

    def add_behind_the_registrys_back(self, *pools: str) -> None:
        """What the console or a script does."""
        self._patch_pools("add", pools)

    def redeploy_every_stage(self) -> None:
        """The shared API's own stack or pipeline deploys every stage (it flushes nothing)."""
        for stage in self.api.stage_names:
            self.apigateway().create_deployment(restApiId=self.api.rest_api_id, stageName=stage)

    def _patch_pools(self, op: str, pools: tuple[str, ...]) -> None:
        for pool in pools:
            self.apigateway().update_authorizer(
                restApiId=self.api.rest_api_id,
                authorizerId=self.api.authorizer_id,
                patchOperations=[{"op": op, "path": "/providerARNs", "value": pool}],  # type: ignore[typeddict-item]
            )

    # -- the operator's CLI ------------------------------------------------------------------

    def cli_target(self) -> list[str]:
        """The operator CLI's options naming this world's authorizer, registry and stages."""
        return [
            "--rest-api-id",
            self.api.rest_api_id,
            "--authorizer-id",
            self.api.authorizer_id,
            "--table",
            self.table,
            "--stage-names",
            ",".join(self.api.stage_names),
        ]
