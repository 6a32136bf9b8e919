"""The Makefile fails early: targets that need an account name every missing parameter at
once, exit 2, and build nothing (no .venv, no build/), whatever the machine has."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def make(tmp_path: Path, *arguments: str) -> subprocess.CompletedProcess[str]:
    """``make`` in a bare copy of the Makefile, so that nothing it might build goes unseen."""
    shutil.copy(ROOT / "Makefile", tmp_path / "Makefile")
    environment = {
        name: value
        for name, value in os.environ.items()
        if name not in {"S3_BUCKET", "REST_API_ID", "AUTHORIZER_ID", "STAGE_NAMES", "ACCOUNT_ID"}
    }
    return subprocess.run(
        ["make", "--no-print-directory", *arguments],
        cwd=tmp_path,
        env=environment,
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )


@pytest.mark.skipif(shutil.which("make") is None, reason="no make on this machine")
@pytest.mark.parametrize(
    ("target", "named"),
    [
        ("deploy", "make deploy needs: S3_BUCKET REST_API_ID AUTHORIZER_ID STAGE_NAMES"),
        ("smoke", "make smoke needs: ACCOUNT_ID S3_BUCKET"),
    ],
)
def test_a_target_missing_its_parameters_names_them_all_and_builds_nothing(
    tmp_path: Path, target: str, named: str
) -> None:
    finished = make(tmp_path, target)

    assert finished.returncode == 2
    assert finished.stdout.startswith(named)
    assert sorted(path.name for path in tmp_path.iterdir()) == ["Makefile"]


@pytest.mark.skipif(shutil.which("make") is None, reason="no make on this machine")
def test_help_lists_every_target_a_user_runs(tmp_path: Path) -> None:
    listed = make(tmp_path, "help").stdout
    for target in ("demo", "test", "bench", "build", "deploy", "smoke", "help"):
        assert f"make {target} " in listed
