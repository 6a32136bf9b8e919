"""The SAM CLI takes template.yaml as it is: `sam validate --lint` passes, and `sam build` makes
an artifact whose handler imports with crhelper beside it (no Docker, no AWS account).

The CLI runs from its own environment (.venv-sam, `make test` makes it), on a copy of the
template and the code folder, so nothing it writes lands in the working tree.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from template_model import ROOT, load_template

SAM = ROOT / ".venv-sam" / "bin" / "sam"
HANDLER = load_template()["Resources"]["Function"]["Properties"]["Handler"]


def run_sam(project: Path, *arguments: str) -> subprocess.CompletedProcess[str]:
    if not SAM.exists():
        pytest.fail(f"{SAM} is missing: `make test` makes it (make .venv-sam/.ready)")
    environment = {
        **os.environ,
        # sam build runs pip with the runtime's interpreter (python3.13), found on PATH.
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
        "SAM_CLI_TELEMETRY": "0",
        "AWS_DEFAULT_REGION": "us-east-1",
    }
    return subprocess.run(
        [str(SAM), *arguments],
        cwd=project,
        env=environment,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    copy = tmp_path_factory.mktemp("sam")
    shutil.copy(ROOT / "template.yaml", copy / "template.yaml")
    shutil.copytree(
        ROOT / "resource",
        copy / "resource",
        ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"),
    )
    return copy


def test_sam_validates_the_template_and_lints_it(project: Path) -> None:
    validated = run_sam(project, "validate", "--lint", "--template-file", "template.yaml")
    assert validated.returncode == 0, validated.stdout + validated.stderr
    assert "is a valid SAM Template" in validated.stdout


def test_sam_build_packages_the_handler_with_crhelper_beside_it(project: Path) -> None:
    built = run_sam(project, "build", "--template-file", "template.yaml", "--build-dir", "out")
    assert built.returncode == 0, built.stdout + built.stderr
    template = load_template(project / "out" / "template.yaml")
    artifact = project / "out" / template["Resources"]["Function"]["Properties"]["CodeUri"]
    module, attribute = HANDLER.rsplit(".", 1)
    # The artifact on its own, first on the path: crhelper must come from it, not from .venv.
    probe = (
        "import importlib, sys\n"
        f"sys.path.insert(0, {str(artifact)!r})\n"
        f"handler = getattr(importlib.import_module({module!r}), {attribute!r})\n"
        "import crhelper\n"
        "print(crhelper.__file__)\n"
    )
    imported = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=False
    )
    assert imported.returncode == 0, imported.stderr
    assert Path(imported.stdout.strip()).is_relative_to(artifact)
