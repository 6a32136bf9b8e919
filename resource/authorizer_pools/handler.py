"""Lambda entry point: ``authorizer_pools.handler.handler``. Wiring only.

crhelper speaks CloudFormation's protocol (answering to the ResponseURL, a timer that answers
before Lambda's deadline); ``lifecycle`` does the work. The helper is built before anything that
could fail, so even a broken configuration gets a FAILED answer instead of an hour's wait.
"""

from __future__ import annotations

import contextlib
import logging
import os
import types
from collections.abc import Callable, Iterator
from typing import Any

import boto3
import crhelper.resource_helper
from crhelper import CfnResource, log_helper

_LEVEL = os.environ.get("LOG_LEVEL", "INFO").upper()
LOG_LEVEL = _LEVEL if _LEVEL in logging.getLevelNamesMapping() else "INFO"


class _ClientOnFirstUse:
    """A boto3 client made the first time it is used."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self._arguments = (args, kwargs)
        self._client: Any = None

    def __getattr__(self, name: str) -> Any:
        if self._client is None:
            args, kwargs = self._arguments
            self._client = boto3.client(*args, **kwargs)
        return getattr(self._client, name)


@contextlib.contextmanager
def _clients_on_first_use() -> Iterator[None]:
    """crhelper makes lambda, events and logs clients when it is built, which costs about as
    much as importing boto3 itself on every cold start; it uses them only to poll, which most
    requests never do. While it is built, its ``boto3.client`` makes them on first use."""
    module: Any = crhelper.resource_helper
    real = module.boto3
    module.boto3 = types.SimpleNamespace(client=_ClientOnFirstUse)
    try:
        yield
    finally:
        module.boto3 = real


with _clients_on_first_use():
    helper = CfnResource(
        json_logging=True,
        # crhelper's default, DEBUG, logs the whole event with its pre-signed ResponseURL.
        log_level=LOG_LEVEL,
        boto_level="WARNING",
        # crhelper sleeps 120 s before answering a Delete (to let logs flush); a tenant stack's
        # deletion must not wait for that.
        sleep_on_delete=0,
        # When a request must go on past this invocation, poll every minute (the least
        # EventBridge allows).
        polling_interval=1,
    )

from . import lifecycle, logs, metrics, reasons, scheduled, timing  # noqa: E402  (after the helper)
from .convergence import NotYetLive  # noqa: E402
from .errors import ResourceError  # noqa: E402
from .registration import Registration  # noqa: E402

logs.install_redaction()

# A request that cannot finish within one invocation (API Gateway busy for longer than Lambda
# allows) is not answered yet: crhelper re-invokes the function every minute from an
# EventBridge rule, each poll trying again for up to POLL_SECONDS, until the change is live or
# the resource's ServiceTimeout (CloudFormation's patience, 3,600 s at most) draws near.
POLL_SECONDS = 45.0
STARTED = "CrHelperStartedAt"  # kept in crhelper's Data, which travels from poll to poll
_GIVE_UP_BEFORE_SERVICE_TIMEOUT = 150.0
_DEFAULT_SERVICE_TIMEOUT = 3600.0
Work = Callable[[Any, Any], Registration | None]


def _answering(work: Work) -> Callable[[Any, Any], str | None]:
    """Answer with the registration's physical id and attributes; turn every failure into a
    reason CloudFormation can show, with the physical id a half-done Create must be rolled back
    with; and hand a request that must go on over to crhelper's polling."""

    def run(event: Any, context: Any) -> str | None:
        polling = "CrHelperPoll" in event
        started = timing.clock.monotonic()
        try:
            if polling:
                _give_up_near_the_service_timeout(event)
                context = _Limited(context, POLL_SECONDS)
            registration = work(event, context)
        except NotYetLive as pending:
            if not polling:
                helper.Data[STARTED] = timing.clock.time()
                _enable_polling(event["RequestType"])
            return None if polling else pending.physical_id
        except ResourceError as error:
            helper.Data.pop(STARTED, None)
            metrics.emit({metrics.ANSWERS: 1}, Status="FAILED")
            if error.physical_id:
                helper.PhysicalResourceId = error.physical_id
            raise _told(error, str(error), event, context) from error
        except Exception as error:
            helper.Data.pop(STARTED, None)
            metrics.emit({metrics.ANSWERS: 1}, Status="FAILED")
            logging.getLogger(__name__).exception("unexpected error")
            raise _told(error, "internal error", event, context) from error
        helper.Data.pop(STARTED, None)
        metrics.emit({metrics.ANSWERS: 1}, Status="SUCCESS")
        waited = timing.clock.monotonic() - started
        if polling:
            waited = timing.clock.time() - float(event.get("CrHelperData", {}).get(STARTED, 0.0))
        metrics.emit({metrics.SECONDS_TO_LIVE: round(waited, 3)})
        if registration is None:
            # A Delete. crhelper answers with the event's physical id, except after polling,
            # where a poll says it is done by returning one.
            return str(event["PhysicalResourceId"]) if polling else None
        helper.Data.update(registration.attributes)
        return registration.physical_id

    return run


