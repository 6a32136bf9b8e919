"""One CloudFormation request, across the invocations that carry it: work, then answer, or go on.

event → request record (``registry.requests``) → ``lifecycle`` within this invocation's budget →
an :class:`Answer`, or a continuation (``continuation``) when the change is not live yet and
the invocation's time is up, or the give-up before the ServiceTimeout.

- The budget of an invocation ends ``HANDOVER_RESERVE_SECONDS`` before Lambda's deadline, or at
  the give-up, whichever comes first. The give-up counts from when the request *began* (the
  record's ``started``), not from this invocation.
- A request that gives up answers FAILED, as does any failure on any invocation; once that
  answer is decided (recorded first: a duplicate that answered SUCCESS meanwhile wins), what the
  request registered is taken back (``lifecycle.take_back``).
- The first answer decided is recorded; a duplicate, a retry or a late continuation of the
  same request sends that recorded answer (CloudFormation hears identical answers), and a
  continuation superseded by a newer one does nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import ClientError

from . import continuation, lifecycle, logs, metrics, reasons, timing
from .convergence import NotYetLive
from .crhelper_adapter import FAILED, SUCCESS, Answer
from .errors import AwsCallFailed, ResourceError
from .properties import parse_properties
from .registration import Registration
from .registry import Registry
from .registry.requests import Requests
from .settings import Settings
from .timing import Deadline

# Kept back from Lambda's deadline for what comes after the work: the hand-over (an UpdateItem
# and an Invoke, each retried) or the give-up (taking the owner back, then the answer); at most
# a quarter of the invocation's time.
HANDOVER_RESERVE_SECONDS = 20.0
WORK = {"Create": lifecycle.create, "Update": lifecycle.update, "Delete": lifecycle.delete}


def run(event: Mapping[str, Any], context: Any) -> Answer | None:
    """The answer to send now, or None when a continuation will answer."""
    attempt = continuation.attempt_of(event)
    event = continuation.original(event)
    request_id = str(event["RequestId"])
    try:
        requests = _requests(context)
        record = requests.seen(request_id, started=_started(event))
    except (ClientError, ResourceError) as error:
        if attempt > 0:
            # An earlier invocation may have registered: no owner stays live after FAILED.
            _take_back(event, context)
        return _failed(event, context, _as_resource_error(error))
    if record.answer is not None:
        logs.step(event, "answer", "answered-before", status=record.answer.get("status"))
        return Answer.from_record(record.answer)
    if record.attempt > attempt:
        logs.step(event, "continue", "superseded", attempt=attempt, newest=record.attempt)
        return None
    give_up = continuation.give_up_at(record.started, event)
    answer = _work(event, context, attempt, requests, give_up)
    if answer is None:
        return None
    try:
        sent = Answer.from_record(requests.answer(request_id, answer.as_record()))
    except (ClientError, ResourceError) as error:
        logs.step(event, "answer", "not-recorded", level=logging.WARNING, reason=error)
        sent = answer
    if sent == answer:
        if answer.status == FAILED:
            _take_back(event, context)
        metrics.emit({metrics.ANSWERS: 1}, Status=answer.status)
        if answer.status == SUCCESS:
            waited = timing.clock.time() - record.started
            metrics.emit({metrics.SECONDS_TO_LIVE: round(waited, 3)})
    return sent


def _work(
    event: Mapping[str, Any], context: Any, attempt: int, requests: Requests, give_up: float
) -> Answer | None:
    budget = _Budget(context, give_up)
    if budget.remaining() > 0 or not budget.ends_with_give_up:
        try:
            registration = WORK[str(event["RequestType"])](event, budget)
        except NotYetLive as pending:
            reason: Exception = pending
        except ResourceError as error:
            if not (isinstance(error, AwsCallFailed) and error.transient):
                return _failed(event, context, error)
            reason = error
        except Exception as error:
            logs.logger.exception("unexpected error")
            return _failed(event, context, error, "internal error")
        else:
            return _succeeded(event, registration)
        try:
            if not budget.ends_with_give_up and _hand_over(
                event, context, attempt, requests, reason
            ):
                return None
        except _NotContinued as stopped:
            return _give_up(event, context, str(stopped))
    return _give_up(event, context)


def _hand_over(
    event: Mapping[str, Any], context: Any, attempt: int, requests: Requests, reason: Exception
) -> bool:
    """Start the next continuation. True when one goes on (this one's, or a duplicate's)."""
    deadline = Deadline.from_context(context)
    request_id = str(event["RequestId"])
    try:
        if not requests.hand_over(request_id, attempt):
            logs.step(event, "continue", "another-invocation-goes-on", attempt=attempt)
            return True
    except (ClientError, ResourceError) as error:
        logs.step(event, "continue", "not-claimed", level=logging.ERROR, reason=error)
        return False
    try:
        continuation.start(event, attempt + 1, context.invoked_function_arn, deadline)
    except (ClientError, ResourceError, ValueError) as error:
        # Nothing carries the request on: give the claim back (a duplicate of this invocation
        # may still hand over) and answer now, saying why, rather than leave it unanswered.
        logs.step(event, "continue", "not-started", level=logging.ERROR, reason=error)
        try:
            requests.release(request_id, attempt)
        except (ClientError, ResourceError) as release_error:
            logs.step(event, "continue", "not-released", level=logging.ERROR, reason=release_error)
        raise _NotContinued(f"it could not go on past this invocation ({error})") from error
    logs.step(event, "continue", "handed-over", attempt=attempt + 1, reason=reason)
    return True


class _NotContinued(Exception):
    """The request needed another invocation and could not start one."""


def _give_up(event: Mapping[str, Any], context: Any, why: str | None = None) -> Answer:
    patience = int(continuation.service_timeout(event))
    busy = f"AWS stayed too busy to make the change live within the ServiceTimeout ({patience} s)"
    if why is not None:
        busy = f"the change is not live yet and {why}"
    if event["RequestType"] == "Delete":
        message = (
            f"{busy}; the removal is recorded and the scheduled repair publishes it: retry the "
            "deletion"
        )
    else:
        message = f"{busy}; what this request registered is taken back: retry the stack operation"
    logs.step(event, "give-up", "failed", level=logging.ERROR, service_timeout=patience)
    return _failed(event, context, ResourceError(message))


def _take_back(event: Mapping[str, Any], context: Any) -> None:
    """Take back what this Create or Update registered, once its FAILED answer is decided."""
    try:
        lifecycle.take_back(event, context)
    except Exception:
        logs.logger.exception("taking the registration back failed: run `reconcile`")


def _succeeded(event: Mapping[str, Any], registration: Registration | None) -> Answer:
    if registration is None:  # a Delete
        return Answer(SUCCESS, str(event["PhysicalResourceId"]))
    return Answer(SUCCESS, registration.physical_id, data=registration.attributes)


def _failed(
    event: Mapping[str, Any], context: Any, error: Exception, reason: str | None = None
) -> Answer:
    """The FAILED answer: a reason for the tenant (``reasons``), the whole story in the log, and
    the physical id CloudFormation must roll back with."""
    logs.logger.error({"step": "answer", "outcome": FAILED, "reason": str(error)})
    properties = [event.get("ResourceProperties") or {}, event.get("OldResourceProperties") or {}]
    own = [str(p.get("UserPoolArn", "")) for p in properties]
    physical_id = _physical_id(event, context)
    registration = Registration.from_physical_id(physical_id)
    if registration is not None:
        own.append(str(registration.user_pool_arn))
    request_id = str(getattr(context, "aws_request_id", "?"))
    told = reasons.for_tenant(reason or str(error), own=own, request_id=request_id)
    return Answer(FAILED, physical_id, told)


def _physical_id(event: Mapping[str, Any], context: Any) -> str:
    """An Update or Delete keeps the id it came with. A Create answers with its registration's
    deterministic id whenever its properties name one (the rollback Delete then finds any owner
    it recorded), else with an id no registration has (no colon: see ``Registration``)."""
    if event.get("PhysicalResourceId"):
        return str(event["PhysicalResourceId"])
    try:
        settings = Settings.load(context)
        props = parse_properties(event.get("ResourceProperties") or {}, settings)
    except ResourceError:
        stack = logs.stack_name(str(event.get("StackId", "")))
        return f"{stack}_{event.get('LogicalResourceId')}_{str(event['RequestId'])[:8]}"
    return props.registration.physical_id


def _requests(context: Any) -> Requests:
    settings = Settings.load(context)
    return Registry(
        settings.require_registry_table(),
        settings.rest_api_id,
        settings.authorizer_id,
        Deadline.from_context(context),
    ).requests


def _started(event: Mapping[str, Any]) -> float:
    """The earliest this request can have begun: now, or when its ResponseURL was signed."""
    now = timing.clock.time()
    signed = continuation.signed_at(str(event.get("ResponseURL", "")))
    return now if signed is None else min(now, timing.clock.from_wall_time(signed))


def _as_resource_error(error: Exception) -> ResourceError:
    if isinstance(error, ResourceError):
        return error
    return ResourceError(f"the registry could not be read: {error}")


@dataclass
class _Budget:
    """The Lambda context with this invocation's working time: until ``HANDOVER_RESERVE``
    before Lambda's deadline, or until the give-up, whichever comes first."""

    context: Any
    give_up: float
    ends_with_give_up: bool = field(init=False)
    reserve: float = field(init=False)

    def __post_init__(self) -> None:
        self.reserve = min(HANDOVER_RESERVE_SECONDS, self._lambda_remaining() / 4)
        self.ends_with_give_up = self._until_give_up() <= self._until_handover()

    def _lambda_remaining(self) -> float:
        return float(self.context.get_remaining_time_in_millis()) / 1000.0

    def _until_handover(self) -> float:
        return self._lambda_remaining() - self.reserve

    def _until_give_up(self) -> float:
        return self.give_up - timing.clock.time()

    def remaining(self) -> float:
        return min(self._until_handover(), self._until_give_up())

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int(self.remaining() * 1000))

    def __getattr__(self, name: str) -> Any:
        return getattr(self.context, name)
