"""``make smoke``'s scenario, run on the local AWS: the same code (smoke.scenario on
smoke.account.BotoAccount, every call through boto3 with the endpoint switched), with the
local CloudFormation driver standing in for the stacks, which the local AWS cannot deploy
(no SAM transform, no custom resources in moto's CloudFormation)."""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from typing import Any

import boto3
import pytest
from conftest import FUNCTION_TIMEOUT, REGISTRAR_VARIABLES, TIME_SCALE, create_registrar_stand_in

from authorizer_pools.api_gateway import ApiGateway
from demo.shared_api import create_registry_table, create_shared_api, create_tenant_pool
from demo.world import ACCOUNT, FUNCTION_CLOCK, REGION, REGISTRATION, registrar_cloudformation
from localaws.cloudformation.response_receiver import ResponseReceiver
from localaws.cloudformation.stacks import InProcessFunction, LocalCloudFormation
from localaws.server import LocalAws
from smoke import dry_run
from smoke.__main__ import main as smoke_main
from smoke.account import (
    ROOT,
    AlreadyExists,
    BotoAccount,
    CloudFormationStacks,
    StackFailed,
    StackKind,
)
from smoke.scenario import Report, Smoke

BUCKET = "smoke-code"
PREFIX = "smoke-test"


class LocalStacks:
    """What each stack of the smoke makes, made on the local AWS: examples/shared-api.yaml's
    resources, template.yaml's table and function (in this process, behind the local
    CloudFormation driver), examples/tenant.yaml's pool, client and registration."""

    def __init__(
        self, local_aws: LocalAws, receiver: ResponseReceiver, handler: Any, fail: str = ""
    ) -> None:
        self.local_aws = local_aws
        self.receiver = receiver
        self.handler = handler
        self.fail = fail  # a stack whose creation fails, as CloudFormation would roll it back
        self.existing: set[str] = set()  # stacks someone else made before the run
        self.interrupt = ""  # a stack whose creation is interrupted (Ctrl-C, SIGTERM)
        self.deleted: list[str] = []
        self.cloudformation: LocalCloudFormation | None = None
        self.made: dict[str, dict[str, str]] = {}

    def upload_function(self, key: str) -> str:
        boto3.client("s3", endpoint_url=os.environ["AWS_ENDPOINT_URL"]).put_object(
            Bucket=BUCKET, Key=key, Body=b"the function's zip"
        )
        return f"s3://{BUCKET}/{key}"

    def delete_upload(self, location: str) -> None:
        bucket, key = location.removeprefix("s3://").split("/", 1)
        boto3.client("s3", endpoint_url=os.environ["AWS_ENDPOINT_URL"]).delete_object(
            Bucket=bucket, Key=key
        )

    def deploy_stack(
        self, name: str, kind: StackKind, parameters: Mapping[str, str], code: str | None
    ) -> dict[str, str]:
        if name in self.existing:
            raise AlreadyExists(f"stack {name} exists: this run did not make it")
        if name == self.interrupt:
            raise KeyboardInterrupt
        self.made[name] = {"kind": kind}
        if name == self.fail:
            raise StackFailed(f"{name}: TenantPoolRegistration CREATE_FAILED: (injected)")
        if kind == "shared-api":
            api = create_shared_api(parameters["ApiName"])
            operators = api.operators_pool_arn.rsplit("/", 1)[1]
            self.made[name].update(api=api.rest_api_id, OperatorsUserPool=operators)
            return {
                "RestApiId": api.rest_api_id,
                "AuthorizerId": api.authorizer_id,
                "StageNames": ",".join(api.stage_names),
                "OperatorsUserPoolArn": api.operators_pool_arn,
            }
        if kind == "registrar":
            return self._registrar(name, parameters)
        return self._tenant(name, parameters)

    def _registrar(self, name: str, parameters: Mapping[str, str]) -> dict[str, str]:
        table = create_registry_table(f"{name}-Registry")
        boto3.client("dynamodb").update_table(TableName=table, DeletionProtectionEnabled=True)
        os.environ.update(
            REST_API_ID=parameters["RestApiId"],
            AUTHORIZER_ID=parameters["AuthorizerId"],
            STAGE_NAMES=parameters["StageNames"],
            PROTECTED_USER_POOL_ARNS=parameters["ProtectedUserPoolArns"],
            REGISTRY_TABLE=table,
        )
        function = InProcessFunction(
            self.handler,
            timeout=FUNCTION_TIMEOUT,
            region=REGION,
            function_name=f"{name}-Function",
            time_scale=TIME_SCALE,
            clock=FUNCTION_CLOCK,
        )
        self.local_aws.control_plane.lambda_async.attach(function, time_scale=TIME_SCALE)
        self.cloudformation = registrar_cloudformation(
            function, self.receiver, service_timeout=FUNCTION_TIMEOUT * TIME_SCALE + 30
        )
        outputs = {"ServiceToken": function.arn, "RegistryTableName": table}
        # What DescribeStacks shows of the registrar, for `python -m authorizer_pools --stack`.
        create_registrar_stand_in(name, parameters, outputs)
        self.made[name].update(Registry=table)
        return outputs

    def _tenant(self, name: str, parameters: Mapping[str, str]) -> dict[str, str]:
        assert self.cloudformation is not None, "the registrar's ServiceToken is not exported"
        pool_arn = create_tenant_pool(parameters["TenantName"])
        pool_id = pool_arn.rsplit("/", 1)[1]
        self.made[name].update(pool=pool_id)
        registration = {"ServiceToken": self.cloudformation.function.arn, "UserPoolArn": pool_arn}
        stack = self.cloudformation.create_stack(name, {REGISTRATION: registration})
        if stack.status != "CREATE_COMPLETE":
            raise StackFailed(f"{name}: {stack.status}: {stack.exchanges[-1].reason}")
        (client,) = boto3.client("cognito-idp").list_user_pool_clients(UserPoolId=pool_id)[
            "UserPoolClients"
        ]
        return {"UserPoolId": pool_id, "AppClientId": client["ClientId"]}

    def retained_resources(self, name: str, logical_ids: tuple[str, ...]) -> dict[str, str]:
        made = self.made.get(name, {})
        return {logical_id: made[logical_id] for logical_id in logical_ids if logical_id in made}

    def delete_stack(self, name: str) -> None:
        self.deleted.append(name)
        made = self.made.pop(name, {})
        if made.get("kind") == "tenant" and self.cloudformation and "pool" in made:
            stack = self.cloudformation.delete_stack(name)
            if stack.status != "DELETE_COMPLETE":
                raise StackFailed(f"{name}: {stack.status}")
            boto3.client("cognito-idp").delete_user_pool(UserPoolId=made["pool"])
        elif made.get("kind") == "registrar":
            boto3.client("cloudformation").delete_stack(StackName=name)
        elif "api" in made:
            boto3.client("apigateway").delete_rest_api(restApiId=made["api"])


