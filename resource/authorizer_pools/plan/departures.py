"""Owners CloudFormation no longer holds: when a registration has left its stack for good."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class HeldRecord:
    """CloudFormation's record of an owner's resource (DescribeStackResource) and its stack's
    phase (DescribeStacks), read as one snapshot: the resource read before and after the stack,
    ``steady`` when both reads agree (nothing moved in between)."""

    exists: bool
    resource_status: str = ""
    physical_id: str | None = None
    stack_status: str = ""
    steady: bool = True


# Resource statuses after which CloudFormation never sends this resource another request: it
# left the stack, deleted or retained (``DeletionPolicy: Retain``; the registration would
# otherwise outlive the stack that declared it). A new Create reaches the registrar afresh.
_LEFT_THE_STACK = ("DELETE_COMPLETE", "DELETE_SKIPPED")


def departure(record: HeldRecord, physical_id: str) -> str | None:
    """Why CloudFormation, settled, no longer holds the registration whose physical id is
    ``physical_id``: its owner should go. None while it holds it, or may still: anything in
    progress, a read that moved under us, or a stack stopped in a failed phase (a rollback still
    to come, ``ContinueUpdateRollback`` or ``RollbackStack``, may bring the registration back)."""
    if not record.exists:
        return "CloudFormation knows no such stack or resource"
    if not record.steady:
        return None
    if record.stack_status == "DELETE_COMPLETE":
        return (
            f"CloudFormation shows the stack DELETE_COMPLETE, its resource {record.resource_status}"
        )
    if record.resource_status in _LEFT_THE_STACK:
        return f"CloudFormation shows its resource {record.resource_status}"
    settled = record.stack_status.endswith("_COMPLETE") and not record.resource_status.endswith(
        "_IN_PROGRESS"
    )
    if not settled or record.physical_id == physical_id:
        return None
    return (
        f"CloudFormation shows its resource {record.resource_status} on another physical id, "
        f"the stack {record.stack_status}"
    )
