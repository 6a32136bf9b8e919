"""Lambda entry point: ``authorizer_pools.handler.handler``. Wiring only.

crhelper speaks CloudFormation's protocol (answering to the ResponseURL, a timer that answers
before Lambda's deadline); ``lifecycle`` does the work. The helper is built before anything that
could fail, so even a broken configuration gets a FAILED answer instead of an hour's wait.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from typing import Any

from crhelper import CfnResource

_LEVEL = os.environ.get("LOG_LEVEL", "INFO").upper()

helper = CfnResource(
    json_logging=True,
    # crhelper's default, DEBUG, logs the whole event with its pre-signed ResponseURL.
    log_level=_LEVEL if _LEVEL in logging.getLevelNamesMapping() else "INFO",
    boto_level="WARNING",
    # crhelper sleeps 120 s before answering a Delete (to let logs flush); a tenant stack's
    # deletion must not wait for that.
    sleep_on_delete=0,
)

from . import lifecycle, logs  # noqa: E402  (after the helper: see the module docstring)
from .errors import ResourceError  # noqa: E402
from .registration import Registration  # noqa: E402

logs.install_redaction()


def _answering(
    work: Callable[[Any, Any], Registration | None],
) -> Callable[[Any, Any], str | None]:
    """Answer with the registration's physical id and attributes; turn every failure into a
    reason CloudFormation can show, with the physical id a half-done Create must be rolled back
    with."""

    def run(event: Any, context: Any) -> str | None:
        try:
            registration = work(event, context)
        except ResourceError as error:
            if error.physical_id:
                helper.PhysicalResourceId = error.physical_id
            raise
        except Exception as error:
            logging.getLogger(__name__).exception("unexpected error")
            raise ResourceError(
                f"internal error {type(error).__name__}: {error} "
                f"(see the function's log, request {getattr(context, 'aws_request_id', '?')})"
            ) from error
        if registration is None:
            return None  # crhelper answers with the event's physical id
        helper.Data.update(registration.attributes)
        return registration.physical_id

    return run


helper.create(_answering(lifecycle.create))
helper.update(_answering(lifecycle.update))
helper.delete(_answering(lifecycle.delete))


def handler(event: dict[str, Any], context: Any) -> None:
    helper(event, context)
