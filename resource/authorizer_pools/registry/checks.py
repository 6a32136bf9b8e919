"""Validation's cache: the last look at the authorizer and the stages, shared for a while.

API Gateway allows 10 control-plane calls per second per account. On launch day hundreds of
registrations would spend that on the same two reads and starve the worker, so one request
checks for everyone (``claim``) and the others reuse its answer for a short while.
"""

from __future__ import annotations

from dataclasses import dataclass

from . import codec
from .table import AUTHORIZER_SK, Partition


@dataclass(frozen=True)
class Check:
    """What was found, or the reason the API or the authorizer was refused."""

    at: float
    stage_names: tuple[str, ...]
    # Stages with a canary release on another deployment (registrations may not name them).
    canary_stages: tuple[str, ...] = ()
    problem: str | None = None
    # Another request is making this check until then (0: nobody).
    checking_until: float = 0.0


class Checks:
    def __init__(self, partition: Partition) -> None:
        self.partition = partition

    def last(self) -> Check:
        item = self.partition.get(AUTHORIZER_SK)
        return Check(
            at=int(item.get("checked_at", 0)) / 1000.0,
            stage_names=tuple(sorted(item.get("stage_list", ()))),
            canary_stages=tuple(sorted(item.get("canary_stages", ()))),
            problem=item.get("check_problem"),
            checking_until=int(item.get("checking_until", 0)) / 1000.0,
        )

    def claim(self, now: float, until: float) -> bool:
        return (
            self.partition.update(
                AUTHORIZER_SK,
                "SET checking_until = :until",
                {":until": codec.millis(until), ":now": codec.millis(now)},
                condition="attribute_not_exists(checking_until) OR checking_until < :now",
            )
            is not None
        )

    def record(self, check: Check) -> None:
        values: dict[str, object] = {":at": codec.millis(check.at)}
        sets = ["checked_at = :at"]
        removed = ["checking_until"]
        # DynamoDB has no empty sets: an empty list is the attribute's absence.
        for attribute, names in (
            ("stage_list", check.stage_names),
            ("canary_stages", check.canary_stages),
        ):
            if names:
                sets.append(f"{attribute} = :{attribute}")
                values[f":{attribute}"] = set(names)
            else:
                removed.append(attribute)
        if check.problem:
            sets.append("check_problem = :problem")
            values[":problem"] = check.problem
        else:
            removed.append("check_problem")
        self.partition.update(
            AUTHORIZER_SK, "SET " + ", ".join(sets) + " REMOVE " + ", ".join(removed), values
        )
