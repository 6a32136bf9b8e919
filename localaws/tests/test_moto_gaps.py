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
# Every loaded moto module is scanned, its functions and its classes' members, before and after
# a LocalAws starts (moto's own resets swap data, such as the instances_tracked lists: only
# what can be called, or a property, counts as a replacement).
_DIFF = """
import inspect, json, sys
from localaws.server import LocalAws
def behaviour():
    seen = {}
    for name, module in list(sys.modules.items()):
        if module is None or not (name == "moto" or name.startswith("moto.")):
            continue
        for key, value in list(vars(module).items()):
            seen[f"{name}.{key}"] = value
            if inspect.isclass(value) and value.__module__ == name:
                for attribute, member in list(vars(value).items()):
                    seen[f"{name}.{value.__qualname__}.{attribute}"] = member
    return {
        key: value for key, value in seen.items()
        if callable(value) or isinstance(value, (property, classmethod, staticmethod))
    }
before = behaviour()
with LocalAws():
    pass
after = behaviour()
changed = {}
for key, value in after.items():
    if key in before and before[key] is not value:
        function = value.fget if isinstance(value, property) else value
        changed[key] = getattr(function, "__module__", "")
print(json.dumps(changed))
"""


def test_the_gaps_were_checked_against_the_moto_installed() -> None:
    assert importlib.metadata.version("moto") == MOTO_CHECKED, (
        "moto changed: re-check each gap in localaws/moto_gaps.py against it, drop those moto "
        "now covers, then update MOTO_CHECKED"
    )


def test_the_local_aws_replaces_exactly_the_moto_methods_the_gaps_list_with_their_modules() -> None:
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
