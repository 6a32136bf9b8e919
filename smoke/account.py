"""Where the smoke test runs: an :class:`Account` it calls.

:class:`BotoAccount` makes every call with boto3, so the same code runs on a real account
(standard credentials) or on the local AWS (``AWS_ENDPOINT_URL``). Only making and deleting
stacks differs: a :class:`Stacks` does it, :class:`CloudFormationStacks` on a real account, the
local CloudFormation driver in the tests. :mod:`smoke.dry_run` prints the calls instead.
"""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Protocol

import boto3
from botocore.exceptions import ClientError, WaiterError

if TYPE_CHECKING:
    from mypy_boto3_cloudformation.type_defs import WaiterConfigTypeDef

StackKind = Literal["shared-api", "registrar", "tenant"]
ROOT = Path(__file__).resolve().parent.parent
TEMPLATES: dict[StackKind, Path] = {
    "shared-api": ROOT / "examples" / "shared-api.yaml",
    "tenant": ROOT / "examples" / "tenant.yaml",
    # `make build`'s copy of template.yaml, whose CodeUri names the built zip.
    "registrar": ROOT / "build" / "template.yaml",
}
FUNCTION_ZIP = ROOT / "build" / "function.zip"
SIGN_IN_CLIENT = "smoke-sign-in"
# CreateStack's TemplateBody limit (CloudFormation quotas); a larger template goes by S3.
TEMPLATE_BODY_LIMIT = 51_200


def template_key(stack_name: str) -> str:
    """Where in the code bucket a template too large to send inline waits for CreateStack."""
    return f"templates/{stack_name}.yaml"


# Stacks take minutes; a registration waits for live stages. At most 30 minutes each.
STACK_WAIT: WaiterConfigTypeDef = {"Delay": 10, "MaxAttempts": 180}


class Stacks(Protocol):
    def upload_function(self, key: str) -> str: ...
    def delete_upload(self, location: str) -> None: ...
    def deploy_stack(
        self, name: str, kind: StackKind, parameters: Mapping[str, str], code: str | None
    ) -> dict[str, str]: ...
    def retained_resources(self, name: str, logical_ids: tuple[str, ...]) -> dict[str, str]: ...
    def delete_stack(self, name: str) -> None: ...


class Account(Stacks, Protocol):
    region: str
    dry_run: bool

    def caller_account(self) -> str: ...
    def delete_retained(self, logical_id: str, physical_id: str) -> None: ...
    def sign_in(self, pool_id: str, username: str) -> str: ...
    def invoke_url(self, api_id: str, stage: str) -> str: ...
    def call(self, url: str, token: str) -> int | None: ...
    def reconcile_dry_run(self, registrar_stack: str) -> tuple[int, str]: ...


class StackFailed(Exception):
    pass


class AlreadyExists(Exception):
    """A stack or object of this name was there before the run: someone else's, never deleted."""


