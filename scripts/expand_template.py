"""Write template.yaml with every ``Fn::ForEach`` expanded, for scanners that do not expand it.

checkov reads CloudFormation and SAM, not the ``AWS::LanguageExtensions`` transform: on
template.yaml as written it never sees the per-stage policies ``Fn::ForEach`` makes. cfn-lint
expands the loop as CloudFormation does (its language-extensions transform, with placeholder
stage names); everything else stays as written, ``Metadata`` (and checkov's skips, each with its
reason) included.

    python scripts/expand_template.py template.yaml build/template.expanded.json
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from cfnlint.decode import decode  # type: ignore[import-untyped]
from cfnlint.template import Template  # type: ignore[import-untyped]
from cfnlint.template.transforms.transform import Transform  # type: ignore[import-untyped]

LANGUAGE_EXTENSIONS = "AWS::LanguageExtensions"


def expanded(path: Path) -> dict[str, Any]:
    document, problems = decode(str(path))
    if problems or document is None:
        raise SystemExit(f"{path}: {problems}")
    template = Template(str(path), document, ["us-east-1"])
    problems = Transform().transform(template)
    if problems:
        raise SystemExit(f"{path}: {problems}")
    result: dict[str, Any] = dict(template.template)
    declared = result.get("Transform", [])
    transforms = declared if isinstance(declared, list) else [declared]
    result["Transform"] = [name for name in transforms if name != LANGUAGE_EXTENSIONS]
    if any(str(name).startswith("Fn::ForEach") for name in result["Resources"]):
        raise SystemExit(f"{path}: Fn::ForEach left after expansion")
    return result


def main(argv: list[str]) -> int:
    source, target = Path(argv[0]), Path(argv[1])
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(json.dumps(expanded(source), indent=1, default=str) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
