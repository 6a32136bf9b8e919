"""The scheduled run: repair without events.

template.yaml's schedule invokes the function with EventBridge's scheduled event, through the
function's ``repair`` alias: only EventBridge's rule may invoke that alias (its resource-based
policy), while tenant pipelines hold ``lambda:InvokeFunction`` on the unqualified function
only. A scheduled event that did not come through the alias is anyone's, and is refused
(``ForgedRequests``): each run costs the account's API Gateway calls.

The run is the same convergence a tenant's request runs, verifying what every stage's deployment
serves (GetExport), for the authorizer the registrar was deployed for. When nothing drifted it
makes no deployment and a few reads. When another worker holds the lease it does nothing: that
worker converges too.
"""

from __future__ import annotations

import logging
from typing import Any

from . import convergence, metrics
from .registry import Registry
from .settings import Settings
from .timing import Deadline

logger = logging.getLogger("authorizer_pools")


# template.yaml's RepairAlias.
REPAIR_ALIAS = "repair"


def run(context: Any) -> dict[str, object]:
    if not str(context.invoked_function_arn).endswith(f":{REPAIR_ALIAS}"):
        logger.warning(
            {
                "step": "scheduled",
                "outcome": "refused",
                "mismatch": f"not invoked through the {REPAIR_ALIAS} alias, as the schedule is",
            }
        )
        metrics.emit({metrics.FORGED_REQUESTS: 1})
        return {"outcome": "refused"}
    settings = Settings.load(context.invoked_function_arn)
    deadline = Deadline.from_context(context)
    registry = Registry(
        settings.require_registry_table(),
        settings.rest_api_id,
        settings.authorizer_id,
        deadline,
    )
    holder = f"scheduled-{context.aws_request_id}/{context.aws_request_id}"
    report = convergence.work_if_free(
        registry, holder, deadline, stages=settings.stage_names, bounds=settings.bounds, verify=True
    )
    if report is None:
        logger.info({"step": "scheduled", "outcome": "another-worker-holds-the-lease"})
        return {"outcome": "busy"}
    summary: dict[str, object] = {
        "step": "scheduled",
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
