"""``make deploy``'s parameters: checked before anything is built, and only those given are sent.

``aws cloudformation deploy`` keeps a stack's existing value of every parameter it is not given
(AWS CLI reference, ``cloudformation deploy``, ``--parameter-overrides``: "If you're updating a
stack and you don't specify a parameter, the command uses the stack's existing value"). So an
update sends only the variables the operator set: leaving one out never widens
``AllowedUserPoolArns`` to the whole account or drops ``ProtectedUserPoolArns``. The value
``none`` sets a parameter empty.

A first deployment needs the shared API's ids, its stages and ``PROTECTED_USER_POOL_ARNS``
(the operators' pool; ``none`` only when the operator says so explicitly: without a protected
pool a tenant could register the operators' pool and its Delete take it off).

    python scripts/deploy.py check    # exit 2 naming every missing variable
    python scripts/deploy.py run      # aws cloudformation package, then deploy

Variables (the environment, as ``make`` passes them): ``STACK_NAME``, ``S3_BUCKET``,
``TEMPLATE`` (the template to package), ``AWS`` (the CLI), and one per parameter below.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Mapping, Sequence

# Template parameter → make variable.
PARAMETERS = {
    "RestApiId": "REST_API_ID",
    "AuthorizerId": "AUTHORIZER_ID",
    "StageNames": "STAGE_NAMES",
    "AllowedUserPoolArns": "ALLOWED_USER_POOL_ARNS",
    "ProtectedUserPoolArns": "PROTECTED_USER_POOL_ARNS",
    "SharedUserPoolArns": "SHARED_USER_POOL_ARNS",
    "SharedApiStackName": "SHARED_API_STACK_NAME",
    "AlarmTopicArn": "ALARM_TOPIC_ARN",
    "RepairSchedule": "REPAIR_SCHEDULE",
    "ReservedConcurrency": "RESERVED_CONCURRENCY",
    "LogLevel": "LOG_LEVEL",
    "LogRetentionInDays": "LOG_RETENTION_IN_DAYS",
}
FIRST_DEPLOYMENT_NEEDS = ("REST_API_ID", "AUTHORIZER_ID", "STAGE_NAMES", "PROTECTED_USER_POOL_ARNS")
EMPTY = "none"
EXAMPLE = (
    "make deploy S3_BUCKET=my-bucket REST_API_ID=a1b2c3 AUTHORIZER_ID=d4e5f6 "
    "STAGE_NAMES=dev,prod PROTECTED_USER_POOL_ARNS=<the operators' pool ARN>"
)


def overrides(environ: Mapping[str, str]) -> list[str]:
    """``Key=value`` for each parameter whose variable is set (``none``: empty)."""
    given = []
    for parameter, variable in PARAMETERS.items():
        value = environ.get(variable, "")
        if value:
            given.append(f"{parameter}={'' if value == EMPTY else value}")
    return given


def missing(environ: Mapping[str, str], *, first: bool) -> list[str]:
    names = ["S3_BUCKET"] if not environ.get("S3_BUCKET") else []
    if first:
        names += [name for name in FIRST_DEPLOYMENT_NEEDS if not environ.get(name)]
    return names


def stack_exists(aws: str, stack: str) -> bool:
    found = subprocess.run(
        [aws, "cloudformation", "describe-stacks", "--stack-name", stack],
        capture_output=True,
        text=True,
        check=False,
    )
    if found.returncode == 0:
        return True
    if "does not exist" in found.stderr:
        return False
    raise SystemExit(f"make deploy: cannot tell whether stack {stack} exists: {found.stderr}")


def main(argv: Sequence[str], environ: Mapping[str, str]) -> int:
    command = argv[1] if len(argv) > 1 else ""
    aws = environ.get("AWS", "aws")
    stack = environ.get("STACK_NAME", "shared-authorizer-pools")
    if shutil.which(aws) is None:
        print(f"make deploy needs the AWS CLI ({aws} not found; set AWS=...)")
        return 2
    first = not stack_exists(aws, stack)
    absent = missing(environ, first=first)
    if absent:
        when = f"a first deployment of {stack}" if first else "an update"
        print(f"make deploy needs: {' '.join(absent)} for {when} (e.g. {EXAMPLE})")
        if first and "PROTECTED_USER_POOL_ARNS" in absent:
            print(
                "  PROTECTED_USER_POOL_ARNS: the shared API's operators' pool, which no tenant "
                f"may register; say PROTECTED_USER_POOL_ARNS={EMPTY} to deploy without one"
            )
        return 2
    if command == "check":
        return 0
    if command != "run":
        print("usage: deploy.py check|run")
        return 2
    template = environ.get("TEMPLATE", "build/template.yaml")
    packaged = os.path.join(os.path.dirname(template) or ".", "packaged.yaml")
    subprocess.run(
        [aws, "cloudformation", "package", "--template-file", template,
         "--s3-bucket", environ["S3_BUCKET"], "--s3-prefix", stack,
         "--output-template-file", packaged],
        check=True,
    )  # fmt: skip
    given = overrides(environ)
    # --s3-bucket: the packaged template is over the 51,200 bytes CloudFormation takes inline,
    # so the CLI uploads it to the code bucket first (it refuses a larger template without one).
    command_line = [
        aws, "cloudformation", "deploy", "--template-file", packaged, "--stack-name", stack,
        "--s3-bucket", environ["S3_BUCKET"], "--s3-prefix", stack,
        "--capabilities", "CAPABILITY_IAM", "CAPABILITY_AUTO_EXPAND",
        "--no-fail-on-empty-changeset",
    ]  # fmt: skip
    if given:
        command_line += ["--parameter-overrides", *given]
    kept = [p for p, v in PARAMETERS.items() if not environ.get(v)]
    if not first and kept:
        print(f"make deploy: keeping the stack's {', '.join(kept)}")
    return subprocess.run(command_line, check=False).returncode


if __name__ == "__main__":
    sys.exit(main(sys.argv, os.environ))
