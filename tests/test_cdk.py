"""The CDK construct library (cdk/), as a platform team would use it: cdk/test/app.js (TypeScript's
JavaScript) and cdk/test/app.py (the Python binding jsii-pacmak builds) synthesize a shared API,
the registrar for it and one tenant, under cdk-nag's AwsSolutions checks. The synthesized tenant
stack then runs on the local CloudFormation driver: its user's token gets 200 after Create and
401 after Delete. `make test` builds the library first (`make cdk`).
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import tarfile
import tomllib
import zipfile
from pathlib import Path
from typing import Any

import pytest
from conftest import World
from template_model import ROOT, load_template

import authorizer_pools
from authorizer_pools import settings

CDK = ROOT / "cdk"
CDK_PYTHON = ROOT / ".venv-cdk" / "bin" / "python"
ZIP = ROOT / "build" / "function.zip"
REGISTRATION_TYPE = "Custom::AuthorizerUserPool"
# What node (and jsii under the Python binding) runs with: the machine's PATH, and Node 20's
# end-of-life banner silenced.
NODE_ENVIRONMENT = {
    "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20",
    "PATH": os.environ.get("PATH", ""),
}


def synthesize(command: list[str], outdir: Path, *flags: str) -> subprocess.CompletedProcess[str]:
    if not (CDK / "lib" / "index.js").exists() or not CDK_PYTHON.exists():
        pytest.fail("the construct library is not built: `make test` builds it (make cdk)")
    return subprocess.run(
        [*command, str(outdir), *flags],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        env=NODE_ENVIRONMENT,
    )


@pytest.fixture(scope="module")
def typescript_app(tmp_path_factory: pytest.TempPathFactory) -> Path:
    outdir = tmp_path_factory.mktemp("cdk-ts")
    synthesized = synthesize(["node", "cdk/test/app.js"], outdir)
    assert synthesized.returncode == 0, synthesized.stdout + synthesized.stderr
    return outdir


@pytest.fixture(scope="module")
def python_app(tmp_path_factory: pytest.TempPathFactory) -> Path:
    outdir = tmp_path_factory.mktemp("cdk-py")
    synthesized = synthesize([str(CDK_PYTHON), "cdk/test/app.py"], outdir)
    assert synthesized.returncode == 0, synthesized.stdout + synthesized.stderr
    return outdir


def stack_template(outdir: Path, stack: str) -> dict[str, Any]:
    return dict(json.loads((outdir / f"{stack}.template.json").read_text()))


def findings(outdir: Path) -> list[tuple[str, str, str]]:
    """(plugin, rule, construct path) of every finding no acknowledgment covers."""
    report = json.loads((outdir / "validation-report.json").read_text())
    return [
        (plugin["pluginName"], violation["ruleName"], construct["constructPath"])
        for plugin in report["pluginReports"]
        for violation in plugin["violations"]
        for construct in violation["violatingConstructs"]
    ]


def registration_of(template: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    (found,) = [
        (logical_id, resource)
        for logical_id, resource in template["Resources"].items()
        if resource["Type"] == REGISTRATION_TYPE
    ]
    return found


def test_the_example_app_synthesizes_with_nothing_left_unexplained(typescript_app: Path) -> None:
    assert findings(typescript_app) == []


def test_every_aws_solutions_finding_on_the_registrar_is_acknowledged_by_the_construct(
    tmp_path: Path,
) -> None:
    """Without the example's own acknowledgments the checks still run and fail the synthesis on
    the example's API and pools: and find nothing on the registrar or the registration."""
    synthesized = synthesize(
        ["node", "cdk/test/app.js"], tmp_path, "--without-example-acknowledgments"
    )
    assert synthesized.returncode != 0
    found = findings(tmp_path)
    assert {rule for plugin, rule, _ in found if plugin == "AwsSolutions"} >= {
        "AwsSolutions-COG1",
        "AwsSolutions-APIG1",
    }
    assert not [f for f in found if f[2].startswith(("Registrar/", "TenantAcme/TenantPool"))]


