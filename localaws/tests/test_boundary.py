"""localaws stands alone: it imports nothing of the product, the demo, the bench or the tests,
so that what it knows of the product is only what it is given as parameters."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1]
OUTSIDE = ("authorizer_pools", "demo", "bench", "smoke", "tests", "conftest", "template_model")


def test_the_local_aws_imports_nothing_of_the_project_it_serves() -> None:
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        if "tests" in path.relative_to(PACKAGE).parts:
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = []
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = [node.module]
            elif isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            found += [
                f"{path.relative_to(PACKAGE)}: {name}"
                for name in names
                if name.split(".")[0] in OUTSIDE
            ]
    assert found == []
