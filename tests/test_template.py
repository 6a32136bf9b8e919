"""template.yaml: the function, its role and its log group, checked as a reviewer would."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from typing import Any

import pytest
from template_model import ROOT, Deployment, load_template, policy_allows

import authorizer_pools
from authorizer_pools import metrics, settings
from localaws.awslambda import runtime as lambda_runtime

# The fast tier (make test-fast): no local AWS, seconds in all.
pytestmark = pytest.mark.fast

API, AUTHORIZER = "a1b2c3d4e5", "x9y8z7"
APIGW = f"arn:aws:apigateway:us-east-1::/restapis/{API}"
OWN_POOL = "arn:aws:cognito-idp:us-east-1:123456789012:userpool/us-east-1_AbC123"
OTHER_ACCOUNT_POOL = "arn:aws:cognito-idp:us-east-1:210987654321:userpool/us-east-1_Zz9"
POOL_KEY = "apigateway:Request/CognitoUserPoolProviderArn"
TYPE, COGNITO = "apigateway:Resource/AuthorizerType", "COGNITO_USER_POOLS"
STAGE = "apigateway:Request/StageName"
KEYS = "dynamodb:LeadingKeys"
TABLE = "arn:aws:dynamodb:us-east-1:123456789012:table/shared-authorizer-pools-Registry"
FUNCTION = "arn:aws:lambda:us-east-1:123456789012:function:shared-authorizer-pools-Function"
RULES = "arn:aws:events:us-east-1:123456789012:rule"


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    return load_template()


@pytest.fixture(scope="module")
def deployed(template: dict[str, Any]) -> Deployment:
    return Deployment(
        template,
        {"RestApiId": API, "AuthorizerId": AUTHORIZER, "StageNames": ["dev", "prod_eu"]},
    )


def function(template: dict[str, Any]) -> dict[str, Any]:
    return dict(template["Resources"]["Function"]["Properties"])


def test_the_function_runs_a_current_python_on_arm64_with_room_to_retry(
    template: dict[str, Any],
) -> None:
    props = function(template)
    major, minor = map(int, re.fullmatch(r"python(\d+)\.(\d+)", props["Runtime"]).groups())  # type: ignore[union-attr]
    assert (major, minor) >= (3, 12)
    assert props["Architectures"] == ["arm64"]
    assert props["Timeout"] >= 300


def test_the_handler_names_a_module_under_the_code_folder(template: dict[str, Any]) -> None:
    props = function(template)
    assert props["CodeUri"] == "resource/"
    module, attribute = props["Handler"].rsplit(".", 1)
    path = ROOT / props["CodeUri"] / (module.replace(".", "/") + ".py")
    assert path.is_file()
    assert f"def {attribute}(" in path.read_text()
    # The standard library already has a module named `resource`.
    assert module.split(".")[0] != "resource"


def test_the_suite_runs_on_the_python_of_the_runtime_it_deploys(template: dict[str, Any]) -> None:
    """The local Lambda runs the function on this interpreter: a feature or a behaviour of
    another Python version would pass here and fail on Lambda."""
    runtime = function(template)["Runtime"]
    assert runtime == f"python{sys.version_info.major}.{sys.version_info.minor}"
    assert runtime == lambda_runtime.RUNTIME_VERSION


def test_its_environment_is_what_the_function_reads(template: dict[str, Any]) -> None:
    variables = set(function(template)["Environment"]["Variables"])
    read = {
        settings.REST_API_ID,
        settings.AUTHORIZER_ID,
        settings.STAGE_NAMES,
        settings.ALLOWED_USER_POOL_ARNS,
        settings.PROTECTED_USER_POOL_ARNS,
        settings.SHARED_USER_POOL_ARNS,
        settings.REGISTRY_TABLE,
        "LOG_LEVEL",
    }
    assert variables == read


def test_parameters_and_the_exported_service_token(template: dict[str, Any]) -> None:
    assert {"RestApiId", "AuthorizerId", "StageNames", "AllowedUserPoolArns", "LogLevel"} <= set(
        template["Parameters"]
    )
    export = template["Outputs"]["ServiceToken"]["Export"]["Name"]
    assert export == {"Fn::Sub": "${AWS::StackName}-ServiceToken"}


def test_the_service_token_is_also_a_parameter_tenants_can_resolve(
    deployed: Deployment,
) -> None:
    """A tenant stack that resolves the parameter instead of importing the export gets the same
    function, and does not pin the registrar stack's output."""
    parameter = deployed.resources()["ServiceTokenParameter"]["Properties"]
    assert parameter["Value"] == deployed.resolve({"Fn::GetAtt": ["Function", "Arn"]})
    assert parameter["Type"] == "String"
    assert str(parameter["Name"]).startswith("/authorizer-pools/")
    assert deployed.resolve(deployed.template["Outputs"]["ServiceTokenParameterName"]["Value"]) == (
        "<ServiceTokenParameter>"
    )


