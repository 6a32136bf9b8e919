"""Owners whose registration CloudFormation no longer holds, retired by the scheduled run.

An owner stays live until its registration's Delete reaches the registrar. A Delete may never
reach it: a stack's resource pointed at a proxy that forwarded the Create here and answered the
Delete itself, or a Delete was lost. So each scheduled run reads CloudFormation's record of a
sample of live owners (``DescribeStackResource`` on both sides of ``DescribeStacks``) and
retires an owner when CloudFormation, settled, shows its registration gone (``plan.departure``):
the stack or resource deleted, the resource retained out of its stack (``DeletionPolicy:
Retain``), or settled on another physical id. The pass that follows removes the pool if no
live owner is left, and counts it in ``UnrequestedRemovals``: a retirement is the registrar's
own finding, never a request.

An owner CloudFormation cannot be asked about stays (the next run asks again), and so does one
whose stack stopped in a failed phase a rollback may still leave. Retiring is
conditioned on the owner still being live through the request that made it so: a new
registration of the same resource meanwhile is never retired.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Mapping, Sequence

from . import caller, plan, timing
from .arns import UserPoolArn
from .registration import Registration
from .registry import OwnerRecord, Registry
from .timing import Deadline

logger = logging.getLogger("authorizer_pools")

# Owners read per scheduled run: at the default schedule (every 5 minutes), 240 an hour, so
# 1,000 tenants are each looked at about every four hours, at 60 CloudFormation reads a run.
SAMPLE = 20
# The share of a scheduled run departures may take: the pass that repairs AWS comes after it,
# and a throttled CloudFormation must not eat that pass's time.
BUDGET_SECONDS = 20.0
_rng = random.Random()


def retire_departed(
    registry: Registry, owners: Mapping[str, Sequence[OwnerRecord]], deadline: Deadline
) -> list[OwnerRecord]:
    """Retire the sampled owners (``owners``: the live ones, as the registry holds them) that
    CloudFormation no longer holds; the ones retired. Stops at
    the first owner CloudFormation cannot be asked about (throttled, unreachable): the rest wait
    for the next run, and the run's pass keeps its time."""
    budget = Deadline(min(deadline.at, timing.clock.monotonic() + BUDGET_SECONDS))
    records = [r for found in owners.values() for r in found]
    retired = []
    for record in _rng.sample(records, min(SAMPLE, len(records))):
        try:
            physical_id = Registration(
                registry.rest_api_id, registry.authorizer_id, UserPoolArn.parse(record.arn)
            ).physical_id
        except ValueError as error:
            # Not a registration the registrar made (an owner item written by hand): nothing
            # CloudFormation holds can be compared with it, and the other owners still are.
            _log_not_asked(record, f"the owner's pool is not a user pool ARN: {error}")
            continue
        try:
            reason = plan.departure(_held(record, deadline=budget), physical_id)
        except caller.Unverifiable as error:
            _log_not_asked(record, str(error))
            break
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


def _log_not_asked(record: OwnerRecord, reason: str) -> None:
    logger.warning(
        {"step": "departures", "outcome": "not-asked", "owner": str(record.owner), "reason": reason}
    )


def _held(record: OwnerRecord, *, deadline: Deadline) -> plan.HeldRecord:
    """CloudFormation's record of the owner's resource and its stack's phase as one snapshot:
    the resource read on both sides of the stack, so a rollback or update that moved between the
    reads is seen (``steady`` false) rather than mixed into a verdict."""
    owner = record.owner
    before = caller.describe_resource(owner.stack_id, owner.logical_id, deadline)
    if before is None:
        return plan.HeldRecord(exists=False)
    stack = caller.describe_stack(owner.stack_id, deadline)
    after = caller.describe_resource(owner.stack_id, owner.logical_id, deadline)
    return plan.HeldRecord(
        exists=True,
        resource_status=before.status,
        physical_id=before.physical_id,
        stack_status=stack.status,
        steady=after == before,
    )
