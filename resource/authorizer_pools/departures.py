"""Owners whose registration CloudFormation no longer holds, retired by the scheduled run.

An owner stays live until its registration's Delete reaches the registrar. A Delete may never
reach it: a stack's resource pointed at a proxy that forwarded the Create here and answered the
Delete itself, or a Delete was lost. So each scheduled run reads CloudFormation's record of a
sample of live owners (``DescribeStackResource``; ``DescribeStacks`` when the resource shows
another physical id) and retires an owner when CloudFormation, settled, shows its registration
gone (``plan.departure``). The pass that follows removes the pool if no live owner is left, and
counts it in ``UnrequestedRemovals``: a retirement is the registrar's own finding, never a
request.

An owner CloudFormation cannot be asked about stays (the next run asks again). Retiring is
conditioned on the owner still being live through the request that made it so: a new
registration of the same resource meanwhile is never retired.
"""

from __future__ import annotations

import logging
import random

from . import caller, plan
from .arns import UserPoolArn
from .registration import Registration
from .registry import OwnerRecord, Registry
from .timing import Deadline

logger = logging.getLogger("authorizer_pools")

# Owners read per scheduled run: at the default schedule (every 5 minutes), 240 an hour, so
# 1,000 tenants are each looked at about every four hours, at 20 CloudFormation reads a run.
SAMPLE = 20
_rng = random.Random()


def retire_departed(registry: Registry, deadline: Deadline) -> list[OwnerRecord]:
    """Retire the sampled live owners CloudFormation no longer holds; the ones retired."""
    records = [r for found in registry.state().owners.values() for r in found]
    retired = []
    for record in _rng.sample(records, min(SAMPLE, len(records))):
        physical_id = Registration(
            registry.rest_api_id, registry.authorizer_id, UserPoolArn.parse(record.arn)
        ).physical_id
        try:
            reason = plan.departure(_held(record, physical_id, deadline), physical_id)
        except caller.Unverifiable as error:
            logger.warning(
                {
                    "step": "departures",
                    "outcome": "not-asked",
                    "owner": str(record.owner),
                    "reason": str(error),
                }
            )
            continue
        if reason is None:
            continue
        if registry.owners.retire(record.arn, record.owner, record.request_id):
            retired.append(record)
            logger.warning(
                {
                    "step": "departures",
                    "outcome": "owner-retired",
                    "pool": record.arn,
                    "owner": str(record.owner),
                    "reason": reason,
                    "remedy": "its registration's Delete never reached the registrar: find "
                    "which ServiceToken its stack's resource used",
                }
            )
    return retired


def _held(record: OwnerRecord, physical_id: str, deadline: Deadline) -> plan.HeldRecord:
    """CloudFormation's record of the owner's resource; its stack's phase too when the
    resource settled on another physical id (only then does the phase decide)."""
    owner = record.owner
    resource = caller.describe_resource(owner.stack_id, owner.logical_id, deadline)
    if resource is None:
        return plan.HeldRecord(exists=False)
    status, shown = resource.status, resource.physical_id
    if shown == physical_id or status.endswith("_IN_PROGRESS") or status == "DELETE_COMPLETE":
        return plan.HeldRecord(True, status, shown)
    stack = caller.describe_stack(owner.stack_id, deadline)
    return plan.HeldRecord(True, status, shown, stack.status or None)