def _told(error: Exception, reason: str, event: Any, context: Any) -> ResourceError:
    """The FAILED reason the tenant sees (``reasons``); the whole story goes to the log."""
    logs.logger.error({"step": "answer", "outcome": "FAILED", "reason": str(error)})
    properties = [event.get("ResourceProperties") or {}, event.get("OldResourceProperties") or {}]
    own = [str(p.get("UserPoolArn", "")) for p in properties]
    physical = Registration.from_physical_id(str(Registration.physical_id_of(event) or ""))
    if physical is not None:
        own.append(str(physical.user_pool_arn))
    request_id = str(getattr(context, "aws_request_id", "?"))
    return ResourceError(reasons.for_tenant(reason, own=own, request_id=request_id))


def _give_up_near_the_service_timeout(event: Any) -> None:
    started = float(event.get("CrHelperData", {}).get(STARTED, timing.clock.time()))
    properties = event.get("ResourceProperties") or {}
    try:
        patience = float(properties.get("ServiceTimeout", _DEFAULT_SERVICE_TIMEOUT))
    except (TypeError, ValueError):
        patience = _DEFAULT_SERVICE_TIMEOUT
    if timing.clock.time() - started > patience - _GIVE_UP_BEFORE_SERVICE_TIMEOUT:
        raise ResourceError(
            "the change is recorded but API Gateway stayed too busy to publish it within the "
            "ServiceTimeout; `reconcile` finishes it",
            physical_id=Registration.physical_id_of(event),
        )


class _Limited:
    """The Lambda context, with less time left: a poll ends before the next one begins."""

    def __init__(self, context: Any, seconds: float) -> None:
        self._context = context
        self._seconds = seconds

    def get_remaining_time_in_millis(self) -> int:
        return min(int(self._context.get_remaining_time_in_millis()), int(self._seconds * 1000))

    def __getattr__(self, name: str) -> Any:
        return getattr(self._context, name)


_create = _answering(lifecycle.create)
_update = _answering(lifecycle.update)
_delete = _answering(lifecycle.delete)
helper.create(_create)
helper.update(_update)
helper.delete(_delete)
_POLLS = {
    "Create": (helper.poll_create, _create),
    "Update": (helper.poll_update, _update),
    "Delete": (helper.poll_delete, _delete),
}


def _enable_polling(request_type: str, enabled: bool = True) -> None:
    register, work = _POLLS[request_type]
    register(work if enabled else None)  # type: ignore[arg-type]


def handler(event: dict[str, Any], context: Any) -> dict[str, object] | None:
    if scheduled.is_scheduled(event):
        # crhelper sets its JSON log format per CloudFormation event; a scheduled run's lines
        # must not carry the previous request's fields.
        log_helper.setup(LOG_LEVEL, boto_level="WARNING", aws_request_id=context.aws_request_id)
        return scheduled.run(context)
    # Polling is on only for the requests that need it: a poll, or one that hands over.
    _enable_polling(event["RequestType"], "CrHelperPoll" in event)
    helper(event, context)
    return None
