"""The chain of invocations: handing a request on to the next continuation, and starting one
whose claimant may have died before Lambda accepted it."""

from __future__ import annotations

import logging

from . import continuation, logs, metrics
from .errors import ResourceError
from .invocation import Invocation, RetryLater
from .registry.requests import RequestRecord, Requests
from .request import Continuation, Request


def carry_on(
    request: Request, record: RequestRecord, requests: Requests, invocation: Invocation
) -> None:
    """A newer continuation was claimed: start it if its claimant may have died before Lambda
    accepted it (this is a retry or a duplicate of that claimant), else leave it to it."""
    newest = record.attempt
    if newest != request.attempt + 1 or not record.claimed_but_not_invoked:
        logs.step(request, "continue", "superseded", attempt=request.attempt, newest=newest)
        return
    try:
        _start(request, Continuation(newest, record.nonces[newest]), requests, invocation)
    except (ResourceError, ValueError, KeyError) as error:
        raise RetryLater(f"continuation {newest} could not be started: {error}") from error
    logs.step(request, "continue", "restarted", attempt=newest)


def _start(
    request: Request, next_one: Continuation, requests: Requests, invocation: Invocation
) -> None:
    continuation.start(request, next_one, invocation.function_arn, invocation.deadline)
    metrics.emit({metrics.CONTINUATIONS: 1})
    try:
        requests.invoked(request.request_id, next_one.attempt)
    except ResourceError as error:
        # Lambda has it; a retry of this invocation may start it again: a duplicate, which
        # the record makes harmless.
        logs.step(request, "continue", "invoked-not-noted", level=logging.WARNING, reason=error)


def hand_over(
    request: Request, requests: Requests, invocation: Invocation
) -> RequestRecord | str | None:
    """Start the next continuation. None when one goes on (this one's, or a duplicate's); the
    record when the request was answered meanwhile; else why nothing goes on."""
    try:
        nonce = requests.claim(request.request_id, request.attempt)
        if nonce is None:
            record = requests.get(request.request_id)
            if record is not None and record.answer is not None:
                return record
            logs.step(request, "continue", "another-invocation-goes-on")
            return None
    except ResourceError as error:
        raise RetryLater(f"the next continuation could not be claimed: {error}") from error
    next_one = Continuation(request.attempt + 1, nonce)
    try:
        _start(request, next_one, requests, invocation)
    except (ResourceError, ValueError) as error:
        # Nothing carries the request on: give the claim back and answer now, saying why,
        # rather than leave it unanswered.
        logs.step(request, "continue", "not-started", level=logging.ERROR, reason=error)
        try:
            requests.release(request.request_id, request.attempt)
        except ResourceError as release_error:
            logs.step(
                request, "continue", "not-released", level=logging.ERROR, reason=release_error
            )
        return f"it could not go on past this invocation ({error})"
    logs.step(request, "continue", "handed-over", attempt=next_one.attempt)
    return None


# -- work and answer ------------------------------------------------------------------------
