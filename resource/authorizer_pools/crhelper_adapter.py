"""crhelper, behind one door: everything this function relies on of its internals is here.

crhelper (2.0.12) speaks CloudFormation's protocol: it builds the answer's body from the
request and the decided answer, and sets up its JSON log format per request. This module is,
with ``request``, the only one that reads the raw event: an event that is not a CloudFormation
request is refused before crhelper sees it (crhelper would otherwise answer FAILED to the
*previous* request's URL, which it keeps in module state).

What it relies on beyond crhelper's documented decorators, each checked by
``tests/test_crhelper_adapter.py``:

- ``CfnResource.__init__`` builds lambda, events and logs clients through its module's
  ``boto3.client``: they are made on first use here (they cost a cold start and are never used,
  since this function never polls);
- it answers a request whose ``CrHelperPoll`` key is set only once the decorated poll function
  returns a physical id or raises, and does not answer when it returns None. Every delivery is
  passed to it as such a poll, so an invocation that sends no answer returns None and crhelper
  stays silent; its polling (``_setup_polling``, ``_remove_polling``) is disabled, so it can
  never add a rule or a permission, and its "Polling complete, removing cwe schedule" line
  (about a schedule that never existed) is dropped;
- a raised error answers FAILED with ``PhysicalResourceId`` as set before the raise;
- ``_send(status, reason, send_response)`` builds the body and hands it to ``send_response``:
  the sender here sends only the answer the function decided and recorded (never crhelper's own
  "Execution timed out" or exception answers), to the URL the function verified, a few bounded
  tries (``delivery``), instead of crhelper's sender, which retries an unreachable URL for ever;
- ``_set_timeout`` starts the timer that would answer FAILED "Execution timed out" half a second
  before Lambda's deadline, an answer nobody recorded: it is disabled. An invocation that runs
  out of time is retried by Lambda, and the retry answers from the request's record.

When the decided answer could not be delivered, or the work failed unexpectedly, the invocation
fails after crhelper returns, so that Lambda retries it.
"""

from __future__ import annotations

import json
import logging
import os
import types
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import boto3
import crhelper.resource_helper
from crhelper import CfnResource, log_helper

from . import delivery, metrics
from .answer import SUCCESS, Reply
from .request import NotARequest, Request, parse
from .timing import Deadline

_LEVEL = os.environ.get("LOG_LEVEL", "INFO").upper()
LOG_LEVEL = _LEVEL if _LEVEL in ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL") else "INFO"
POLL_KEY = "CrHelperPoll"
logger = logging.getLogger("authorizer_pools")

Work = Callable[[Request, Any], Reply | None]


class AnswerNotDelivered(Exception):
    """The recorded answer did not reach CloudFormation: Lambda's retry sends it again."""


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


@contextmanager
def _clients_on_first_use() -> Iterator[None]:
    module: Any = crhelper.resource_helper
    real = module.boto3
    module.boto3 = types.SimpleNamespace(client=_ClientOnFirstUse)
    try:
        yield
    finally:
        module.boto3 = real


def _nothing(*_: object) -> None:
    """For crhelper's polling (an EventBridge rule and a permission per request) and its
    timer (an unrecorded FAILED answer): neither is ever used."""


with _clients_on_first_use():
    helper = CfnResource(
        json_logging=True,
        # crhelper's default, DEBUG, logs the whole event with its pre-signed ResponseURL.
        log_level=LOG_LEVEL,
        boto_level="WARNING",
        # crhelper sleeps 120 s before answering a Delete (to let logs flush); a tenant stack's
        # deletion must not wait for that.
        sleep_on_delete=0,
    )
# crhelper's stubs do not declare its private methods.
_internals: Any = helper
_internals._setup_polling = _nothing
_internals._remove_polling = _nothing
_internals._set_timeout = _nothing

_NO_SCHEDULE = "Polling complete, removing cwe schedule"


