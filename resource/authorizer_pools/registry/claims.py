"""Claims: which stack a pool belongs to, once a registration named it.

``claim#<pool arn>`` (in a partition of its own: the worker never reads it, and OperatorPolicy
cannot write it) holds the stack that registered the pool. CloudFormation lets a stack import a
pool another stack retained (``DeletionPolicy: Retain``), and then lists it as that stack's own:
the stack's resources alone cannot tell a tenant's move of its own pool from another stack
taking up the pool of a tenant that left. The claim can: it passes to another stack only while
a stack still registers the pool (``plan.claim_refusal``), and it is written in the same
transaction as the owner it comes with (``Registry.register``). It never expires: a pool's
users must not get back in a year after their tenant left. One small item per pool ever
registered, read by one GetItem per new registration; the owner written with it is marked
``claimed``, so that the scheduled run looks up only the claims of live pools without the mark
(registered before claims existed, or shared), never every pool ever claimed.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from .table import Partition


def claim_sk(arn: str) -> str:
    return f"claim#{arn}"


class Claims:
    def __init__(self, partition: Partition) -> None:
        self.partition = partition

    def holder(self, arn: str) -> str | None:
        """The stack id that holds the pool's claim; None when no registration named it."""
        found = self.partition.get(claim_sk(arn)).get("stack_id")
        return None if found is None else str(found)

    def take_action(self, arn: str, stack_id: str, *, from_stack: str | None) -> dict[str, Any]:
        """An Update action making ``stack_id`` the pool's holder, on condition that
        ``from_stack`` holds it now (None: nobody does). A registration writes it with its owner
        (``Registry.register``): one that fails before its owner is live never moves the
        claim."""
        values: dict[str, object] = {
            ":stack": stack_id,
            ":arn": arn,
            ":at": datetime.now(UTC).isoformat(timespec="seconds"),
        }
        if from_stack is None:
            condition = "attribute_not_exists(stack_id)"
        else:
            condition = "stack_id = :from"
            values[":from"] = from_stack
        return self.partition.update_action(
            claim_sk(arn),
            "SET stack_id = :stack, arn = :arn, claimed_at = :at",
            values,
            condition=condition,
        )

    def take(self, arn: str, stack_id: str, *, from_stack: str | None) -> bool:
        """:meth:`take_action` on its own; False when the claim moved meanwhile."""
        action = self.take_action(arn, stack_id, from_stack=from_stack)
        return self.partition.transact([action]) is None
