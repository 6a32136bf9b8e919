"""Lambda entry point: ``authorizer_pools.handler.handler``. Wiring only.

crhelper (behind ``crhelper_adapter``) speaks CloudFormation's protocol; ``answering`` decides
each request's answer, or that it gets none from this invocation. The helper is built before
anything that could fail, and everything imported after it is guarded: even a broken package
answers FAILED at once (to a ResponseURL that passes the check) instead of leaving the stack
waiting an hour.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from .answer import Reply, unrecorded_failure
from .crhelper_adapter import Work, serve, setup_logging
from .request import Request, repair_trigger

_work: Work
try:
    from . import answering, logs, repair_run
    from .invocation import Invocation
    from .timing import Deadline

    logs.install_redaction()

    def _answering(request: Request, context: Any) -> Reply | None:
        invocation = Invocation(
            context.aws_request_id, context.invoked_function_arn, Deadline.from_context(context)
        )
        return answering.run(request, invocation)

    _work = _answering
    _repair: Callable[[str, Any], dict[str, object]] | None = repair_run.run
except Exception:  # the whole story to the log; the tenant sees a short reason
    logging.getLogger("authorizer_pools").exception("the registrar failed to start")

    def _failed_to_start(request: Request, context: Any) -> Reply | None:
        reason = (
            f"the registrar failed to start (request {context.aws_request_id}: details in the "
            "function's log); fix its deployment, then retry"
        )
        return unrecorded_failure(request, str(context.invoked_function_arn), reason)

    _work = _failed_to_start
    _repair = None


def handler(event: dict[str, Any], context: Any) -> dict[str, object] | None:
    trigger = repair_trigger(event)
    if trigger is not None:
        setup_logging(context.aws_request_id)
        if _repair is None:
            raise RuntimeError("the registrar failed to start: see the log above")
        return _repair(trigger, context)
    serve(event, context, _work)
    return None
