"""Who is asking: a request is CloudFormation's (checked against CloudFormation's own record of
the resource it names), or a continuation the function itself started (the nonce its record
holds); anything else changes nothing, gets no answer, and counts in ``ForgedRequests``."""

from __future__ import annotations

import logging

from . import caller, logs, metrics, timing
from .arns import ArnError, UserPoolArn
from .errors import ResourceError
from .invocation import Invocation, RetryLater
from .registration import Registration
from .registry.requests import RequestRecord, Requests
from .request import Continuation, Request
from .response_url import ResponseUrl
from .settings import Settings


def record(
    request: Request,
    settings: Settings,
    requests: Requests,
    invocation: Invocation,
    url: ResponseUrl,
) -> RequestRecord | None:
    """The request's record once the request is shown to be CloudFormation's (or one of the
    function's own continuations of it); None when it is not. Raises :class:`RetryLater` when
    that cannot be told now."""
    try:
        if request.continuation is not None:
            return _continued(request, request.continuation, requests)
        return _cloudformations(request, settings, requests, invocation, url)
    except (ResourceError, caller.Unverifiable) as error:
        logs.step(request, "record", "unreadable", level=logging.ERROR, reason=error)
        raise RetryLater(str(error)) from error


def _continued(
    request: Request, continuation: Continuation, requests: Requests
) -> RequestRecord | None:
    """A continuation is honoured only with the nonce its request's record holds for its
    number, and only carrying the event its request was first seen with."""
    found = requests.get(request.request_id)
    attempt = continuation.attempt
    if found is None or not found.honours(attempt, continuation.nonce):
        refuse(request, "a continuation the function did not start")
        return None
    if found.digest != request.digest:
        refuse(request, "a continuation carrying another event than its request's")
        return None
    if found.invoked < attempt == found.attempt:
        # It arrived: a retry of its claimant need not start it again.
        requests.invoked(request.request_id, attempt)
    return found


def _cloudformations(
    request: Request,
    settings: Settings,
    requests: Requests,
    invocation: Invocation,
    url: ResponseUrl,
) -> RequestRecord | None:
    """CloudFormation's own delivery (or Lambda's retry or duplicate of it): checked with
    CloudFormation, then noted."""
    verdict = caller.verify(request, settings, invocation.deadline)
    if not verdict.matches:
        earlier = requests.get(request.request_id)
        ours = earlier is not None and (earlier.stack_id, earlier.logical_id) == (
            request.stack_id,
            request.logical_id,
        )
        if ours and earlier is not None and earlier.answer is not None:
            # A delivery of a request CloudFormation already has its answer for.
            logs.step(request, "verify", "answered-before", mismatch=verdict.mismatch)
        else:
            refuse(request, str(verdict.mismatch))
        return None
    record = requests.seen(
        request.request_id,
        started=_began(verdict.began_at, url),
        stack_id=request.stack_id,
        logical_id=request.logical_id,
        digest=request.digest,
        request_type=request.type,
        pool=_named_pool(request),
        rollback=verdict.rollback,
    )
    if record.digest != request.digest:
        # The request id of another event, reused: not that request.
        refuse(request, "another event under a request id already seen")
        return None
    return record


def _named_pool(request: Request) -> str:
    """The pool a request is about, as its owner records it: a Delete's from its physical id
    (the registration it ends), a Create's or Update's from its properties, parsed as
    ``properties`` parses it (surrounding spaces are not part of the ARN)."""
    if request.type == "Delete":
        registration = Registration.from_physical_id(request.physical_id or "")
        return str(registration.user_pool_arn) if registration else ""
    given = str(request.properties.get("UserPoolArn", "")).strip()
    try:
        return str(UserPoolArn.parse(given))
    except ArnError:
        return given  # refused by the properties: it never makes an owner


def refuse(request: Request, mismatch: str) -> None:
    logs.step(request, "verify", "refused", level=logging.WARNING, mismatch=mismatch)
    metrics.emit({metrics.FORGED_REQUESTS: 1})


def _began(cloudformation_says: float | None, url: ResponseUrl) -> float:
    """The earliest this request can have begun: now, when CloudFormation last changed the
    resource's status, or when it signed the ResponseURL."""
    times = [timing.clock.time()]
    times += [timing.clock.from_wall_time(t) for t in (cloudformation_says, url.signed_at) if t]
    return min(times)