class BotoAccount:
    """Every call through boto3; stacks through ``stacks``; stages at ``invoke_urls``."""

    dry_run = False

    def __init__(self, stacks: Stacks, *, region: str, invoke_url: Any = None) -> None:
        self.stacks = stacks
        self.region = region
        self._invoke_url = invoke_url

    # Stacks: handed to ``stacks``.
    def upload_function(self, key: str) -> str:
        return self.stacks.upload_function(key)

    def delete_upload(self, location: str) -> None:
        self.stacks.delete_upload(location)

    def deploy_stack(
        self, name: str, kind: StackKind, parameters: Mapping[str, str], code: str | None = None
    ) -> dict[str, str]:
        return self.stacks.deploy_stack(name, kind, parameters, code)

    def retained_resources(self, name: str, logical_ids: tuple[str, ...]) -> dict[str, str]:
        return self.stacks.retained_resources(name, logical_ids)

    def delete_stack(self, name: str) -> None:
        self.stacks.delete_stack(name)

    # Everything else: the same calls on any AWS.
    def caller_account(self) -> str:
        return str(boto3.client("sts", region_name=self.region).get_caller_identity()["Account"])

    def delete_retained(self, logical_id: str, physical_id: str) -> None:
        if logical_id == "Registry":
            # template.yaml retains the table and protects it from deletion: lift that first.
            dynamodb = boto3.client("dynamodb", region_name=self.region)
            dynamodb.update_table(TableName=physical_id, DeletionProtectionEnabled=False)
            dynamodb.delete_table(TableName=physical_id)
        elif logical_id == "OperatorsUserPool":
            cognito = boto3.client("cognito-idp", region_name=self.region)
            cognito.delete_user_pool(UserPoolId=physical_id)
        else:
            raise ValueError(f"no way to delete a retained {logical_id}")

    def sign_in(self, pool_id: str, username: str) -> str:
        """A user of the pool, created with a random password never shown, signed in through
        the smoke's own app client (the tenant's client allows SRP only)."""
        cognito = boto3.client("cognito-idp", region_name=self.region)
        client_id = cognito.create_user_pool_client(
            UserPoolId=pool_id,
            ClientName=SIGN_IN_CLIENT,
            GenerateSecret=False,
            ExplicitAuthFlows=["ALLOW_ADMIN_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"],
        )["UserPoolClient"]["ClientId"]
        password = "Aa1!" + secrets.token_urlsafe(16)
        cognito.admin_create_user(UserPoolId=pool_id, Username=username, MessageAction="SUPPRESS")
        cognito.admin_set_user_password(
            UserPoolId=pool_id, Username=username, Password=password, Permanent=True
        )
        result = cognito.admin_initiate_auth(
            UserPoolId=pool_id,
            ClientId=client_id,
            AuthFlow="ADMIN_USER_PASSWORD_AUTH",
            AuthParameters={"USERNAME": username, "PASSWORD": password},
        )
        return str(result["AuthenticationResult"]["IdToken"])

    def invoke_url(self, api_id: str, stage: str) -> str:
        if self._invoke_url is not None:
            return str(self._invoke_url(api_id, stage))
        return f"https://{api_id}.execute-api.{self.region}.amazonaws.com/{stage}"

    def call(self, url: str, token: str) -> int | None:
        """GET ``url``/orders with the token: the status, or None when nothing answered."""
        if not url.startswith(("https://", "http://127.0.0.1:")):
            raise ValueError(f"not an invoke URL: {url}")
        request = urllib.request.Request(f"{url}/orders", headers={"Authorization": token})  # noqa: S310 (checked above)
        try:
            with urllib.request.urlopen(request, timeout=10) as answer:  # noqa: S310
                return int(answer.status)
        except urllib.error.HTTPError as error:
            return int(error.code)
        except (urllib.error.URLError, TimeoutError):
            return None

    def reconcile_dry_run(self, registrar_stack: str) -> tuple[int, str]:
        """The operator's command, as the README gives it."""
        finished = subprocess.run(  # noqa: S603 (this interpreter, fixed arguments)
            [
                sys.executable,
                "-m",
                "authorizer_pools",
                "--stack",
                registrar_stack,
                "reconcile",
                "--dry-run",
            ],
            capture_output=True,
            text=True,
            check=False,
            timeout=900,
            env={**os.environ, "AWS_DEFAULT_REGION": self.region},
        )
        return finished.returncode, finished.stdout + finished.stderr