def test_the_stack_gives_the_version_the_package_declares(template: dict[str, Any]) -> None:
    """One version in one place: the Version output repeats authorizer_pools.__version__, which
    pyproject.toml reads and every log line carries; a release that bumps one bumps both."""
    assert template["Outputs"]["Version"]["Value"] == authorizer_pools.__version__


def test_logs_go_to_its_own_log_group_with_retention(deployed: Deployment) -> None:
    resources = deployed.resources()
    assert resources["FunctionLogGroup"]["Properties"]["RetentionInDays"] > 0
    logging_config = resources["Function"]["Properties"]["LoggingConfig"]
    assert logging_config["LogGroup"] == "<FunctionLogGroup>"  # a Ref to the group above


def test_the_registry_outlives_the_function_and_any_stack_update(
    template: dict[str, Any],
) -> None:
    registry = template["Resources"]["Registry"]
    assert registry["Type"] == "AWS::DynamoDB::Table"
    # Removed from the template or replaced, the table stays; deleting it needs deletion
    # protection turned off first.
    assert registry["DeletionPolicy"] == "Retain"
    assert registry["UpdateReplacePolicy"] == "Retain"
    props = registry["Properties"]
    assert props["DeletionProtectionEnabled"] is True
    assert props["BillingMode"] == "PAY_PER_REQUEST"
    assert props["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}
    assert props["SSESpecification"] == {"SSEEnabled": True}
    assert props["TimeToLiveSpecification"] == {"AttributeName": "expires_at", "Enabled": True}
    variables = template["Resources"]["Function"]["Properties"]["Environment"]["Variables"]
    assert variables["REGISTRY_TABLE"] == {"Ref": "Registry"}


def test_no_statement_uses_a_wildcard_action(deployed: Deployment) -> None:
    actions = [
        action
        for statement in deployed.role_statements()
        for action in (
            [statement["Action"]] if isinstance(statement["Action"], str) else statement["Action"]
        )
    ]
    assert actions
    assert not [action for action in actions if "*" in action or "?" in action]


@pytest.mark.parametrize(
    ("action", "resource", "context", "allowed"),
    [
        ("apigateway:GET", f"{APIGW}/authorizers/{AUTHORIZER}", {}, True),
        ("apigateway:GET", f"{APIGW}/stages", {}, True),
        (
            "apigateway:PATCH",
            f"{APIGW}/authorizers/{AUTHORIZER}",
            {POOL_KEY: OWN_POOL, TYPE: COGNITO},
            True,
        ),
        (
            "apigateway:PATCH",
            f"{APIGW}/authorizers/{AUTHORIZER}",
            {POOL_KEY: [OWN_POOL, OWN_POOL.replace("AbC123", "Xy9")], TYPE: COGNITO},
            True,
        ),
        # One pool not allowed among several: refused as a whole.
        (
            "apigateway:PATCH",
            f"{APIGW}/authorizers/{AUTHORIZER}",
            {POOL_KEY: [OWN_POOL, OTHER_ACCOUNT_POOL], TYPE: COGNITO},
            False,
        ),
        # Not a Cognito authorizer (someone made it a Lambda authorizer): nothing to change.
        (
            "apigateway:PATCH",
            f"{APIGW}/authorizers/{AUTHORIZER}",
            {POOL_KEY: OWN_POOL, TYPE: "TOKEN"},
            False,
        ),
        # A PATCH that names no pool: a removal, should IAM leave the key out of it (AWS does
        # not document whether it does), so allowed, on a Cognito authorizer staying one.
        ("apigateway:PATCH", f"{APIGW}/authorizers/{AUTHORIZER}", {TYPE: COGNITO}, True),
        (
            "apigateway:PATCH",
            f"{APIGW}/authorizers/{AUTHORIZER}",
            {TYPE: COGNITO, "apigateway:Request/AuthorizerType": "TOKEN"},
            False,
        ),
        ("apigateway:PATCH", f"{APIGW}/authorizers/{AUTHORIZER}", {TYPE: "TOKEN"}, False),
        # Pools of other accounts only when AllowedUserPoolArns says so.
        (
            "apigateway:PATCH",
            f"{APIGW}/authorizers/{AUTHORIZER}",
            {POOL_KEY: OTHER_ACCOUNT_POOL, TYPE: COGNITO},
            False,
        ),
        ("apigateway:PATCH", f"{APIGW}/authorizers/{AUTHORIZER}", {}, False),
        (
            "apigateway:PATCH",
            f"{APIGW}/authorizers/other1",
            {POOL_KEY: OWN_POOL, TYPE: COGNITO},
            False,
        ),
        ("apigateway:PATCH", f"{APIGW}/stages/dev", {}, True),
        ("apigateway:PATCH", f"{APIGW}/stages/qa", {}, False),
        ("apigateway:POST", f"{APIGW}/deployments", {STAGE: "dev"}, True),
        # Only to the registrar's stages.
        ("apigateway:POST", f"{APIGW}/deployments", {STAGE: "internal"}, False),
        ("apigateway:POST", f"{APIGW}/deployments", {}, False),
        ("apigateway:GET", f"{APIGW}/stages/dev/exports/oas30", {}, True),
        ("apigateway:GET", f"{APIGW}/stages/qa/exports/oas30", {}, False),
        (
            "apigateway:POST",
            "arn:aws:apigateway:us-east-1::/restapis/zzzzzzzzzz/deployments",
            {STAGE: "dev"},
            False,
        ),
        ("apigateway:DELETE", f"{APIGW}/stages/dev/cache/authorizers", {}, True),
        ("apigateway:DELETE", f"{APIGW}/stages/prod_eu/cache/authorizers", {}, True),
        ("apigateway:DELETE", f"{APIGW}/stages/qa/cache/authorizers", {}, False),
        ("apigateway:DELETE", f"{APIGW}/stages/dev", {}, False),
        ("apigateway:DELETE", f"{APIGW}/authorizers/{AUTHORIZER}", {}, False),
        ("dynamodb:UpdateItem", TABLE, {KEYS: [f"authorizer#{API}#{AUTHORIZER}"]}, True),
        ("dynamodb:Query", TABLE, {KEYS: [f"authorizer#{API}#{AUTHORIZER}"]}, True),
        # Only this authorizer's partition of the registry.
        ("dynamodb:UpdateItem", TABLE, {KEYS: [f"authorizer#{API}#other1"]}, False),
        ("dynamodb:Scan", TABLE, {}, False),
        ("dynamodb:DeleteTable", TABLE, {}, False),
        # Its continuation: a new invocation of itself, nothing else.
        ("dynamodb:UpdateItem", TABLE, {KEYS: [f"requests#{API}#{AUTHORIZER}"]}, True),
        ("dynamodb:UpdateItem", TABLE, {KEYS: [f"requests#{API}#other1"]}, False),
        # Which stack each registered pool belongs to.
        ("dynamodb:UpdateItem", TABLE, {KEYS: [f"claims#{API}#{AUTHORIZER}"]}, True),
        ("dynamodb:UpdateItem", TABLE, {KEYS: [f"claims#{API}#other1"]}, False),
        ("lambda:InvokeFunction", FUNCTION, {}, True),
        ("lambda:InvokeFunction", FUNCTION.replace("Function", "Other"), {}, False),
        ("lambda:AddPermission", FUNCTION, {}, False),
        ("lambda:RemovePermission", FUNCTION, {}, False),
        ("events:PutRule", f"{RULES}/TenantPoolRegistrationABCDEFGH", {}, False),
        ("events:PutTargets", f"{RULES}/registrar-repair", {}, False),
        ("cognito-idp:DescribeUserPool", OWN_POOL, {}, True),
        ("cognito-idp:DescribeUserPool", OTHER_ACCOUNT_POOL, {}, False),
        ("cognito-idp:DeleteUserPool", OWN_POOL, {}, False),
    ],
)
def test_the_role_allows_exactly_what_the_function_needs(
    deployed: Deployment,
    action: str,
    resource: str,
    context: dict[str, str | list[str]],
    allowed: bool,
) -> None:
    assert deployed.allows(action, resource, context) is allowed


@pytest.mark.parametrize("removes_carry_the_key", [True, False])
def test_iam_refuses_the_role_any_change_naming_a_protected_pool(
    template: dict[str, Any], removes_carry_the_key: bool
) -> None:
    """Whatever the registry holds, the role cannot add the operators' pool, nor remove it
    where IAM gives a remove the key (AWS documents the key for the pools a request sets); a
    tenant's pool is added and removed either way."""
    operators = OWN_POOL.replace("AbC123", "Operators1")
    protecting = Deployment(
        template,
        {
            "RestApiId": API,
            "AuthorizerId": AUTHORIZER,
            "StageNames": ["dev"],
            "ProtectedUserPoolArns": [operators],
        },
    )
    authorizer = f"{APIGW}/authorizers/{AUTHORIZER}"

    def patch(*pools: str, remove: bool = False) -> bool:
        keyed = list(pools) if (removes_carry_the_key or not remove) else []
        context: dict[str, str | list[str]] = {TYPE: COGNITO}
        if keyed:
            context[POOL_KEY] = keyed
        for statements in (protecting.role_statements(), protecting.operator_statements()):
            assert policy_allows(statements, "apigateway:PATCH", authorizer, context) == (
                protecting.allows("apigateway:PATCH", authorizer, context)
            )
        return protecting.allows("apigateway:PATCH", authorizer, context)

    assert patch(OWN_POOL)
    assert patch(OWN_POOL, remove=True)
    assert not patch(operators)
    assert not patch(OWN_POOL, operators)
    assert patch(operators, remove=True) is not removes_carry_the_key


def test_no_grant_on_every_eventbridge_rule_and_no_edit_of_its_own_policy(
    deployed: Deployment,
) -> None:
    for statement in deployed.role_statements():
        actions = statement["Action"]
        actions = [actions] if isinstance(actions, str) else actions
        assert not [a for a in actions if a.startswith("events:")], statement
        assert not {"lambda:AddPermission", "lambda:RemovePermission"} & set(actions), statement
        resources = statement["Resource"]
        resources = [resources] if isinstance(resources, str) else resources
        assert not [r for r in resources if ":rule/" in r], statement


def test_allowed_pool_patterns_flow_into_the_patch_condition(template: dict[str, Any]) -> None:
    other_accounts = Deployment(
        template,
        {
            "RestApiId": API,
            "AuthorizerId": AUTHORIZER,
            "StageNames": ["dev"],
            "AllowedUserPoolArns": ["arn:aws:cognito-idp:*:210987654321:userpool/*"],
        },
    )
    authorizer = f"{APIGW}/authorizers/{AUTHORIZER}"
    cognito = {TYPE: COGNITO}
    assert other_accounts.allows(
        "apigateway:PATCH", authorizer, {POOL_KEY: OTHER_ACCOUNT_POOL, **cognito}
    )
    assert not other_accounts.allows(
        "apigateway:PATCH", authorizer, {POOL_KEY: OWN_POOL, **cognito}
    )


def test_the_template_make_deploy_packages_points_at_the_built_zip_and_still_lints() -> None:
    packaged = ROOT / "build" / "template.yaml"
    subprocess.run(["make", "--silent", "build/template.yaml"], cwd=ROOT, check=True)
    text = packaged.read_text()
    assert text.count("CodeUri: function.zip") == 1
    assert "CodeUri: resource/" not in text
    lint = subprocess.run(
        [str(ROOT / ".venv/bin/cfn-lint"), str(packaged)],
        check=False,
        capture_output=True,
        text=True,
    )
    assert lint.returncode == 0, lint.stdout
    # `aws cloudformation package` uploads these relative to the packaged template, and fails
    # on one that is not there.
    application = load_template(packaged)["Metadata"]["AWS::ServerlessRepo::Application"]
    for key in ("LicenseUrl", "ReadmeUrl"):
        assert (packaged.parent / application[key]).is_file(), key


def test_the_repair_runs_every_five_minutes_unless_the_schedule_is_empty(
    template: dict[str, Any],
) -> None:
    assert template["Parameters"]["RepairSchedule"]["Default"] == "rate(5 minutes)"
    for name in ("RepairRule", "RepairRulePermission"):
        assert template["Resources"][name]["Condition"] == "RepairsOnSchedule"
    scheduled = Deployment(
        template, {"RestApiId": API, "AuthorizerId": AUTHORIZER, "StageNames": ["dev"]}
    )
    assert scheduled.condition("RepairsOnSchedule")
    off = Deployment(
        template,
        {"RestApiId": API, "AuthorizerId": AUTHORIZER, "StageNames": ["dev"], "RepairSchedule": ""},
    )
    assert not off.condition("RepairsOnSchedule")
    permission = template["Resources"]["RepairRulePermission"]["Properties"]
    assert permission["Principal"] == "events.amazonaws.com"
    assert permission["SourceArn"] == {"Fn::GetAtt": ["RepairRule", "Arn"]}


def test_the_alarms_watch_the_metrics_the_function_prints(template: dict[str, Any]) -> None:
    from authorizer_pools import metrics  # noqa: PLC0415

    errors = template["Resources"]["FunctionErrorsAlarm"]["Properties"]
    assert (errors["Namespace"], errors["MetricName"]) == ("AWS/Lambda", "Errors")
    assert errors["Dimensions"] == [{"Name": "FunctionName", "Value": {"Ref": "Function"}}]
    assert (
        errors["AlarmActions"]
        == template["Resources"]["RepairsAlarm"]["Properties"]["AlarmActions"]
    )
    failed = template["Resources"]["FailedAnswersAlarm"]["Properties"]
    assert (failed["Namespace"], failed["MetricName"]) == (metrics.NAMESPACE, metrics.ANSWERS)
    assert {"Name": metrics.DIMENSION, "Value": {"Ref": "Function"}} in failed["Dimensions"]
    assert {"Name": "Status", "Value": "FAILED"} in failed["Dimensions"]
    repairs = template["Resources"]["RepairsAlarm"]["Properties"]["Metrics"]
    watched = {m["MetricStat"]["Metric"]["MetricName"] for m in repairs if "MetricStat" in m}
    assert watched == {metrics.POOLS_REPAIRED, metrics.STAGES_REPUBLISHED}
    assert failed["AlarmActions"] == {
        "Fn::If": ["NotifiesATopic", [{"Ref": "AlarmTopicArn"}], {"Ref": "AWS::NoValue"}]
    }


def test_every_tool_reads_the_template_as_cloudformation_deploys_it(
    template: dict[str, Any],
) -> None:
    """SAM, CDK's CfnInclude and checkov read neither Fn::ForEach nor the LanguageExtensions
    transform: the template holds only what each of them takes."""
    assert template["Transform"] == "AWS::Serverless-2016-10-31"
    sections = [template[name] for name in ("Conditions", "Resources", "Outputs")]
    assert not [key for section in sections for key in section if key.startswith("Fn::")]


SLOT_ACTIONS = (
    ("apigateway:PATCH", ""),
    ("apigateway:DELETE", "/cache/authorizers"),
    ("apigateway:GET", "/exports/oas30"),
)


@pytest.mark.parametrize("count", [1, 2, settings.STAGE_SLOTS])
def test_each_named_stage_and_no_other_may_be_published(
    template: dict[str, Any], count: int
) -> None:
    """One slot per stage, up to API Gateway's stages per API: whatever the list's length, the
    function and the operator may point, flush and read exactly the named stages."""
    names = [f"stage_{index}" for index in range(count)]
    deployment = Deployment(
        template, {"RestApiId": API, "AuthorizerId": AUTHORIZER, "StageNames": names}
    )
    for statements in (deployment.role_statements(), deployment.operator_statements()):
        for action, suffix in SLOT_ACTIONS:
            for name in names:
                assert policy_allows(statements, action, f"{APIGW}/stages/{name}{suffix}")
            for name in ("qa", f"stage_{count}", ""):
                assert not policy_allows(statements, action, f"{APIGW}/stages/{name}{suffix}")
        slot_resources = [
            resource
            for statement in statements
            if str(statement.get("Sid", "")).endswith(("NamedStagesAtADeployment", "Caches"))
            for resource in statement["Resource"]
        ]
        assert len(slot_resources) == 2 * count  # an empty slot grants nothing, not "stages/"


def test_the_template_and_the_function_accept_the_same_stage_names(
    template: dict[str, Any],
) -> None:
    assert template["Parameters"]["StageNames"]["AllowedPattern"] == settings.STAGE_NAME_PATTERN


@pytest.mark.parametrize(
    ("stage_names", "named"),
    [
        ("dev,,prod", "''"),  # an empty item takes a slot and grants nothing
        (",dev", "''"),
        ("dev, prod", "' prod'"),  # the slot would grant " prod", the function publish "prod"
        ("dev*", "'dev*'"),  # IAM would read the wildcard: dev_internal, devops...
        ("d?v", "'d?v'"),
        ("x" * 65, "'" + "x" * 65 + "'"),
    ],
)
def test_the_function_refuses_a_stage_name_the_slots_would_grant_differently(
    stage_names: str, named: str
) -> None:
    assert f"StageNames has the item {named}" in refusal_of_stage_names(stage_names)


def test_the_function_refuses_more_stages_than_the_template_grants() -> None:
    refused = refusal_of_stage_names(
        ",".join(f"stage_{index}" for index in range(settings.STAGE_SLOTS + 1))
    )
    assert "StageNames lists 11 stages" in refused
    assert "at most 10" in refused


def refusal_of_stage_names(stage_names: str) -> str:
    """Why the function, deployed with these StageNames, refuses to load its settings."""
    environ = {
        settings.REST_API_ID: API,
        settings.AUTHORIZER_ID: AUTHORIZER,
        settings.STAGE_NAMES: stage_names,
    }
    with pytest.raises(authorizer_pools.errors.ResourceError) as refused:
        settings.Settings.load(FUNCTION, environ)
    return str(refused.value)


def minified_size(document: dict[str, Any]) -> int:
    """The size IAM counts a policy by: its JSON without whitespace."""
    return len(json.dumps(document, separators=(",", ":")))


def test_ten_stages_of_sixty_four_characters_and_twenty_pool_patterns_fit_iams_policy_sizes(
    template: dict[str, Any],
) -> None:
    """IAM refuses a role whose inline policies add up to more than 10,240 characters, and a
    managed policy over 6,144 (IAM and AWS STS quotas): the README promises ten stages with
    names of up to 64 characters beside twenty AllowedUserPoolArns patterns, one per account."""
    names = [f"{index}".ljust(64, "x") for index in range(settings.STAGE_SLOTS)]
    patterns = [f"arn:aws:cognito-idp:*:{index:012d}:userpool/*" for index in range(20)]
    deployment = Deployment(
        template,
        {
            "RestApiId": API,
            "AuthorizerId": AUTHORIZER,
            "StageNames": names,
            "AllowedUserPoolArns": patterns,
            "ProtectedUserPoolArns": [OWN_POOL],
        },
    )
    inline = 0
    for logical_id, resource in deployment.resources().items():
        properties = resource["Properties"]
        if resource["Type"] == "AWS::IAM::Role":
            inline += sum(minified_size(p["PolicyDocument"]) for p in properties["Policies"])
        elif resource["Type"] in ("AWS::IAM::RolePolicy", "AWS::IAM::Policy"):
            inline += minified_size(properties["PolicyDocument"])
        elif resource["Type"] == "AWS::IAM::ManagedPolicy":
            assert minified_size(properties["PolicyDocument"]) <= 6144, logical_id
    assert 0 < inline <= 10240


def alarm_metrics(deployment: Deployment) -> set[str]:
    """The names of the function's own metrics every alarm watches."""
    watched: set[str] = set()
    for resource in deployment.resources().values():
        if resource["Type"] != "AWS::CloudWatch::Alarm":
            continue
        properties = resource["Properties"]
        stats = [properties] + [
            m["MetricStat"]["Metric"] for m in properties.get("Metrics", []) if "MetricStat" in m
        ]
        watched |= {
            stat["MetricName"]
            for stat in stats
            if stat.get("Namespace") == metrics.NAMESPACE and "MetricName" in stat
        }
    return watched


def test_the_dashboard_shows_every_metric_the_function_emits_for_this_registrar(
    deployed: Deployment,
) -> None:
    body = json.loads(deployed.resources()["Dashboard"]["Properties"]["DashboardBody"])
    shown: set[str] = set()
    for widget in body["widgets"]:
        for line in widget["properties"]["metrics"]:
            namespace, name, *pairs = [part for part in line if isinstance(part, str)]
            dimensions = dict(zip(pairs[::2], pairs[1::2], strict=True))
            if namespace == metrics.NAMESPACE:
                assert dimensions[metrics.DIMENSION] == deployed.resolve({"Ref": "Function"})
                shown.add(name)
            else:
                assert namespace == "AWS/Lambda"
                assert dimensions == {"FunctionName": deployed.resolve({"Ref": "Function"})}
    emitted = {
        value
        for key, value in vars(metrics).items()
        if key.isupper() and not key.startswith("_") and key not in ("NAMESPACE", "DIMENSION")
    }
    assert shown == emitted
    assert metrics.ANSWERS in alarm_metrics(deployed) <= shown


def test_the_serverless_application_repository_metadata_is_this_release(
    template: dict[str, Any],
) -> None:
    """What `sam publish` requires (Name, Description, Author) and what it uploads."""
    application = template["Metadata"]["AWS::ServerlessRepo::Application"]
    assert re.fullmatch(r"[A-Za-z0-9-]{1,140}", application["Name"])
    assert 0 < len(application["Description"]) <= 256
    assert application["Author"]
    assert application["SemanticVersion"] == authorizer_pools.__version__
    assert application["SpdxLicenseId"] == "Apache-2.0"
    assert "Apache License" in (ROOT / application["LicenseUrl"]).read_text()
    assert (ROOT / application["ReadmeUrl"]).is_file()


def test_two_registrars_of_one_name_in_two_regions_have_two_dashboards(
    template: dict[str, Any],
) -> None:
    """CloudWatch dashboards are global to the account, not to a Region."""
    names = {
        Deployment(template, {"StageNames": ["dev"]}, region=region).resources()["Dashboard"][
            "Properties"
        ]["DashboardName"]
        for region in ("us-east-1", "eu-west-1")
    }
    assert len(names) == 2
