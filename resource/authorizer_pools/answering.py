"""One CloudFormation request, across the invocations that carry it: verify, decide, answer.

request → who is asking (``caller``: CloudFormation's own record; for a continuation, the nonce
its record holds) → the request's record (``registry.requests``), which decides → work
(``lifecycle``) within this invocation's budget → an answer, recorded before it is sent; or a
continuation when the change is not live yet and the invocation's time is up; or the give-up
before the ServiceTimeout.

- A request that does not match CloudFormation's record, whose ResponseURL is not
  CloudFormation's, or a continuation the function did not start changes nothing and gets no
  answer: a WARNING says what did not match, and ``ForgedRequests`` counts it.
- Nothing is ever sent that is not recorded: when the record cannot be read or written the
  invocation fails (:class:`RetryLater`) and Lambda retries it, rather than answer something a
  duplicate may contradict. The first answer recorded is the answer: whoever comes later (a
  duplicate, a retry, a late continuation) sends that one and does nothing else.
- A FAILED answer of a Create or Update takes back the owner *this* request made live, in the
  same write that records it, so an owner is taken back only under a recorded FAILED and never
  after a SUCCESS. The pass that removes the pool is waited for only after the answer is sent.
- The give-up counts from when the request began (the earliest of its first sight,
  CloudFormation's record of the resource and the ResponseURL's signing time), whichever
  invocation is working: work stops early enough that no call outlives the give-up, and the
  FAILED answer is sent before the ServiceTimeout.
- A retry of the invocation that claimed the next continuation but may have died before Lambda
  accepted it starts that continuation itself: no single crash leaves a request unanswered.
"""

from __future__ import annotations

import logging
import time
import uuid
from dataclasses import dataclass

from . import admission, aws, handover, lifecycle, logs, metrics, reasons, timing
from .answer import FAILED, SUCCESS, Answer, Reply, unrecorded_failure
from .errors import ResourceError
from .invocation import Invocation, RetryLater
from .properties import Parsed, read_properties, service_timeout
from .registration import Registration
from .registry import Owner, Registry
from .registry.requests import RequestRecord
from .request import Request
from .response_url import ResponseUrl, UrlRefused, verify
from .settings import Settings
from .timing import Deadline
from .worker import Pending

# Kept back from the invocation's deadline for the hand-over (a claim and an Invoke, each
# retried); at most a quarter of the invocation's time.
HANDOVER_RESERVE_SECONDS = 20.0
# The FAILED answer of a request that could not finish comes this long before CloudFormation's
# ServiceTimeout (or a quarter of a short one): time to record it and send it, and, should the
# invocation die in between, for Lambda's retry (about a minute later) to send it.
GIVE_UP_MARGIN_SECONDS = 120.0


@dataclass(frozen=True)
class Patience:
    """When a request stops waiting, from when it began and CloudFormation's ServiceTimeout
    (both in :data:`timing.clock` seconds)."""

    started: float
    service_timeout: float

    @property
    def give_up(self) -> float:
        return (
            self.started
            + self.service_timeout
            - min(GIVE_UP_MARGIN_SECONDS, self.service_timeout / 4)
        )

    @property
    def work_until(self) -> float:
        """No call started before this outlives the give-up."""
        return self.give_up - aws.LONGEST_CALL_SECONDS


def run(request: Request, invocation: Invocation) -> Reply | None:
    """The answer to send now, or None when no answer may or need be sent by this invocation."""
    try:
        settings = Settings.load(invocation.function_arn)
        settings.require_registry_table()
    except ResourceError as misconfigured:
        logs.step(request, "start", "misconfigured", level=logging.ERROR, reason=misconfigured)
        reason = reasons.for_tenant(
            f"the registrar is misdeployed: {misconfigured}; fix its deployment, then retry",
            own=(),
            request_id=invocation.aws_request_id,
        )
        return unrecorded_failure(request, invocation.function_arn, reason)
    try:
        url = verify(
            request.response_url,
            region=settings.region,
            partition=settings.partition,
            now=time.time(),
        )
    except UrlRefused as refused:
        admission.refuse(request, str(refused))
        return None
    registry = Registry(
        settings.require_registry_table(),
        settings.rest_api_id,
        settings.authorizer_id,
        invocation.deadline,
    )
    record = admission.record(request, settings, registry.requests, invocation, url)
    if record is None:
        return None
    if record.answer is not None:
        logs.step(request, "answer", "answered-before", status=record.answer.get("status"))
        return Reply(Answer.from_record(record.answer), url)
    if record.attempt > request.attempt:
        handover.carry_on(request, record, registry.requests, invocation)
        return None
    return _work(request, settings, registry, record, invocation=invocation, url=url)


@dataclass(frozen=True)
class _Case:
    """What one invocation knows while it works on a request."""

    request: Request
    parsed: Parsed | ResourceError
    registry: Registry
    url: ResponseUrl
    invocation: Invocation
    patience: Patience