def test_the_registrar_stack_is_template_yaml_with_the_built_zip_as_its_code(
    typescript_app: Path,
) -> None:
    source = load_template()
    synthesized = stack_template(typescript_app, "Registrar")
    assert synthesized["Transform"] == source["Transform"]
    for logical_id, resource in source["Resources"].items():
        assert synthesized["Resources"][logical_id]["Type"] == resource["Type"], logical_id
    assert set(source["Conditions"]) <= set(synthesized["Conditions"])
    # The shared API's ids and stages are the constructs' own, not parameters left to fill in.
    assert not {"RestApiId", "AuthorizerId", "StageNames", "ProtectedUserPoolArns"} & set(
        synthesized["Parameters"]
    )
    code = synthesized["Resources"]["Function"]["Properties"]["CodeUri"]
    assets = json.loads((typescript_app / "Registrar.assets.json").read_text())["files"]
    (asset,) = [a for a in assets.values() if a["source"]["path"].endswith(".zip")]
    assert code["Key"] == next(iter(asset["destinations"].values()))["objectKey"]
    shipped = (typescript_app / asset["source"]["path"]).read_bytes()
    assert hashlib.sha256(shipped).digest() == hashlib.sha256(ZIP.read_bytes()).digest()


def test_the_synthesized_stacks_pass_cfn_lint(typescript_app: Path) -> None:
    templates = sorted(str(path) for path in typescript_app.glob("*.template.json"))
    assert len(templates) == 3
    linted = subprocess.run(
        # W8003: a condition on a parameter the construct substituted is constant, by design.
        [str(ROOT / ".venv" / "bin" / "cfn-lint"), "--ignore-checks", "W8003", "--", *templates],
        capture_output=True,
        text=True,
        check=False,
    )
    assert linted.returncode == 0, linted.stdout + linted.stderr


def test_a_tenant_pipeline_is_granted_invoke_of_the_function_and_nothing_else(
    typescript_app: Path,
) -> None:
    resources = stack_template(typescript_app, "Registrar")["Resources"]
    (policy,) = [
        resource["Properties"]
        for logical_id, resource in resources.items()
        if logical_id.startswith("TenantPipelineDefaultPolicy")
    ]
    (statement,) = policy["PolicyDocument"]["Statement"]
    assert statement["Action"] == "lambda:InvokeFunction"
    # Not "<arn>:*": its versions and the repair alias are not a tenant's to invoke.
    assert statement["Resource"] == {"Fn::GetAtt": ["Function", "Arn"]}


def test_operators_are_granted_both_operator_policies(typescript_app: Path) -> None:
    resources = stack_template(typescript_app, "Registrar")["Resources"]
    (role,) = [key for key in resources if key.startswith("Operators")]
    for policy in ("OperatorPolicy", "OperatorStagePolicy"):
        assert resources[policy]["Properties"]["Roles"] == [{"Ref": role}]


APP_HEADER = (
    "const cdk = require('aws-cdk-lib');"
    " const { aws_cognito: cognito, aws_apigateway: ag, aws_iam: iam } = cdk;"
    " const { AuthorizerPoolsRegistrar, UserPoolRegistration } = require('.');"
    " const app = new cdk.App(); const stack = new cdk.Stack(app, 'S');"
    " const registrar = AuthorizerPoolsRegistrar.fromServiceToken(stack, 'T', 'arn:x');"
    " const api = ag.RestApi.fromRestApiId(stack, 'A', 'a1b2c3'); api.authorizerId = 'x9';"
)


def run_app(program: str) -> subprocess.CompletedProcess[str]:
    """``program`` after APP_HEADER (``registrar``: a registrar from its service token;
    ``api``: an imported REST API; ``stack``: stack S of ``app``), run by node in cdk/."""
    return subprocess.run(
        ["node", "-e", f"{APP_HEADER} {program}"],
        cwd=CDK,
        capture_output=True,
        text=True,
        check=False,
        env=NODE_ENVIRONMENT,
    )