@pytest.fixture
def account(
    local_aws: LocalAws, receiver: ResponseReceiver, handler: Any, aws_environment: dict[str, str]
) -> Iterator[tuple[BotoAccount, LocalStacks]]:
    local_aws.reset()
    receiver.clear()
    boto3.client("s3", endpoint_url=os.environ["AWS_ENDPOINT_URL"]).create_bucket(Bucket=BUCKET)
    local_aws.control_plane.reset()
    stacks = LocalStacks(local_aws, receiver, handler)
    saved = {name: os.environ.get(name) for name in REGISTRAR_VARIABLES}
    yield BotoAccount(stacks, region=REGION, invoke_url=local_aws.invoke_url), stacks
    local_aws.control_plane.clear()
    for name, value in saved.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value
    os.environ["REGISTRY_TABLE"] = aws_environment["REGISTRY_TABLE"]


def left_behind() -> dict[str, list[str]]:
    """Everything a smoke run could leave on the account."""
    cloudformation = boto3.client("cloudformation")
    return {
        "apis": [api["id"] for api in boto3.client("apigateway").get_rest_apis()["items"]],
        "tables": boto3.client("dynamodb").list_tables()["TableNames"],
        "pools": [
            pool["Id"]
            for pool in boto3.client("cognito-idp").list_user_pools(MaxResults=60)["UserPools"]
        ],
        "stacks": [
            stack["StackName"]
            for stack in cloudformation.list_stacks()["StackSummaries"]
            if stack["StackStatus"] != "DELETE_COMPLETE"
        ],
        "objects": [
            item["Key"]
            for item in boto3.client("s3", endpoint_url=os.environ["AWS_ENDPOINT_URL"])
            .list_objects_v2(Bucket=BUCKET)
            .get("Contents", [])
        ],
    }


