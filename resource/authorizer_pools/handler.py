"""Lambda entry point: ``authorizer_pools.handler.handler``. Wiring only.

crhelper (behind ``crhelper_adapter``) speaks CloudFormation's protocol; ``answering`` decides
each request's answer, or hands it over to a continuation of itself. The helper is built before
anything that could fail, and everything imported after it is guarded: even a broken package
or configuration answers FAILED at once instead of leaving the stack waiting an hour.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any

from .crhelper_adapter import FAILED, Answer, serve, setup_logging

Work = Callable[[Mapping[str, Any], Any], Answer | None]

try:
    from . import answering, logs, scheduled

    logs.install_redaction()
    _work: Work = answering.run
    _scheduled: Callable[[Any], dict[str, object]] | None = scheduled.run
    _is_scheduled = scheduled.is_scheduled
except Exception:  # the whole story to the log; the tenant sees a short reason
    logging.getLogger("authorizer_pools").exception("the registrar failed to start")

    # Not crhelper's ``init_failure``: its FAILED answer carries an empty physical id, which
    # CloudFormation rejects as invalid. This one keeps the request's own id.
    def _work(event: Mapping[str, Any], context: Any) -> Answer | None:
        request_id = getattr(context, "aws_request_id", "?")
        return Answer(
            FAILED,
            str(event.get("PhysicalResourceId") or f"failed-to-start_{request_id}"),
            f"the registrar failed to start (request {request_id}: details in the function's "
            "log); fix its deployment, then retry",
        )

    _scheduled = None

    def _is_scheduled(event: Mapping[str, Any]) -> bool:
        return "RequestType" not in event


def handler(event: dict[str, Any], context: Any) -> dict[str, object] | None:
    if _is_scheduled(event):
        setup_logging(context.aws_request_id)
        if _scheduled is None:
            raise RuntimeError("the registrar failed to start: see the log above")
        return _scheduled(context)
    serve(event, context, _work)
    return None
