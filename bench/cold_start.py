"""Cold start and size: the handler's import against importing boto3 and crhelper alone, and the
built zip.

With an interpreter that has Powertools for AWS Lambda (Python) installed beside boto3 and
crhelper, it also measures what Powertools' Logger and Metrics, and its Tracer, would add to the
import (docs/design.md, "Observability without Powertools"):

    python -m venv /tmp/pt && /tmp/pt/bin/pip install 'aws-lambda-powertools[tracer]==3.37.0' \
        boto3 crhelper==2.0.12
    .venv/bin/python -m bench.cold_start /tmp/pt/bin/python
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RUNS = 9
TIMER = "import time; started = time.perf_counter(); {}; print(time.perf_counter() - started)"


def import_seconds(statement: str, python: str = sys.executable) -> float:
    """Median over fresh interpreters, importing from resource/ as Lambda's runtime would."""
    environment = {
        **os.environ,
        "AWS_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "cold",
        "AWS_SECRET_ACCESS_KEY": "start",
        "PYTHONDONTWRITEBYTECODE": "",
        "POWERTOOLS_SERVICE_NAME": "registrar",
        "POWERTOOLS_METRICS_NAMESPACE": "CognitoAuthorizerPools",
    }
    samples = []
    for _ in range(RUNS):
        finished = subprocess.run(
            [python, "-c", TIMER.format(statement)],
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


POWERTOOLS = {
    "Logger and Metrics": (
        "from aws_lambda_powertools import Logger, Metrics; Logger(); Metrics()"
    ),
    "Logger, Metrics and Tracer": (
        "from aws_lambda_powertools import Logger, Metrics, Tracer; Logger(); Metrics(); Tracer()"
    ),
}


def powertools_report(python: str) -> str:
    """What Powertools would add to the handler's cold import, in one interpreter's runs."""
    baseline = import_seconds("import boto3, crhelper", python)
    lines = [f"powertools: import boto3+crhelper {baseline * 1000:.0f} ms"]
    for what, statement in POWERTOOLS.items():
        seconds = import_seconds(f"import boto3, crhelper; {statement}", python)
        lines.append(
            f"powertools: + {what} {(seconds - baseline) * 1000:+.0f} ms "
            f"(ratio {seconds / baseline:.2f}, median of {RUNS})"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    print(report())
    if len(sys.argv) > 1:
        print(powertools_report(sys.argv[1]))