NOTHING: dict[str, list[str]] = {"apis": [], "tables": [], "pools": [], "stacks": [], "objects": []}


def deletions(tenant_stack: str) -> list[str]:
    """The cleanup of a run that got as far as one tenant stack still standing: in reverse."""
    return [
        f"delete {tenant_stack}",
        f"delete {PREFIX}-registrar",
        f"delete {PREFIX}-shared-api",
        f"delete s3://{BUCKET}/{PREFIX}/function.zip",
    ]


def run(account: BotoAccount, expected: str = ACCOUNT) -> Report:
    return Smoke(account, expected_account_id=expected, prefix=PREFIX).run()


def test_the_smoke_passes_on_the_local_aws_and_leaves_nothing_behind(
    account: tuple[BotoAccount, LocalStacks],
) -> None:
    report = run(account[0])

    assert report.passed, "\n".join(report.lines())
    names = [step.name for step in report.steps]
    assert names[-1] == (
        f"python -m authorizer_pools --stack {PREFIX}-registrar reconcile --dry-run: no drift"
    )
    details = {step.name: step.detail for step in report.steps}
    assert details["tenant a's user is refused on every stage (401)"] == "dev 401, prod 401"
    assert details["tenant b's user is still let in on every stage (200)"] == "dev 200, prod 200"
    assert [step.name for step in report.cleanup] == deletions(f"{PREFIX}-tenant-b")
    assert left_behind() == NOTHING
    assert report.lines()[-1] == "smoke: passed; 14/14 steps passed"


def test_a_step_that_fails_stops_the_steps_and_everything_is_still_deleted(
    account: tuple[BotoAccount, LocalStacks],
) -> None:
    boto, stacks = account
    stacks.fail = f"{PREFIX}-tenant-b"

    report = run(boto)

    assert not report.passed
    assert report.steps[-1].name == f"deploy {PREFIX}-tenant-b (examples/tenant.yaml)"
    assert "CREATE_FAILED" in report.steps[-1].detail
    assert all(step.ok for step in report.cleanup)
    assert left_behind() == NOTHING
    assert report.lines()[-1] == "smoke: FAILED; 7/8 steps passed"


def test_a_registration_that_answers_before_it_is_live_fails_the_smoke(
    account: tuple[BotoAccount, LocalStacks], monkeypatch: pytest.MonkeyPatch
) -> None:
    # The stages serve the new list, but their authorizer caches are never flushed: tenant a's
    # user, let in before its stack was deleted, is still let in right after DELETE_COMPLETE.
    monkeypatch.setattr(ApiGateway, "flush", lambda *_: None)
    monkeypatch.setattr("smoke.scenario.SETTLE_SECONDS", 0.0)

    report = run(account[0])

    failed = [step for step in report.steps if not step.ok]
    assert [step.name for step in failed] == ["tenant a's user is refused on every stage (401)"]
    assert failed[0].detail.startswith("dev answered 200, not 401")
    assert left_behind() == NOTHING


def test_credentials_of_another_account_are_refused_before_anything_is_made(
    account: tuple[BotoAccount, LocalStacks],
) -> None:
    report = run(account[0], expected="111122223333")

    assert [(step.name, step.ok) for step in report.steps] == [
        ("preflight: the credentials are the account named", False)
    ]
    assert f"the credentials are account {ACCOUNT}, not 111122223333" in report.steps[0].detail
    assert report.cleanup == []
    assert left_behind() == NOTHING


def test_the_dry_run_prints_every_call_of_the_real_run_and_makes_none(
    account: tuple[BotoAccount, LocalStacks], capsys: pytest.CaptureFixture[str]
) -> None:
    said: list[str] = []
    printing = dry_run.DryRunAccount(
        account_id=ACCOUNT, region=REGION, bucket=BUCKET, say=said.append
    )
    account[1].local_aws.control_plane.reset()

    report = Smoke(printing, expected_account_id=ACCOUNT, prefix=PREFIX).run()

    assert report.lines()[-1] == "smoke: dry run, nothing called; 14/14 steps passed"
    assert account[1].local_aws.control_plane.journal() == []
    calls = [line.split()[2:4] for line in said if line.startswith("  would call")]
    assert calls.count(["cloudformation", "CreateStack"]) == 4
    assert calls.count(["cloudformation", "DeleteStack"]) == 4
    assert ["dynamodb", "DeleteTable"] in calls
    assert ["cognito-idp", "DeleteUserPool"] in calls
    assert ["s3", "DeleteObject"] in calls
    gets = [line for line in said if line.startswith("  would GET")]
    assert len(gets) == 4 * 2  # four checks, each on both stages