def synthesized_stack(program: str) -> dict[str, Any]:
    """The template of stack S of ``program`` (see :func:`run_app`)."""
    run = run_app(
        program + " console.log(JSON.stringify(app.synth().getStackByName('S').template));"
    )
    assert run.returncode == 0, run.stderr
    return dict(json.loads(run.stdout.splitlines()[-1]))


def test_an_imported_operators_role_is_attached_too() -> None:
    template = synthesized_stack(
        "const real = new ag.RestApi(stack, 'Api'); real.root.addMethod('GET');"
        " const r = new AuthorizerPoolsRegistrar(stack, 'R', { restApi: real, authorizer: api,"
        " stages: [real.deploymentStage], protectedUserPoolArns: [] });"
        " r.grantOperate(iam.Role.fromRoleArn(stack, 'Ops', 'arn:aws:iam::123456789012:role/ops'));"
    )
    for policy in ("OperatorPolicy", "OperatorStagePolicy"):
        assert template["Resources"][policy]["Properties"]["Roles"] == ["ops"]


def conditions_refer_only_to_parameters(template: dict[str, Any]) -> list[str]:
    """What in the Conditions section CloudFormation would refuse: only parameters, mappings
    and other conditions may be referred to there."""
    parameters = set(template.get("Parameters", {}))
    refused: list[str] = []

    def walk(value: Any) -> None:
        if isinstance(value, list):
            for item in value:
                walk(item)
        elif isinstance(value, dict):
            for key, item in value.items():
                if key in ("Fn::ImportValue", "Fn::GetAtt") or (
                    key == "Ref" and item not in parameters and not str(item).startswith("AWS::")
                ):
                    refused.append(f"{key}: {item}")
                walk(item)

    walk(template.get("Conditions", {}))
    return refused


def test_the_registrars_conditions_hold_no_resource_or_import_across_stacks(
    typescript_app: Path, python_app: Path
) -> None:
    """Its stages, pools and topic are other stacks' (Fn::ImportValue) or this stack's resources
    (Ref, GetAtt): the construct decides the conditions that would read them."""
    for app in (typescript_app, python_app):
        assert conditions_refer_only_to_parameters(stack_template(app, "Registrar")) == []
    same_stack = synthesized_stack(
        "const pool = new cognito.UserPool(stack, 'Ops');"
        " const real = new ag.RestApi(stack, 'Api'); real.root.addMethod('GET');"
        " const topic = new cdk.aws_sns.Topic(stack, 'Alarms');"
        " new AuthorizerPoolsRegistrar(stack, 'R', { restApi: real, authorizer: api,"
        " stages: [real.deploymentStage], protectedUserPoolArns: [pool.userPoolArn],"
        " alarmTopic: topic, allowedUserPoolArns: [pool.userPoolArn] });"
    )
    assert conditions_refer_only_to_parameters(same_stack) == []
    assert same_stack["Conditions"]["FillsStageSlot1"] == {"Fn::Equals": ["given", "given"]}
    assert same_stack["Conditions"]["FillsStageSlot2"] == {"Fn::Equals": ["not given", "given"]}
    assert same_stack["Conditions"]["ProtectsPools"] == {"Fn::Equals": ["given", "given"]}


def test_a_registration_takes_a_level_one_pool_of_its_own_stack() -> None:
    template = synthesized_stack(
        "const pool = new cognito.CfnUserPool(stack, 'Pool');"
        " new UserPoolRegistration(stack, 'R', { registrar,"
        " userPool: cognito.UserPool.fromUserPoolArn(stack, 'P', pool.attrArn) });"
    )
    (registration,) = [r for r in template["Resources"].values() if r["Type"] == REGISTRATION_TYPE]
    assert registration["Properties"]["UserPoolArn"] == {"Fn::GetAtt": ["Pool", "Arn"]}


