"""What the function printed in Embedded Metric Format, as CloudWatch would read it."""

from __future__ import annotations

import json


def emitted(logs: str) -> dict[str, float]:
    """Every metric value of the EMF lines in ``logs``, summed by name."""
    found: dict[str, float] = {}
    for text in logs.splitlines():
        try:
            line = json.loads(text)
        except ValueError:
            continue
        if not isinstance(line, dict):
            continue
        for block in line.get("_aws", {}).get("CloudWatchMetrics", []):
            for metric in block["Metrics"]:
                found[metric["Name"]] = found.get(metric["Name"], 0) + line[metric["Name"]]
    return found