def test_a_stack_that_was_there_before_the_run_is_never_deleted(
    account: tuple[BotoAccount, LocalStacks],
) -> None:
    # A reused prefix: the registrar stack is someone else's.
    boto, stacks = account
    stacks.existing = {f"{PREFIX}-registrar"}

    report = run(boto)

    assert report.steps[-1].name == f"deploy {PREFIX}-registrar (template.yaml)"
    assert "exists: this run did not make it" in report.steps[-1].detail
    assert stacks.deleted == [f"{PREFIX}-shared-api"]
    assert left_behind() == NOTHING


def test_an_interrupted_run_still_deletes_what_it_made_and_reports(
    account: tuple[BotoAccount, LocalStacks],
) -> None:
    boto, stacks = account
    stacks.interrupt = f"{PREFIX}-tenant-a"

    report = run(boto)

    assert report.steps[-1].name == "interrupted"
    assert [step.name for step in report.cleanup] == deletions(f"{PREFIX}-tenant-a")
    assert left_behind() == NOTHING


def test_each_tenant_is_checked_right_after_its_own_success(
    account: tuple[BotoAccount, LocalStacks],
) -> None:
    # Checked only after the next tenant's deployment, a change that went live late could pass.
    names = [step.name for step in run(account[0]).steps]
    assert names.index("tenant a's user is let in on every stage (200)") < names.index(
        f"deploy {PREFIX}-tenant-b (examples/tenant.yaml)"
    )


@pytest.mark.parametrize("variable", ["AWS_REGION", "AWS_DEFAULT_REGION"])
def test_the_dry_run_takes_the_region_from_either_variable(
    variable: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Lambda and CLI v2 set AWS_REGION; boto3 and CLI v1 read AWS_DEFAULT_REGION."""
    for name in ("AWS_REGION", "AWS_DEFAULT_REGION", "AWS_PROFILE", "AWS_CONFIG_FILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", os.devnull)  # no profile's region either
    monkeypatch.setenv(variable, "eu-west-1")

    assert smoke_main(["--account-id", ACCOUNT, "--dry-run"]) == 0

    assert "eu-west-1" in capsys.readouterr().out


class Recorder:
    """A boto3 client that records each call and answers nothing."""

    def __init__(self, service: str, calls: list[tuple[str, str, dict[str, Any]]]) -> None:
        self.service, self.calls = service, calls

    def __getattr__(self, operation: str) -> Any:
        def call(**arguments: Any) -> dict[str, Any]:
            self.calls.append((self.service, operation, arguments))
            return {}

        return call


def test_a_template_over_createstacks_body_limit_goes_through_the_code_bucket() -> None:
    """template.yaml is over the 51,200 bytes CreateStack takes inline: it is uploaded for the
    call and removed after it; a small template still goes inline."""
    stacks = CloudFormationStacks(region=REGION, bucket=BUCKET, prefix=PREFIX)
    made: list[tuple[str, str, dict[str, Any]]] = []
    stacks.cloudformation = Recorder("cloudformation", made)  # type: ignore[assignment]
    stacks.s3 = Recorder("s3", made)

    stacks._create(f"{PREFIX}-registrar", (ROOT / "template.yaml").read_text(), {})

    assert [(service, operation) for service, operation, _ in made] == [
        ("s3", "put_object"),
        ("cloudformation", "create_stack"),
        ("s3", "delete_object"),
    ]
    key = f"templates/{PREFIX}-registrar.yaml"
    assert made[0][2]["Key"] == made[2][2]["Key"] == key
    assert made[1][2]["TemplateURL"] == f"https://{BUCKET}.s3.{REGION}.amazonaws.com/{key}"
    assert "TemplateBody" not in made[1][2]

    made.clear()
    stacks._create(f"{PREFIX}-tenant", "small", {})
    assert [(s, o, a.get("TemplateBody")) for s, o, a in made] == [
        ("cloudformation", "create_stack", "small")
    ]
