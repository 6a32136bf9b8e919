"""The deployment package `make build` makes: reproducible, small, and working as deployed."""

from __future__ import annotations

import hashlib
import subprocess
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import World, registrar_environment
from template_model import ROOT, load_template

from demo.world import REGISTRATION, registrar_cloudformation
from localaws.awslambda.runtime import FunctionConfig, invoke
from localaws.cloudformation.stacks import LambdaService

ZIP = ROOT / "build" / "function.zip"


@pytest.fixture(scope="module")
def built() -> Path:
    subprocess.run(["make", "--silent", "build"], cwd=ROOT, check=True, capture_output=True)
    return ZIP


def test_two_builds_give_the_same_bytes(built: Path) -> None:
    first = hashlib.sha256(built.read_bytes()).hexdigest()
    built.unlink()
    subprocess.run(["make", "--silent", "build"], cwd=ROOT, check=True, capture_output=True)
    assert hashlib.sha256(built.read_bytes()).hexdigest() == first


def test_the_zip_holds_the_function_and_crhelper_but_not_boto3(built: Path) -> None:
    names = zipfile.ZipFile(built).namelist()
    assert "authorizer_pools/handler.py" in names
    assert "crhelper/resource_helper.py" in names
    assert "crhelper-2.0.12.dist-info/LICENSE" in names
    assert not [name for name in names if name.startswith(("boto3/", "botocore/"))]
    assert not [name for name in names if "__pycache__" in name or name.endswith(".pyc")]
    # The operator CLI never runs in Lambda.
    assert "authorizer_pools/cli.py" not in names
    assert "authorizer_pools/survey.py" not in names


def test_the_zip_holds_the_function_and_crhelper_only(built: Path) -> None:
    # About 100 KB compressed (crhelper's share is 9 KB): a cold start reads and unpacks nothing
    # more. A vendored SDK or test code would take it past the bound.
    assert built.stat().st_size <= 128 * 1024


@pytest.fixture
def deployed_zip(
    built: Path, tmp_path: Path, world: World, aws_environment: dict[str, str]
) -> Iterator[LambdaService]:
    code = tmp_path / "task"
    zipfile.ZipFile(built).extractall(code)
    function = load_template()["Resources"]["Function"]["Properties"]
    config = FunctionConfig(
        code_dir=code,
        handler=function["Handler"],
        timeout=60,
        environment={**aws_environment, **registrar_environment(world.api)},
    )
    with LambdaService(config) as service:
        yield service


def test_the_zip_as_lambda_runs_it_registers_and_removes_a_pool(
    world: World, deployed_zip: LambdaService
) -> None:
    cloudformation = registrar_cloudformation(deployed_zip, world.receiver, service_timeout=90)
    pool = world.tenant_pool("acme")

    created = cloudformation.create_stack("tenant-acme", {REGISTRATION: world.registration(pool)})
    assert created.status == "CREATE_COMPLETE", created.exchanges[0].reason
    assert world.live_everywhere(pool)

    deleted = cloudformation.delete_stack("tenant-acme")
    assert deleted.status == "DELETE_COMPLETE"
    assert world.gone_everywhere(pool)


def test_in_the_zip_crhelper_is_the_vendored_copy(built: Path, tmp_path: Path) -> None:
    code = tmp_path / "task"
    zipfile.ZipFile(built).extractall(code)
    (code / "probe.py").write_text(
        "import crhelper\n\ndef handler(event, context):\n    return crhelper.__file__\n"
    )
    result = invoke(FunctionConfig(code_dir=code, handler="probe.handler", timeout=30), {})
    assert result.ok, result.logs
    assert Path(result.payload).resolve() == (code / "crhelper" / "__init__.py").resolve()