def test_a_tenant_finds_the_registrar_by_the_parameter_the_registrar_publishes(
    typescript_app: Path,
) -> None:
    tenant = stack_template(typescript_app, "TenantAcme")
    _, registration = registration_of(tenant)
    parameter = tenant["Parameters"][registration["Properties"]["ServiceToken"]["Ref"]]
    assert parameter["Type"] == "AWS::SSM::Parameter::Value<String>"
    published = load_template()["Resources"]["ServiceTokenParameter"]["Properties"]["Name"]
    assert parameter["Default"] == published["Fn::Sub"].replace("${AWS::StackName}", "Registrar")
    assert registration["Properties"]["ServiceTimeout"] == "3600"


def test_the_python_binding_synthesizes_the_same_registrar_and_registration(
    typescript_app: Path, python_app: Path
) -> None:
    for_typescript = stack_template(typescript_app, "Registrar")["Resources"]
    for_python = stack_template(python_app, "Registrar")["Resources"]
    for logical_id in load_template()["Resources"]:
        assert for_python[logical_id] == for_typescript[logical_id], logical_id
    assert registration_of(stack_template(python_app, "TenantAcme")) == registration_of(
        stack_template(typescript_app, "TenantAcme")
    )


@pytest.mark.parametrize(
    ("snippet", "refusal"),
    [
        (
            "new UserPoolRegistration(stack, 'R', { registrar, userPool: "
            "cognito.UserPool.fromUserPoolArn(stack, 'P', "
            "'arn:aws:cognito-idp:us-east-1:123456789012:userpool/us-east-1_Ab1') })",
            "userPool S/P: the registrar accepts only a pool declared in the registering stack",
        ),
        (
            "new AuthorizerPoolsRegistrar(stack, 'X', { restApi: api, authorizer: api, "
            "protectedUserPoolArns: [], "
            "stages: Array.from({ length: 11 }, () => api.deploymentStage) })",
            "stages: 11 given; a registrar publishes 1 to 10 stages",
        ),
        (
            "const other = new cdk.Stack(stack.node.root, 'Other');"
            " const pool = new cognito.UserPool(other, 'Pool');"
            " new UserPoolRegistration(stack, 'R', { registrar, userPool: pool })",
            "userPool Other/Pool: the registrar accepts only a pool declared in the registering",
        ),
        (
            "const real = new ag.RestApi(stack, 'Api'); real.root.addMethod('GET');"
            " const props = { restApi: real, authorizer: api, stages: [real.deploymentStage],"
            " protectedUserPoolArns: [] };"
            " new AuthorizerPoolsRegistrar(stack, 'One', props);"
            " new AuthorizerPoolsRegistrar(stack, 'Two', props)",
            "S/Two: S/One is already a registrar of this stack",
        ),
        (
            "new AuthorizerPoolsRegistrar(stack, 'X', { restApi: api, authorizer: api,"
            " protectedUserPoolArns: [], stages: [ag.Stage.fromStageAttributes(stack, 'St',"
            " { restApi: api, stageName: 'dev*' })] })",
            "stages: 'dev*' is not 1 to 64 letters, digits, hyphens or underscores",
        ),
    ],
)
def test_the_constructs_refuse_at_synthesis_what_the_registrar_would_refuse(
    snippet: str, refusal: str
) -> None:
    run = run_app(snippet + ";")
    assert run.returncode != 0
    assert refusal in run.stderr


def test_the_construct_refuses_the_stage_names_the_function_refuses() -> None:
    """The construct's own copy of template.yaml's AllowedPattern (settings.py checks the two)."""
    assert f"/^{settings.STAGE_NAME_PATTERN}$/" in (CDK / "src" / "index.ts").read_text()


