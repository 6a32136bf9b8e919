"""The Makefile fails early: targets that need an account name every missing parameter at
once, exit 2, and build nothing (no .venv, no build/), whatever the machine has; and
``make deploy`` sends only the parameters given, so an update keeps the stack's others."""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


# A stand-in for the AWS CLI: it records each call; a stack exists once it was deployed.
FAKE_AWS = """#!/usr/bin/env python3
import json, pathlib, sys
here = pathlib.Path(__file__).parent
arguments = sys.argv[1:]
with open(here / "calls.jsonl", "a") as log:
    log.write(json.dumps(arguments) + "\\n")
if arguments[:2] == ["cloudformation", "describe-stacks"]:
    if not (here / "deployed").exists():
        sys.stderr.write("An error occurred (ValidationError): Stack with id x does not exist")
        sys.exit(255)
elif arguments[:2] == ["cloudformation", "deploy"]:
    (here / "deployed").write_text("yes")
"""


def make(
    tmp_path: Path, *arguments: str, aws: Path | None = None
) -> subprocess.CompletedProcess[str]:
    """``make`` in a bare copy of the Makefile (and the deploy script), so that nothing it
    might build goes unseen."""
    shutil.copy(ROOT / "Makefile", tmp_path / "Makefile")
    (tmp_path / "scripts").mkdir(exist_ok=True)
    shutil.copy(ROOT / "scripts" / "deploy.py", tmp_path / "scripts" / "deploy.py")
    environment = {
        name: value
        for name, value in os.environ.items()
        if name not in {"S3_BUCKET", "REST_API_ID", "AUTHORIZER_ID", "STAGE_NAMES", "ACCOUNT_ID"}
    }
    if aws is not None:
        environment["AWS"] = str(aws)
    return subprocess.run(
        ["make", "--no-print-directory", *arguments],
        cwd=tmp_path,
        env=environment,
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )


@pytest.fixture
def fake_aws(tmp_path: Path) -> Path:
    cli = tmp_path / "cli" / "aws"
    cli.parent.mkdir()
    cli.write_text(FAKE_AWS)
    cli.chmod(0o755)
    return cli


def calls(fake_aws: Path) -> list[list[str]]:
    log = fake_aws.parent / "calls.jsonl"
    return [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []


@pytest.mark.skipif(shutil.which("make") is None, reason="no make on this machine")
@pytest.mark.parametrize(
    ("target", "named"),
    [
        (
            "deploy",
            "make deploy needs: S3_BUCKET REST_API_ID AUTHORIZER_ID STAGE_NAMES "
            "PROTECTED_USER_POOL_ARNS for a first deployment of shared-authorizer-pools",
        ),
        ("smoke", "make smoke needs: ACCOUNT_ID S3_BUCKET"),
    ],
)
def test_a_target_missing_its_parameters_names_them_all_and_builds_nothing(
    tmp_path: Path, fake_aws: Path, target: str, named: str
) -> None:
    finished = make(tmp_path, target, aws=fake_aws)

    assert finished.returncode == 2
    assert finished.stdout.startswith(named)
    assert sorted(path.name for path in tmp_path.iterdir()) == ["Makefile", "cli", "scripts"]


def deploy(fake_aws: Path, **variables: str) -> subprocess.CompletedProcess[str]:
    """scripts/deploy.py run, as make deploy runs it once the package is built."""
    environment = {
        key: value
        for key, value in os.environ.items()
        if key not in {"REST_API_ID", "AUTHORIZER_ID", "STAGE_NAMES", "LOG_LEVEL"}
    }
    return subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "deploy.py"), "run"],
        env={**environment, "AWS": str(fake_aws), "S3_BUCKET": "code", **variables},
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )


def overrides(fake_aws: Path) -> list[list[str]]:
    """The --parameter-overrides of each ``cloudformation deploy``, in order."""
    found = []
    for call in calls(fake_aws):
        if call[:2] == ["cloudformation", "deploy"]:
            given = (
                call[call.index("--parameter-overrides") + 1 :]
                if "--parameter-overrides" in (call)
                else []
            )
            found.append(given)
    return found


