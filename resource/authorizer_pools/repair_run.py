"""The repair run: a pass with no tenant event, after someone else's change or on a schedule.

template.yaml's EventBridge rules invoke the function through its ``repair`` alias with:

- the schedule's event (``RepairSchedule``), the backstop;
- CloudFormation's status change of the shared API's own stack (``SharedApiStackName``): its
  update may have reset the authorizer's list or redeployed a stage;
- CloudTrail's record of an API Gateway call that changed the authorizer or a stage of this API,
  made by anyone but the function (needs a trail logging management events).

Only those rules may invoke the alias (its resource-based policy), while tenant pipelines hold
``lambda:InvokeFunction`` on the unqualified function only. A repair event that did not come
through the alias is anyone's, and is refused (``ForgedRequests``): each run costs the account's
API Gateway calls.

The scheduled run first retires the owners CloudFormation no longer holds (``departures``: a
registration whose Delete never reached the registrar), a sample each run, so that the pass
takes their pools off; and claims, for its first live owner's stack, any live pool registered
before claims existed (``authority.claim_unclaimed``).

The run waits for a pass that began after it arrived, so after the change that sent it: it
makes that pass itself, verifying what every stage's deployment serves (GetExport), when the
lease is free; otherwise the worker's next pass is it. A burst of events (one stack update makes
several calls) thus costs one or two passes, not one each, and the function's own calls never
trigger it (the rule leaves them out), so it cannot feed itself.
"""

from __future__ import annotations

import logging
import uuid
from typing import Any

from . import authority, convergence, departures, metrics, timing
from .errors import ResourceError
from .registry import Registry
from .settings import Settings
from .timing import Deadline
from .worker import Pending

logger = logging.getLogger("authorizer_pools")


# template.yaml's RepairAlias.
REPAIR_ALIAS = "repair"
# Longer than any worker holds the lease before handing over, and far shorter than the schedule
# repeats: a run that waited this long for someone else's pass leaves the rest to the next one.
_PATIENCE_SECONDS = 300.0


def _look_after_owners(registry: Registry, deadline: Deadline) -> None:
    """Before the scheduled pass: retire owners CloudFormation no longer holds, and claim live
    pools registered before claims existed. One read of the live owners serves both (a pool
    retired meanwhile is claimed for the stack that registered it, which is still its stack);
    neither failing stops the pass."""
    try:
        owners = registry.state().owners
    except ResourceError as error:
        logger.warning({"step": "owners", "outcome": "unreadable", "reason": str(error)})
        return
    try:
        departures.retire_departed(registry, owners, deadline)
    except ResourceError as error:
        logger.warning({"step": "departures", "outcome": "failed", "reason": str(error)})
    try:
        claimed = authority.claim_unclaimed(registry, owners)
    except ResourceError as error:
        logger.warning({"step": "claims", "outcome": "failed", "reason": str(error)})
    else:
        if claimed:
            logger.info({"step": "claims", "outcome": "claimed", "pools": claimed})


def run(trigger: str, context: Any) -> dict[str, object]:
    if not str(context.invoked_function_arn).endswith(f":{REPAIR_ALIAS}"):
        logger.warning(
            {
                "step": "repair",
                "trigger": trigger,
                "outcome": "refused",
                "mismatch": f"not invoked through the {REPAIR_ALIAS} alias, as its rules are",
            }
        )
        metrics.emit({metrics.FORGED_REQUESTS: 1})
        return {"outcome": "refused"}
    settings = Settings.load(context.invoked_function_arn)
    lambda_deadline = Deadline.from_context(context)
    deadline = Deadline(min(lambda_deadline.at, timing.clock.monotonic() + _PATIENCE_SECONDS))
    registry = Registry(
        settings.require_registry_table(),
        settings.rest_api_id,
        settings.authorizer_id,
        deadline,
    )
    if trigger == "schedule":
        _look_after_owners(registry, deadline)
    # A token of this invocation's own: Lambda may deliver one event twice, at once.
    holder = f"repair-{context.aws_request_id}/{uuid.uuid4().hex}"
    report = convergence.repair_pass(
        registry,
        stages=settings.stage_names,
        holder=holder,
        deadline=deadline,
        bounds=settings.bounds,
    )
    if isinstance(report, Pending):
        summary: dict[str, object] = {
            "step": "repair",
            "trigger": trigger,
            "outcome": "pending",
            "reason": f"no pass finished within {_PATIENCE_SECONDS:.0f} s; the next run repairs",
        }
        logger.warning(summary)
        return summary
    if report is None:
        summary = {"step": "repair", "trigger": trigger, "outcome": "converged-by-another-pass"}
        logger.info(summary)
        return summary
    summary = {
        "step": "repair",
        "trigger": trigger,
        "outcome": "converged",
        "added": len(report.added),
        "removed": len(report.removed),
        "repaired_pools": report.repaired_pools,
        "republished_stages": report.republished_stages,
        "adopted_stages": report.adopted_stages,
        "canary_stages": report.canary_stages,
        "deployments": len(report.deployments),
    }
    logger.log(
        logging.WARNING if report.repaired_pools or report.republished_stages else logging.INFO,
        summary,
    )
    return summary
