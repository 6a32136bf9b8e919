"""CloudWatch metrics in Embedded Metric Format: one JSON line on stdout per batch.

Lambda sends what the function prints to its log group; CloudWatch turns a line with an
``_aws.CloudWatchMetrics`` block into metrics (CloudWatch user guide, "Specification: Embedded
metric format"). No PutMetricData call, no permission, no dependency.
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Mapping

NAMESPACE = "CognitoAuthorizerPools"
# Every metric carries the registrar (the function's name): template.yaml's alarms select it.
DIMENSION = "Registrar"

ANSWERS = "Answers"  # with Status: SUCCESS or FAILED
SECONDS_TO_LIVE = "SecondsToLive"
POOLS_REPAIRED = "PoolsRepaired"  # added back, or removed, after drift
STAGES_REPUBLISHED = "StagesRepublished"  # served another list than the one they were given
LAST_POOL_KEPT = "LastPoolKept"  # a pool with no owner kept on the authorizer
DEPLOYMENTS = "Deployments"
# Pools a pass removed that no registration's deletion asked for (the registry edited by hand).
UNREQUESTED_REMOVALS = "UnrequestedRemovals"
# Events that were not CloudFormation's (or the function's own continuations): refused, no answer.
FORGED_REQUESTS = "ForgedRequests"
# Continuations Lambda accepted: requests waiting past one invocation (API Gateway kept busy).
CONTINUATIONS = "Continuations"
_UNITS = {SECONDS_TO_LIVE: "Seconds"}


def registrar() -> str:
    return os.environ.get("AWS_LAMBDA_FUNCTION_NAME", "local")


def emit(values: Mapping[str, float], **dimensions: str) -> None:
    """One EMF line with ``values``, dimensioned by the registrar and ``dimensions``."""
    if not values:
        return
    names = {DIMENSION: registrar(), **dimensions}
    line = {
        "_aws": {
            "Timestamp": int(time.time() * 1000),
            "CloudWatchMetrics": [
                {
                    "Namespace": NAMESPACE,
                    "Dimensions": [list(names)],
                    "Metrics": [
                        {"Name": name, "Unit": _UNITS.get(name, "Count")} for name in values
                    ],
                }
            ],
        },
        **names,
        **values,
    }
    sys.stdout.write(json.dumps(line) + "\n")
    sys.stdout.flush()