def _work(
    request: Request,
    settings: Settings,
    registry: Registry,
    record: RequestRecord,
    *,
    invocation: Invocation,
    url: ResponseUrl,
) -> Reply | None:
    case = _Case(
        request,
        _parse(request, settings),
        registry,
        url,
        invocation,
        Patience(record.started, service_timeout(request.properties)),
    )
    remaining = invocation.deadline.remaining()
    until_handover = remaining - min(HANDOVER_RESERVE_SECONDS, remaining / 4)
    until_give_up = case.patience.work_until - timing.clock.time()
    job = lifecycle.Job(
        request,
        case.parsed,
        settings,
        # Lambda's retry of an invocation may carry the same aws_request_id: the holder is this
        # invocation's alone, so that a dead predecessor's late call matches no lease of ours.
        holder=f"{request.request_id}/{invocation.aws_request_id}/{uuid.uuid4().hex[:12]}",
        deadline=Deadline(timing.clock.monotonic() + min(until_handover, until_give_up)),
        rollback=record.rollback,
    )
    outcome: lifecycle.Outcome = Pending("the give-up came before any work")
    if until_give_up > 0:
        try:
            outcome = lifecycle.run(job)
        except Exception as error:
            logs.logger.exception("unexpected error")
            return _answer(case, _failed(case, error, "internal error"), job)
    if isinstance(outcome, lifecycle.Done):
        return _answer(case, _succeeded(request, outcome), job)
    if isinstance(outcome, lifecycle.Failed):
        return _answer(case, _failed(case, outcome.error), job)
    why = None
    if until_handover < until_give_up:
        handed = handover.hand_over(request, registry.requests, invocation)
        if handed is None:
            return None
        if isinstance(handed, RequestRecord):
            assert handed.answer is not None
            return Reply(Answer.from_record(handed.answer), url)
        why = handed
    return _answer(case, _give_up(case, why), job)


def _answer(case: _Case, answer: Answer, job: lifecycle.Job) -> Reply:
    """Record ``answer`` (a FAILED one with the take-back of this request's owner) unless an
    answer was recorded before, and reply with the recorded one."""
    request = case.request
    own = _registration(request, case.parsed)
    take_back = None
    if answer.status == FAILED and own is not None:
        take_back = (str(own.user_pool_arn), _owner(request))
    try:
        decision = case.registry.decide(request.request_id, answer.as_record(), take_back=take_back)
    except ResourceError as error:
        logs.step(request, "answer", "not-recorded", level=logging.ERROR, reason=error)
        raise RetryLater(f"the answer could not be recorded: {error}") from error
    sent = Answer.from_record(decision.answer)
    if not decision.recorded:
        logs.step(request, "answer", "answered-before", status=sent.status)
        return Reply(sent, case.url)
    metrics.emit({metrics.ANSWERS: 1}, Status=sent.status)
    if sent.status == SUCCESS:
        waited = timing.clock.time() - case.patience.started
        metrics.emit({metrics.SECONDS_TO_LIVE: round(waited, 3)})
    if not decision.taken_back or own is None:
        return Reply(sent, case.url)
    logs.step(request, "undo", "taken-back", own)
    registration = own
    return Reply(sent, case.url, then=lambda: lifecycle.settle(job, registration))


def _owner(request: Request) -> Owner:
    return Owner(request.stack_id, request.logical_id)


def _parse(request: Request, settings: Settings) -> Parsed | ResourceError:
    if request.type == "Delete":
        return ResourceError("a Delete is decided from its physical id")
    try:
        return read_properties(request.properties, settings)
    except ResourceError as refused:
        return refused


def _registration(request: Request, parsed: Parsed | ResourceError) -> Registration | None:
    if request.type == "Delete" or isinstance(parsed, ResourceError):
        return None
    return parsed.properties.registration


def _succeeded(request: Request, outcome: lifecycle.Done) -> Answer:
    if outcome.registration is None:  # a Delete
        return Answer(SUCCESS, request.physical_id or "")
    registration = outcome.registration
    return Answer(SUCCESS, registration.physical_id, data=registration.attributes)


def _give_up(case: _Case, why: str | None) -> Answer:
    seconds = int(case.patience.service_timeout)
    busy = f"AWS stayed too busy to make the change live within the ServiceTimeout ({seconds} s)"
    if why is not None:
        busy = f"the change is not live yet and {why}"
    if case.request.type == "Delete":
        message = (
            f"{busy}; the removal is recorded and the scheduled repair publishes it: retry the "
            "deletion"
        )
    else:
        message = f"{busy}; what this request registered is taken back: retry the stack operation"
    logs.step(case.request, "give-up", "failed", level=logging.ERROR, service_timeout=seconds)
    return _failed(case, ResourceError(message))


def _failed(case: _Case, error: Exception, reason: str | None = None) -> Answer:
    """The FAILED answer: a reason for the tenant (``reasons``), the whole story in the log, and
    the physical id CloudFormation must roll back with."""
    request = case.request
    logs.step(request, "answer", FAILED, level=logging.ERROR, reason=error)
    own = [str(request.properties.get("UserPoolArn", ""))]
    if request.old_properties is not None:
        own.append(str(request.old_properties.get("UserPoolArn", "")))
    physical_id = _physical_id(request, case.parsed)
    registration = Registration.from_physical_id(physical_id)
    if registration is not None:
        own.append(str(registration.user_pool_arn))
    told = reasons.for_tenant(
        reason or str(error), own=own, request_id=case.invocation.aws_request_id
    )
    return Answer(FAILED, physical_id, told)


def _physical_id(request: Request, parsed: Parsed | ResourceError) -> str:
    """An Update or Delete keeps the id it came with. A Create answers with its registration's
    deterministic id whenever its properties name one (the rollback Delete then finds any owner
    it recorded), else with an id no registration has (no colon: see ``Registration``)."""
    if request.physical_id:
        return request.physical_id
    if isinstance(parsed, ResourceError):
        return f"{request.stack_name}_{request.logical_id}_{request.request_id[:8]}"
    return parsed.properties.registration.physical_id
