"""localaws.moto_gaps: the one list of what moto lacks stays true to what the package does."""

from __future__ import annotations

import importlib
import importlib.metadata
import json
import subprocess
import sys
from pathlib import Path

from localaws.moto_gaps import GAPS, MOTO_CHECKED, replaced

ROOT = Path(__file__).resolve().parents[2]

# Run in a fresh interpreter: this session's LocalAws has installed the replacements already.
_DIFF = """
import inspect, json
import moto.apigateway.models, moto.apigateway.responses
import moto.cloudformation.models, moto.dynamodb.models
MODULES = (moto.apigateway.models, moto.apigateway.responses,
           moto.cloudformation.models, moto.dynamodb.models)
def attributes():
    seen = {}
    for module in MODULES:
        for _, owner in inspect.getmembers(module, inspect.isclass):
            if not owner.__module__.startswith("moto."):
                continue
            for name, value in vars(owner).items():
                seen[f"{owner.__module__}.{owner.__qualname__}.{name}"] = value
    return seen
before = attributes()
from localaws import moto_gaps
moto_gaps.install()
after = attributes()
changed = {}
for key, value in after.items():
    if before.get(key) is not value:
        function = value.fget if isinstance(value, property) else value
        changed[key] = function.__module__
print(json.dumps(changed))
"""


def test_the_gaps_were_checked_against_the_moto_installed() -> None:
    assert importlib.metadata.version("moto") == MOTO_CHECKED, (
        "moto changed: re-check each gap in localaws/moto_gaps.py against it, drop those moto "
        "now covers, then update MOTO_CHECKED"
    )


def test_install_replaces_exactly_the_moto_methods_the_gaps_list_with_their_modules() -> None:
    found = subprocess.run(
        [sys.executable, "-c", _DIFF], cwd=ROOT, capture_output=True, text=True, check=True
    )
    changed: dict[str, str] = json.loads(found.stdout)
    assert set(changed) == replaced()
    for gap in GAPS:
        for target in gap.replaces:
            assert changed[target] in gap.answered_by, (target, changed[target])


def test_every_gap_names_modules_that_exist_and_a_source() -> None:
    for gap in GAPS:
        assert gap.aws, gap
        assert gap.source, gap
        assert gap.moto, gap
        for name in gap.answered_by:
            assert importlib.import_module(name).__doc__, name
