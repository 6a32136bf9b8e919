"""Write template.yaml as the CDK construct library includes it (CfnInclude), as JSON.

Only metadata for other tools is left out: the console's parameter groups
(``AWS::CloudFormation::Interface``: the construct substitutes the parameters they group, and
cfn-lint would report every group naming a parameter the stack no longer has, W4001) and the
Serverless Application Repository's (``AWS::ServerlessRepo::Application``, whose LicenseUrl and
ReadmeUrl are files of this repository). Every resource, condition and output is the
template's own.

Usage: python scripts/cdk_template.py template.yaml cdk/assets/template.json
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from cfnlint.decode import decode  # type: ignore[import-untyped]

OTHER_TOOLS = ("AWS::CloudFormation::Interface", "AWS::ServerlessRepo::Application")


def main(source: Path, output: Path) -> None:
    template, problems = decode(str(source))
    if problems or template is None:
        raise SystemExit(f"{source}: {problems}")
    included = json.loads(json.dumps(template))  # plain dicts and strings, no line marks
    metadata = included.get("Metadata", {})
    for key in OTHER_TOOLS:
        metadata.pop(key, None)
    if not metadata:
        included.pop("Metadata", None)
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(included, indent=1, sort_keys=False) + "\n")


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]))