class _NoPollingLines(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return record.getMessage() != _NO_SCHEDULE


logging.getLogger(crhelper.resource_helper.__name__).addFilter(_NoPollingLines())


@dataclass
class _Invocation:
    """What one invocation decided, for crhelper's callbacks."""

    request: Request
    context: Any
    work: Work
    deadline: Deadline
    reply: Reply | None = None
    delivered: bool = False
    error: Exception | None = None


_current: list[_Invocation] = []


def _answer(event: Any, context: Any) -> str | None:
    invocation = _current[0]
    try:
        reply = invocation.work(invocation.request, context)
    except Exception as error:  # no answer: the invocation fails, and Lambda retries it
        invocation.error = error
        return None
    if reply is None:
        return None
    invocation.reply = reply
    helper.Data.update(reply.answer.data)
    if reply.answer.status != SUCCESS:
        helper.PhysicalResourceId = reply.answer.physical_id
        raise _Failed(reply.answer.reason)
    return reply.answer.physical_id


class _Failed(Exception):
    """Carries a FAILED answer's reason through crhelper."""


for _register in (helper.poll_create, helper.poll_update, helper.poll_delete):
    _register(_answer)


def _send_response(response_url: str, body: Mapping[str, Any], ssl_verify: object) -> None:
    """crhelper's ``send_response``: send ``body`` only if it is the decided answer."""
    invocation = _current[0] if _current else None
    reply = invocation.reply if invocation else None
    decided = reply is not None and _is(body, reply) and response_url == reply.url.text
    if invocation is None or reply is None or not decided:
        logger.error({"step": "send", "outcome": "refused", "reason": "not the decided answer"})
        if invocation is not None and invocation.error is None:
            invocation.error = AnswerNotDelivered("crhelper tried to send an undecided answer")
        return
    payload = json.dumps(body).encode()
    invocation.delivered = delivery.send(
        reply.url, payload, invocation.deadline, invocation.request.log_fields()
    )


def _is(body: Mapping[str, Any], reply: Reply) -> bool:
    answer = reply.answer
    reason = "" if answer.status == SUCCESS else answer.reason
    return (
        body.get("Status"),
        body.get("PhysicalResourceId"),
        body.get("Reason"),
        body.get("Data"),
    ) == (answer.status, answer.physical_id, reason, dict(answer.data))


_crhelpers_send: Any = CfnResource._send  # type: ignore[attr-defined]


def _send(status: str | None = None, reason: str = "") -> None:
    _crhelpers_send(helper, status, reason, send_response=_send_response)


_internals._send = _send


def serve(event: Mapping[str, Any], context: Any, work: Work) -> None:
    """Let ``work`` decide the request's reply and crhelper send it; nothing is sent when
    ``work`` returns None. Raises when the invocation must fail for Lambda to retry it."""
    try:
        request = parse(event)
    except NotARequest as refused:
        logger.warning({"step": "receive", "outcome": "not-a-request", "reason": str(refused)})
        metrics.emit({metrics.FORGED_REQUESTS: 1})
        return
    # The answer may be sent until a moment before Lambda's deadline.
    invocation = _Invocation(request, context, work, Deadline.from_context(context, reserve=1.0))
    _current[:] = [invocation]
    try:
        # crhelper reads the event it is given: every delivery is a poll to it (see above).
        helper({**event, POLL_KEY: True}, context)
    finally:
        _current.clear()
    if invocation.error is not None:
        raise invocation.error
    if invocation.reply is None:
        return
    if not invocation.delivered:
        raise AnswerNotDelivered("the answer is recorded but did not reach CloudFormation")
    if invocation.reply.then is not None:
        invocation.reply.then()


def setup_logging(aws_request_id: str) -> None:
    """crhelper's JSON log format for an invocation that is not a CloudFormation request (it
    sets the format per request; a repair run's lines must not carry the previous request's
    fields)."""
    log_helper.setup(LOG_LEVEL, boto_level="WARNING", aws_request_id=aws_request_id)
