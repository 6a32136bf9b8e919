"""The suite's own shape: helpers shared by several test modules live in tests/support, so that
no test module depends on another (and on which of its tests ran first)."""

from __future__ import annotations

import ast

import pytest
from template_model import ROOT

# The fast tier (make test-fast): no local AWS, seconds in all.
pytestmark = pytest.mark.fast


def test_no_test_module_imports_another() -> None:
    found = []
    for path in sorted((ROOT / "tests").glob("test_*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            names = []
            if isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            elif isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            found += [f"{path.name}: {name}" for name in names if name.startswith("test_")]
    assert found == []
