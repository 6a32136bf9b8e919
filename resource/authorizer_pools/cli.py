"""The operator CLI: ``python -m authorizer_pools [target] list|reconcile [--dry-run]``.

Works wherever boto3 does: a real account (standard credentials and region) or the local AWS of
``make demo`` (``AWS_ENDPOINT_URL``). The target is the registrar stack (``--stack``, whose
parameters and outputs name the API, the authorizer, the stages and the registry table) or those
named one by one.

What ``reconcile`` prints, and its exit status, come from what it sees *after* its repair (a
second survey), never from what it meant to do: 0 when nothing drifted; 1 when drift was found
and every drift a repair can fix is gone (what no repair can fix, such as a canary or a pool API
Gateway refused, is listed); 2 when the command could not run, or the repair left drift it
should have fixed (API Gateway too busy, say): run it again.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TextIO

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from . import survey, timing
from .errors import ResourceError
from .plan import Bounds, PoolState, StageState
from .registry import Registry
from .settings import pool_patterns, split_list
from .survey import Survey

DRIFT_FOUND = 1
FAILED = 2
# Time the CLI allows itself, like a function's deadline.
BUDGET_SECONDS = 600.0

# What a repair does about each drift (dry run, done), and the notes for drift none can fix.
_REPAIRS = {
    PoolState.MISSING: ("would add back", "added back"),
    PoolState.STALE: ("would remove", "removed"),
}
_NOTES = {
    PoolState.KEPT: "cannot remove",
    PoolState.REFUSED: "refused by API Gateway",
    PoolState.OUT_OF_BOUNDS: "outside AllowedUserPoolArns or protected: never added",
}
_STAGE_REPAIRS = {StageState.BEHIND: ("would publish", "published")}
_STAGE_NOTES = {
    StageState.CANARY: "its canary keeps another list: promote or delete it",
    StageState.UNKNOWN: "its export does not show the authorizer",
}


@dataclass(frozen=True)
class Target:
    rest_api_id: str
    authorizer_id: str
    table: str
    stage_names: tuple[str, ...]
    account_id: str
    # What a pass may change: the registrar's AllowedUserPoolArns and ProtectedUserPoolArns.
    bounds: Bounds


def main(argv: Sequence[str] | None = None, out: TextIO = sys.stdout) -> int:
    args = _parser().parse_args(argv)
    try:
        return _run(args, out)
    except (ClientError, BotoCoreError, ResourceError, survey.Busy) as error:
        print(f"error: {error}", file=sys.stderr)
        return FAILED


def _run(args: argparse.Namespace, out: TextIO) -> int:
    target = _target(args)
    deadline = timing.Deadline(timing.clock.monotonic() + BUDGET_SECONDS)
    registry = Registry(target.table, target.rest_api_id, target.authorizer_id, deadline)

    def surveyed() -> Survey:
        return survey.survey(
            registry,
            target.stage_names,
            account_id=target.account_id,
            deadline=deadline,
            bounds=target.bounds,
        )

    found = surveyed()
    print(
        f"authorizer {target.authorizer_id} of REST API {target.rest_api_id} "
        f"(registry {target.table}; stages {', '.join(target.stage_names) or 'none'})",
        file=out,
    )
    if args.command == "list" or not found.drift:
        _table(found, out)
        if args.command == "list":
            return 0
        print(
            "no drift: the authorizer lists exactly the unmanaged and registered pools, "
            "and every stage serves that list",
            file=out,
        )
        return 0
    if args.dry_run:
        _table(found, out, dry_run=True)
        print("drift found (dry run: nothing changed)", file=out)
        return DRIFT_FOUND
    survey.repair(registry, target.stage_names, deadline, target.bounds)
    after = surveyed()
    left = _table(found, out, after=after)
    if left:
        print(f"drift found; the repair left {left} of it: run reconcile again", file=out)
        return FAILED
    print("drift found; repaired (as a second look shows)", file=out)
    return DRIFT_FOUND


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m authorizer_pools",
        description="List the shared authorizer's pools and their owners; find and repair drift "
        "between the ownership registry and the authorizer.",
    )
    parser.add_argument(
        "--stack",
        help="the stack deployed from template.yaml; its parameters and outputs name the rest",
    )
    parser.add_argument("--rest-api-id")
    parser.add_argument("--authorizer-id")
    parser.add_argument("--table", help="the registry table (the stack's RegistryTableName)")
    parser.add_argument("--stage-names", help="comma-separated stages to publish repairs to")
    parser.add_argument(
        "--allowed-user-pool-arns",
        help="the registrar's AllowedUserPoolArns (default: the stack's, or this account's pools)",
    )
    parser.add_argument(
        "--protected-user-pool-arns",
        help="the registrar's ProtectedUserPoolArns, never added nor removed (default: the "
        "stack's; without --stack, name them, or a repair may take them off)",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("list", help="the authorizer's pools, each with its owners")
    repair = commands.add_parser(
        "reconcile", help="show drift and repair it (never removes an unmanaged pool)"
    )
    repair.add_argument("--dry-run", action="store_true", help="show drift, change nothing")
    return parser


def _target(args: argparse.Namespace) -> Target:
    known: dict[str, str] = {}
    if args.stack:
        stack = boto3.client("cloudformation").describe_stacks(StackName=args.stack)["Stacks"][0]
        known.update(
            {p["ParameterKey"]: p.get("ParameterValue", "") for p in stack.get("Parameters", [])}
        )
        known.update({o["OutputKey"]: o.get("OutputValue", "") for o in stack.get("Outputs", [])})
        owner = stack["StackId"]
    else:
        owner = boto3.client("sts").get_caller_identity()["Arn"]
    partition, account_id = owner.split(":")[1], owner.split(":")[4]
    rest_api_id = args.rest_api_id or known.get("RestApiId")
    authorizer_id = args.authorizer_id or known.get("AuthorizerId")
    table = args.table or known.get("RegistryTableName")
    missing = [
        flag
        for flag, value in (
            ("--rest-api-id", rest_api_id),
            ("--authorizer-id", authorizer_id),
            ("--table", table),
        )
        if not value
    ]
    if missing:
        raise ResourceError(f"name the target: {', '.join(missing)} (or --stack)")
    stages = split_list(args.stage_names or known.get("StageNames", ""))
    allowed = args.allowed_user_pool_arns or known.get("AllowedUserPoolArns", "")
    protected = args.protected_user_pool_arns or known.get("ProtectedUserPoolArns", "")
    bounds = Bounds(
        pool_patterns(split_list(allowed), partition, account_id),
        frozenset(split_list(protected)),
    )
    return Target(str(rest_api_id), str(authorizer_id), str(table), stages, account_id, bounds)


def _table(
    found: Survey,
    out: TextIO,
    *,
    dry_run: bool = False,
    after: Survey | None = None,
) -> int:
    """Print each pool and stage as ``found``; with ``dry_run`` what a repair would do, with
    ``after`` what it did, as the survey after it shows. How many drifts a repair should have
    fixed and did not."""
    pools, left_pools = _pool_rows(found, dry_run, after)
    stages, left_stages = _stage_rows(found, dry_run, after)
    _print_rows(pools, out)
    _print_rows(stages, out)
    return left_pools + left_stages


def _pool_rows(
    found: Survey, dry_run: bool, after: Survey | None
) -> tuple[list[tuple[str, ...]], int]:
    left = 0
    now = {pool.arn: pool.state for pool in after.pools} if after else {}
    rows: list[tuple[str, ...]] = [("STATE", "OWNERS", "POOL", "OWNED BY / ACTION")]
    for pool in found.pools:
        if pool.state is PoolState.UNMANAGED:
            note = "unmanaged: no registration named it, never removed"
        elif pool.state is PoolState.PROTECTED:
            note = "protected: never added nor removed"
        else:
            note = ", ".join(str(record.owner) for record in pool.owners) or "(no owner left)"
        if pool.status.note:
            note += f" ({pool.status.note})"
        if pool.state in _NOTES and (dry_run or after):
            note += f"  → {_NOTES[pool.state]}"
        elif pool.state in _REPAIRS and (dry_run or after):
            still = now.get(pool.arn)
            fixed = still is None or not still.is_drift
            left += after is not None and not fixed
            would, done = _REPAIRS[pool.state]
            note += f"  → {would if dry_run else done if fixed else f'NOT repaired: {still}'}"
        if pool.cognito_pool_gone:
            note += "  (the Cognito pool no longer exists)"
        count = str(len(pool.owners)) if pool.owners else "-"
        rows.append((pool.state.value, count, pool.arn, note))
    return rows, left


def _stage_rows(
    found: Survey, dry_run: bool, after: Survey | None
) -> tuple[list[tuple[str, ...]], int]:
    left = 0
    now = {stage.name: stage.state for stage in after.stages} if after else {}
    rows: list[tuple[str, ...]] = [("STAGE", "STATE", "ACTION")]
    for stage in found.stages:
        action = ""
        if stage.state in _STAGE_NOTES and (dry_run or after):
            action = f"→ {_STAGE_NOTES[stage.state]}"
        elif stage.state in _STAGE_REPAIRS and (dry_run or after):
            still = now.get(stage.name)
            fixed = still is None or not still.is_drift
            left += after is not None and not fixed
            would, done = _STAGE_REPAIRS[stage.state]
            action = f"→ {would if dry_run else done if fixed else f'NOT published: {still}'}"
        rows.append((stage.name, stage.state.value, action))
    return rows, left


def _print_rows(rows: Sequence[tuple[str, ...]], out: TextIO) -> None:
    widths = [max(len(row[column]) for row in rows) for column in range(len(rows[0]) - 1)]
    for row in rows:
        cells = [cell.ljust(width) for cell, width in zip(row[:-1], widths, strict=True)]
        print("  ".join([*cells, row[-1]]).rstrip(), file=out)