def test_the_construct_library_is_the_release_it_packages() -> None:
    package = json.loads((CDK / "package.json").read_text())
    assert package["version"] == authorizer_pools.__version__
    assert package["license"] == "Apache-2.0"
    pinned = {
        line.split("==")[0]: line.split("==")[1]
        for line in (ROOT / "requirements-cdk.txt").read_text().splitlines()
        if "==" in line
    }
    # The Python binding is tested with the aws-cdk-lib release the JavaScript is built with.
    assert package["devDependencies"]["aws-cdk-lib"] == pinned["aws-cdk-lib"]
    assert package["peerDependencies"]["aws-cdk-lib"] == "^" + pinned["aws-cdk-lib"]
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert pyproject["project"]["license"]


def test_the_synthesized_tenant_stack_lets_its_users_in_after_create_and_out_after_delete(
    world: World, typescript_app: Path
) -> None:
    tenant = stack_template(typescript_app, "TenantAcme")
    logical_id, registration = registration_of(tenant)
    pool_logical_id, attribute = registration["Properties"]["UserPoolArn"]["Fn::GetAtt"]
    assert (tenant["Resources"][pool_logical_id]["Type"], attribute) == (
        "AWS::Cognito::UserPool",
        "Arn",
    )
    # The local driver plays CloudFormation for custom resources only: the pool is made by
    # boto3, and GetAtt resolves to it; every other property goes as synthesized.
    pool = world.tenant_pool("acme")
    properties = {
        key: value for key, value in registration["Properties"].items() if key != "ServiceToken"
    }
    properties["UserPoolArn"] = pool
    stack = world.cloudformation.create_stack("TenantAcme", {logical_id: properties})
    assert stack.status == "CREATE_COMPLETE", stack.exchanges[-1].reason
    signed_in = world.sign_in(pool)
    assert set(world.answers(signed_in).values()) == {200}

    deleted = world.cloudformation.delete_stack("TenantAcme")
    assert deleted.status == "DELETE_COMPLETE"
    assert set(world.answers(world.sign_in(pool, "later")).values()) == {401}
    assert set(world.answers(signed_in).values()) == {401}


def test_make_release_gives_every_artifact_named_for_the_version_with_its_sum() -> None:
    """In this file, not beside the zip's own tests: make release rebuilds the construct library
    these tests synthesize with, and a file's tests run one after another."""
    made = subprocess.run(
        ["make", "--silent", "release"], cwd=ROOT, capture_output=True, text=True, check=False
    )
    assert made.returncode == 0, made.stdout + made.stderr
    version = authorizer_pools.__version__
    release = ROOT / "build" / "release" / version
    zip_name = f"cognito-authorizer-pools-{version}.zip"
    tarball = f"cognito-authorizer-pools-{version}.tgz"
    wheel = f"cognito_authorizer_pools-{version}-py3-none-any.whl"
    assert sorted(path.name for path in release.iterdir()) == sorted(
        ["SHA256SUMS", "template.yaml", "LICENSE", "README.md", zip_name, tarball, wheel]
    )
    application = load_template(release / "template.yaml")["Metadata"][
        "AWS::ServerlessRepo::Application"
    ]
    assert (release / application["LicenseUrl"]).is_file()
    assert (release / application["ReadmeUrl"]).is_file()
    for line in (release / "SHA256SUMS").read_text().splitlines():
        digest, name = line.split("  ")
        assert hashlib.sha256((release / name).read_bytes()).hexdigest() == digest, name
    template = load_template(release / "template.yaml")
    assert template["Resources"]["Function"]["Properties"]["CodeUri"] == zip_name
    code = (release / zip_name).read_bytes()
    with tarfile.open(release / tarball) as package:
        shipped = package.extractfile("package/assets/function.zip")
        assert shipped is not None
        assert shipped.read() == code
        manifest = package.extractfile("package/package.json")
        assert manifest is not None
        assert json.loads(manifest.read())["version"] == version
        assert "package/assets/template.json" in package.getnames()
        assert "package/LICENSE" in package.getnames()
    with zipfile.ZipFile(release / wheel) as binding:
        metadata = next(n for n in binding.namelist() if n.endswith(".dist-info/METADATA"))
        assert f"\nVersion: {version}\n" in binding.read(metadata).decode()
