"""Cold start and size: the handler's import against importing boto3 and crhelper alone, and the
built zip."""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RUNS = 9
TIMER = "import time; started = time.perf_counter(); {}; print(time.perf_counter() - started)"


def import_seconds(statement: str) -> float:
    """Median over fresh interpreters, importing from resource/ as Lambda's runtime would."""
    environment = {
        **os.environ,
        "AWS_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "cold",
        "AWS_SECRET_ACCESS_KEY": "start",
        "PYTHONDONTWRITEBYTECODE": "",
    }
    samples = []
    for _ in range(RUNS):
        finished = subprocess.run(
            [sys.executable, "-c", TIMER.format(statement)],
            cwd=ROOT / "resource",
            env=environment,
            capture_output=True,
            text=True,
            check=True,
        )
        samples.append(float(finished.stdout.strip().splitlines()[-1]))
    return statistics.median(samples)


def zip_size() -> int:
    subprocess.run(["make", "--silent", "build"], cwd=ROOT, check=True, capture_output=True)
    return (ROOT / "build" / "function.zip").stat().st_size


def report() -> str:
    baseline = import_seconds("import boto3, crhelper")
    handler = import_seconds("import authorizer_pools.handler")
    size = zip_size()
    return (
        f"cold start: import boto3+crhelper {baseline * 1000:.0f} ms, "
        f"import the handler {handler * 1000:.0f} ms, ratio {handler / baseline:.2f} "
        f"(median of {RUNS})\n"
        f"package: build/function.zip {size:,} bytes ({size / 1024:.1f} KiB)"
    )
