"""``make smoke DRY_RUN=1``: every AWS call the smoke test would make, printed, none made.

Later steps need what earlier ones return (stack outputs, pool ids, tokens): the dry run hands
back placeholders in angle brackets, and the API's stages as examples/shared-api.yaml names
them. It needs no credentials.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from smoke.account import (
    ROOT,
    SIGN_IN_CLIENT,
    TEMPLATE_BODY_LIMIT,
    TEMPLATES,
    StackKind,
    template_key,
)

_OUTPUTS: dict[StackKind, dict[str, str]] = {
    "shared-api": {
        "RestApiId": "<RestApiId>",
        "AuthorizerId": "<AuthorizerId>",
        "StageNames": "dev,prod",
        "OperatorsUserPoolArn": "<OperatorsUserPoolArn>",
    },
    "registrar": {"ServiceToken": "<ServiceToken>", "RegistryTableName": "<RegistryTableName>"},
    "tenant": {"UserPoolId": "<UserPoolId>", "AppClientId": "<AppClientId>"},
}


class DryRunAccount:
    dry_run = True

    def __init__(
        self, *, account_id: str, region: str, bucket: str, say: Callable[[str], None] = print
    ) -> None:
        self.account_id = account_id
        self.region = region
        self.bucket = bucket
        self._say = say

    def _call(self, service: str, operation: str, **arguments: object) -> None:
        shown = " ".join(f"{key}={value}" for key, value in arguments.items())
        self._say(f"  would call {service} {operation} {shown}".rstrip())

    def caller_account(self) -> str:
        self._call("sts", "GetCallerIdentity")
        return self.account_id

    def upload_function(self, key: str) -> str:
        self._call("s3", "PutObject", Bucket=self.bucket, Key=key, Body="build/function.zip")
        return f"s3://{self.bucket}/{key}"

    def delete_upload(self, location: str) -> None:
        bucket, key = location.removeprefix("s3://").split("/", 1)
        self._call("s3", "DeleteObject", Bucket=bucket, Key=key)

    def deploy_stack(
        self, name: str, kind: StackKind, parameters: Mapping[str, str], code: str | None = None
    ) -> dict[str, str]:
        template = TEMPLATES[kind].relative_to(TEMPLATES["tenant"].parent.parent)
        given = ",".join(f"{key}={value}" for key, value in parameters.items())
        described = str(template) + (f" (CodeUri: {code})" if code else "")
        source = {"TemplateBody": described}
        # A dry run builds nothing: the registrar's size is template.yaml's, give or take a line.
        sized = TEMPLATES[kind] if TEMPLATES[kind].exists() else ROOT / "template.yaml"
        if sized.stat().st_size > TEMPLATE_BODY_LIMIT:
            key = template_key(name)
            self._call("s3", "PutObject", Bucket=self.bucket, Key=key, Body=described)
            source = {"TemplateURL": f"s3://{self.bucket}/{key}"}
        self._call(
            "cloudformation",
            "CreateStack",
            StackName=name,
            Parameters=given,
            Capabilities="CAPABILITY_IAM,CAPABILITY_AUTO_EXPAND",
            **source,
        )
        if "TemplateURL" in source:
            self._call("s3", "DeleteObject", Bucket=self.bucket, Key=key)
        self._call("cloudformation", "DescribeStacks", StackName=name, until="CREATE_COMPLETE")
        return dict(_OUTPUTS[kind])

    def retained_resources(self, name: str, logical_ids: tuple[str, ...]) -> dict[str, str]:
        if logical_ids:
            self._call("cloudformation", "DescribeStackResources", StackName=name)
        return {logical_id: f"<{logical_id} of {name}>" for logical_id in logical_ids}

    def delete_stack(self, name: str) -> None:
        self._call("cloudformation", "DeleteStack", StackName=name)
        self._call("cloudformation", "DescribeStacks", StackName=name, until="DELETE_COMPLETE")

    def delete_retained(self, logical_id: str, physical_id: str) -> None:
        if logical_id == "Registry":
            self._call(
                "dynamodb", "UpdateTable", TableName=physical_id, DeletionProtectionEnabled=False
            )
            self._call("dynamodb", "DeleteTable", TableName=physical_id)
        else:
            self._call("cognito-idp", "DeleteUserPool", UserPoolId=physical_id)

    def sign_in(self, pool_id: str, username: str) -> str:
        self._call(
            "cognito-idp", "CreateUserPoolClient", UserPoolId=pool_id, ClientName=SIGN_IN_CLIENT
        )
        self._call("cognito-idp", "AdminCreateUser", UserPoolId=pool_id, Username=username)
        self._call("cognito-idp", "AdminSetUserPassword", UserPoolId=pool_id, Username=username)
        self._call(
            "cognito-idp",
            "AdminInitiateAuth",
            UserPoolId=pool_id,
            AuthFlow="ADMIN_USER_PASSWORD_AUTH",
        )
        return f"<ID token of {username} in {pool_id}>"

    def invoke_url(self, api_id: str, stage: str) -> str:
        return f"https://{api_id}.execute-api.{self.region}.amazonaws.com/{stage}"

    def call(self, url: str, token: str) -> int | None:
        self._say(f"  would GET {url}/orders with Authorization: {token}")
        return None

    def reconcile_dry_run(self, registrar_stack: str) -> tuple[int, str]:
        self._say(
            f"  would run python -m authorizer_pools --stack {registrar_stack} reconcile --dry-run"
            " (cloudformation DescribeStacks; apigateway GetAuthorizer, GetStages, GetExport;"
            " dynamodb Query; cognito-idp DescribeUserPool)"
        )
        return 0, ""