def test_an_update_sends_only_the_parameters_given_so_the_stack_keeps_the_others(
    fake_aws: Path,
) -> None:
    first = deploy(
        fake_aws,
        REST_API_ID="a1b2c3d4e5",
        AUTHORIZER_ID="x9y8z7",
        STAGE_NAMES="dev,prod",
        ALLOWED_USER_POOL_ARNS="arn:aws:cognito-idp:*:111122223333:userpool/eu-west-1_*",
        PROTECTED_USER_POOL_ARNS="arn:aws:cognito-idp:eu-west-1:111122223333:userpool/eu-west-1_Op",
    )
    assert first.returncode == 0, first.stdout + first.stderr
    update = deploy(fake_aws, LOG_LEVEL="DEBUG", ALARM_TOPIC_ARN="arn:aws:sns:eu-west-1:1:ops")

    assert update.returncode == 0, update.stdout + update.stderr
    initial, updated = overrides(fake_aws)
    assert "AllowedUserPoolArns=arn:aws:cognito-idp:*:111122223333:userpool/eu-west-1_*" in initial
    assert updated == ["AlarmTopicArn=arn:aws:sns:eu-west-1:1:ops", "LogLevel=DEBUG"]
    assert "keeping the stack's RestApiId, AuthorizerId, StageNames, AllowedUserPoolArns" in (
        update.stdout
    )


def test_a_first_deployment_without_a_protected_pool_needs_none_said_explicitly(
    fake_aws: Path,
) -> None:
    ids = {"REST_API_ID": "a1b2c3d4e5", "AUTHORIZER_ID": "x9y8z7", "STAGE_NAMES": "dev,prod"}
    refused = deploy(fake_aws, **ids)
    assert refused.returncode == 2
    assert "PROTECTED_USER_POOL_ARNS=none to deploy without one" in refused.stdout
    assert overrides(fake_aws) == []

    explicit = deploy(fake_aws, **ids, PROTECTED_USER_POOL_ARNS="none", RESERVED_CONCURRENCY="50")

    assert explicit.returncode == 0, explicit.stdout + explicit.stderr
    (sent,) = overrides(fake_aws)
    assert "ProtectedUserPoolArns=" in sent
    assert "ReservedConcurrency=50" in sent


@pytest.mark.skipif(shutil.which("make") is None, reason="no make on this machine")
def test_help_lists_every_target_a_user_runs_and_every_deploy_variable(tmp_path: Path) -> None:
    listed = make(tmp_path, "help").stdout
    for target in (
        "demo",
        "test",
        "test-fast",
        "lint",
        "bench",
        "build",
        "cdk",
        "release",
        "deploy",
        "smoke",
        "clean",
        "help",
    ):
        assert f"make {target} " in listed
    for variable in ("ALARM_TOPIC_ARN", "REPAIR_SCHEDULE", "RESERVED_CONCURRENCY", "none"):
        assert variable in listed


def test_every_template_parameter_can_be_set_through_make_deploy() -> None:
    """A parameter make deploy cannot send keeps its default on a first deployment: the
    operator would have to leave make for the AWS CLI to set it."""
    spec = importlib.util.spec_from_file_location("deploy", ROOT / "scripts" / "deploy.py")
    assert spec is not None
    assert spec.loader is not None
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    template = (ROOT / "template.yaml").read_text()
    parameters = template.split("\nParameters:\n", 1)[1].split("\nConditions:\n", 1)[0]
    declared = {line.strip().rstrip(":") for line in parameters.splitlines() if line[2:3].isalpha()}
    assert declared == set(script.PARAMETERS)
    makefile = (ROOT / "Makefile").read_text()
    for variable in script.PARAMETERS.values():
        assert variable in makefile.split("DEPLOY_VARIABLES :=", 1)[1].split("export", 1)[0]


def test_the_template_goes_to_cloudformation_through_the_code_bucket(fake_aws: Path) -> None:
    """CloudFormation takes at most 51,200 bytes of template inline and template.yaml is larger:
    without --s3-bucket the CLI refuses to deploy it."""
    assert (ROOT / "template.yaml").stat().st_size > 51_200
    first = deploy(
        fake_aws,
        REST_API_ID="a1b2c3d4e5",
        AUTHORIZER_ID="x9y8z7",
        STAGE_NAMES="dev",
        PROTECTED_USER_POOL_ARNS="none",
    )
    assert first.returncode == 0, first.stdout + first.stderr
    (deployed,) = [call for call in calls(fake_aws) if call[:2] == ["cloudformation", "deploy"]]
    assert deployed[deployed.index("--s3-bucket") + 1] == "code"