class CloudFormationStacks:
    """Stacks on a real account: templates from this repository, code uploaded to ``bucket``."""

    def __init__(self, *, region: str, bucket: str, prefix: str) -> None:
        self.region = region
        self.bucket = bucket
        self.prefix = prefix
        self.cloudformation = boto3.client("cloudformation", region_name=region)
        self.s3 = boto3.client("s3", region_name=region)

    def upload_function(self, key: str) -> str:
        try:
            self.s3.head_object(Bucket=self.bucket, Key=key)
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") not in ("404", "NoSuchKey", "NotFound"):
                raise
        else:
            raise AlreadyExists(f"s3://{self.bucket}/{key} exists: this run did not make it")
        self.s3.upload_file(str(FUNCTION_ZIP), self.bucket, key)
        return f"s3://{self.bucket}/{key}"

    def delete_upload(self, location: str) -> None:
        bucket, key = location.removeprefix("s3://").split("/", 1)
        self.s3.delete_object(Bucket=bucket, Key=key)

    def deploy_stack(
        self, name: str, kind: StackKind, parameters: Mapping[str, str], code: str | None
    ) -> dict[str, str]:
        body = TEMPLATES[kind].read_text()
        if kind == "registrar":
            assert code is not None
            body = body.replace("CodeUri: function.zip", f"CodeUri: {code}")
        try:
            self._create(name, body, parameters)
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") == "AlreadyExistsException":
                raise AlreadyExists(f"stack {name} exists: this run did not make it") from error
            raise
        try:
            self.cloudformation.get_waiter("stack_create_complete").wait(
                StackName=name, WaiterConfig=STACK_WAIT
            )
        except WaiterError as error:
            raise StackFailed(f"{name}: {self._first_failure(name)}") from error
        stack = self.cloudformation.describe_stacks(StackName=name)["Stacks"][0]
        return {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}

    def _create(self, name: str, body: str, parameters: Mapping[str, str]) -> None:
        """CreateStack with the template as its body, or, when it is over CreateStack's body
        limit (template.yaml is), uploaded to the code bucket for the call: CloudFormation reads a
        TemplateURL while it validates the request, so the object goes once the call returns."""
        source: dict[str, str] = {"TemplateBody": body}
        key = template_key(name)
        if len(body.encode()) > TEMPLATE_BODY_LIMIT:
            self.s3.put_object(Bucket=self.bucket, Key=key, Body=body.encode())
            source = {"TemplateURL": f"https://{self.bucket}.s3.{self.region}.amazonaws.com/{key}"}
        try:
            self.cloudformation.create_stack(
                StackName=name,
                Parameters=[
                    {"ParameterKey": k, "ParameterValue": v} for k, v in parameters.items()
                ],
                Capabilities=["CAPABILITY_IAM", "CAPABILITY_AUTO_EXPAND"],
                OnFailure="ROLLBACK",
                Tags=[{"Key": "smoke", "Value": self.prefix}],
                **source,  # type: ignore[arg-type]
            )
        finally:
            if "TemplateURL" in source:
                self.s3.delete_object(Bucket=self.bucket, Key=key)

    def retained_resources(self, name: str, logical_ids: tuple[str, ...]) -> dict[str, str]:
        try:
            found = self.cloudformation.describe_stack_resources(StackName=name)
        except ClientError as error:
            if "does not exist" in str(error):
                return {}  # never made
            raise  # throttled, denied: not knowing what it retains must not pass as nothing
        return {
            r["LogicalResourceId"]: r["PhysicalResourceId"]
            for r in found["StackResources"]
            if r["LogicalResourceId"] in logical_ids and r.get("PhysicalResourceId")
        }

    def delete_stack(self, name: str) -> None:
        self.cloudformation.delete_stack(StackName=name)
        try:
            self.cloudformation.get_waiter("stack_delete_complete").wait(
                StackName=name, WaiterConfig=STACK_WAIT
            )
        except WaiterError as error:
            raise StackFailed(f"{name}: {self._first_failure(name)}") from error

    def _first_failure(self, name: str) -> str:
        """The first resource that failed, with CloudFormation's reason."""
        events = self.cloudformation.describe_stack_events(StackName=name)["StackEvents"]
        for event in reversed(events):
            if event["ResourceStatus"].endswith("_FAILED"):
                return (
                    f"{event['LogicalResourceId']} {event['ResourceStatus']}: "
                    f"{event.get('ResourceStatusReason', '')}"
                )
        return "no resource failed; the stack did not complete in time"
