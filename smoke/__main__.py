"""``python -m smoke --account-id ID [--bucket B] [--region R] [--dry-run]`` (``make smoke``).

Refuses to run unless given the account to use, and stops before creating anything when the
credentials are another account's. Exit status: 0 passed, 1 a step or the cleanup failed,
2 refused.
"""

from __future__ import annotations

import argparse
import os
import re
import secrets
import signal
import sys
import time
from collections.abc import Sequence

import boto3

from smoke.account import FUNCTION_ZIP, TEMPLATES, BotoAccount, CloudFormationStacks
from smoke.dry_run import DryRunAccount
from smoke.scenario import Smoke

REFUSED = 2


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m smoke", description=__doc__)
    parser.add_argument("--account-id", required=True, help="the 12-digit account to use")
    parser.add_argument("--bucket", help="S3 bucket for the function's code (not for --dry-run)")
    parser.add_argument("--region", help="default: the standard AWS configuration's region")
    parser.add_argument("--prefix", help="name prefix of everything made (default: unique)")
    parser.add_argument("--dry-run", action="store_true", help="print each call, make none")
    args = parser.parse_args(argv)
    problem = _refusal(args)
    if problem:
        print(f"smoke: refused: {problem}", file=sys.stderr)
        return REFUSED
    region = _region(args)
    prefix = args.prefix or time.strftime(
        "smoke-%Y%m%d-%H%M%S-", time.gmtime()
    ) + secrets.token_hex(2)
    if args.dry_run:
        account: DryRunAccount | BotoAccount = DryRunAccount(
            account_id=args.account_id, region=region, bucket=args.bucket or "<bucket>"
        )
    else:
        account = BotoAccount(
            CloudFormationStacks(region=region, bucket=args.bucket, prefix=prefix),
            region=region,
        )
    # A cancelled run (CI, `timeout`) still deletes what it made and prints its report.
    signal.signal(signal.SIGTERM, _interrupt)
    report = Smoke(account, expected_account_id=args.account_id, prefix=prefix).run()
    print("\n".join(report.lines()))
    if report.steps and not report.steps[0].ok:
        return REFUSED
    return 0 if report.passed else 1


def _refusal(args: argparse.Namespace) -> str | None:
    if not re.fullmatch(r"\d{12}", args.account_id):
        return f"--account-id must be a 12-digit account id, not {args.account_id!r}"
    if not _region(args):
        return "no region: set AWS_REGION (or AWS_DEFAULT_REGION) or give --region"
    if args.dry_run:
        return None
    if not args.bucket:
        return "--bucket names the S3 bucket the function's code is uploaded to"
    for built in (FUNCTION_ZIP, TEMPLATES["registrar"]):
        if not built.is_file():
            return f"{built} is missing: run it through `make smoke`, which builds it first"
    return None


def _interrupt(signum: int, _frame: object) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def _region(args: argparse.Namespace) -> str:
    # Lambda and CLI v2 set AWS_REGION; boto3 and CLI v1 read AWS_DEFAULT_REGION (and the
    # profile's region): either one names the Region.
    return str(
        args.region
        or os.environ.get("AWS_REGION")
        or os.environ.get("AWS_DEFAULT_REGION")
        or boto3.session.Session().region_name
        or ""
    )


if __name__ == "__main__":
    sys.exit(main())
