"""The operator CLI: ``python -m authorizer_pools [target] list|reconcile [--dry-run]``.

Works wherever boto3 does: a real account (standard credentials and region) or the local AWS of
``make demo`` (``AWS_ENDPOINT_URL``). The target is the registrar stack (``--stack``, whose
parameters and outputs name the API, the authorizer, the stages and the registry table) or those
named one by one.

Exit status: 0 when the registry and the authorizer agree, 1 when drift was found (repaired,
unless ``--dry-run``), 2 when the command could not run.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TextIO

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from . import reconcile, timing
from .errors import ResourceError
from .plan import PoolState
from .registry import Registry
from .settings import pool_patterns, split_list

DRIFT_FOUND = 1
FAILED = 2
# Time the CLI allows itself, like a function's deadline.
BUDGET_SECONDS = 600.0

_ACTIONS = {
    PoolState.MISSING: ("would add back", "added back"),
    PoolState.STALE: ("would remove", "removed"),
    PoolState.KEPT: ("cannot remove", "cannot remove"),
    PoolState.REFUSED: ("refused by API Gateway", "refused by API Gateway"),
}
_STAGE_ACTIONS = {
    reconcile.StageState.BEHIND: ("would publish", "published"),
    reconcile.StageState.CANARY: (
        "its canary keeps another list: promote or delete it",
        "its canary keeps another list: promote or delete it",
    ),
    reconcile.StageState.UNKNOWN: (
        "its export does not show the authorizer",
        "its export does not show the authorizer",
    ),
}


@dataclass(frozen=True)
class Target:
    rest_api_id: str
    authorizer_id: str
    table: str
    stage_names: tuple[str, ...]
    account_id: str
    # The pools the registrar may name (its AllowedUserPoolArns): the ones worth looking up.
    pool_patterns: tuple[str, ...]


def main(argv: Sequence[str] | None = None, out: TextIO = sys.stdout) -> int:
    args = _parser().parse_args(argv)
    try:
        return _run(args, out)
    except (ClientError, BotoCoreError, ResourceError, reconcile.Busy) as error:
        print(f"error: {error}", file=sys.stderr)
        return FAILED


def _run(args: argparse.Namespace, out: TextIO) -> int:
    target = _target(args)
    deadline = timing.Deadline(timing.clock.monotonic() + BUDGET_SECONDS)
    registry = Registry(target.table, target.rest_api_id, target.authorizer_id, deadline)
    found = reconcile.survey(
        registry,
        target.stage_names,
        account_id=target.account_id,
        deadline=deadline,
        pool_patterns=target.pool_patterns,
    )
    print(
        f"authorizer {target.authorizer_id} of REST API {target.rest_api_id} "
        f"(registry {target.table}; stages {', '.join(target.stage_names) or 'none'})",
        file=out,
    )
    if args.command == "list":
        _table(found, out, repaired=None)
        return 0
    repaired = not args.dry_run and found.drift
    if repaired:
        reconcile.repair(registry, target.stage_names, deadline)
    _table(found, out, repaired=repaired)
    if not found.drift:
        print(
            "no drift: the authorizer lists exactly the unmanaged and registered pools, "
            "and every stage serves that list",
            file=out,
        )
        return 0
    print("drift found" + ("; repaired" if repaired else " (dry run: nothing changed)"), file=out)
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
    patterns = pool_patterns(
        split_list(known.get("AllowedUserPoolArns", "")), partition, account_id
    )
    return Target(str(rest_api_id), str(authorizer_id), str(table), stages, account_id, patterns)


def _table(found: reconcile.Survey, out: TextIO, *, repaired: bool | None) -> None:
    rows = [("STATE", "OWNERS", "POOL", "OWNED BY / ACTION")]
    for pool in found.pools:
        owners = ", ".join(str(record.owner) for record in pool.owners)
        if pool.state is PoolState.UNMANAGED:
            note = "unmanaged: no registration named it, never removed"
        else:
            note = owners or "(no owner left)"
        if pool.status.note:
            note += f" ({pool.status.note})"
        if pool.state in _ACTIONS and repaired is not None:
            note += f"  → {_ACTIONS[pool.state][1 if repaired else 0]}"
        if pool.cognito_pool_gone:
            note += "  (the Cognito pool no longer exists)"
        count = str(len(pool.owners)) if pool.owners else "-"
        rows.append((pool.state.value, count, pool.arn, note))
    _print_rows(rows, out)
    stage_rows = [("STAGE", "STATE", "ACTION")]
    for stage in found.stages:
        action = ""
        if stage.state in _STAGE_ACTIONS and repaired is not None:
            action = "→ " + _STAGE_ACTIONS[stage.state][1 if repaired else 0]
        stage_rows.append((stage.name, stage.state.value, action))
    _print_rows(stage_rows, out)


def _print_rows(rows: Sequence[tuple[str, ...]], out: TextIO) -> None:
    widths = [max(len(row[column]) for row in rows) for column in range(len(rows[0]) - 1)]
    for row in rows:
        cells = [cell.ljust(width) for cell, width in zip(row[:-1], widths, strict=True)]
        print("  ".join([*cells, row[-1]]).rstrip(), file=out)
