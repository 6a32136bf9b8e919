"""crhelper, behind one door: everything this function relies on of its internals is here.

crhelper (2.0.12) speaks CloudFormation's protocol: it sends the answer to the ResponseURL
(over HTTPS, with retries), cuts long reasons, sets up its JSON log format, and runs a timer
that answers FAILED half a second before Lambda's deadline. What this module relies on beyond
its documented decorators, each checked by ``tests/test_crhelper_adapter.py``:

- it builds lambda, events and logs clients in ``CfnResource.__init__`` through its module's
  ``boto3.client``: they are made on first use here (they cost a cold start and are never
  used, since this function never polls);
- it answers a request whose ``CrHelperPoll`` key is set only once the decorated poll function
  returns a physical id or raises, and does not answer when it returns None. Every delivery is
  passed to it as such a poll, so an invocation that hands its request over to a continuation
  (``answering``) returns None and crhelper stays silent;
- on such a poll it would otherwise set up or remove its EventBridge polling
  (``_setup_polling``, ``_remove_polling``): both are disabled here, so it can never add a
  rule or a permission;
- a raised error answers FAILED with ``PhysicalResourceId`` as set before the raise;
- on such a poll's answer it logs "Polling complete, removing cwe schedule", which would send
  an operator looking for a schedule that never existed: that line is dropped.
"""

from __future__ import annotations

import contextlib
import logging
import os
import types
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import boto3
import crhelper.resource_helper
from crhelper import CfnResource, log_helper

_LEVEL = os.environ.get("LOG_LEVEL", "INFO").upper()
LOG_LEVEL = _LEVEL if _LEVEL in ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL") else "INFO"
POLL_KEY = "CrHelperPoll"
SUCCESS = "SUCCESS"
FAILED = "FAILED"


@dataclass(frozen=True)
class Answer:
    """What CloudFormation is told about one request."""

    status: str
    physical_id: str
    reason: str = ""
    data: Mapping[str, str] = field(default_factory=dict)

    def as_record(self) -> dict[str, object]:
        return {
            "status": self.status,
            "physical_id": self.physical_id,
            "reason": self.reason,
            "data": dict(self.data),
        }

    @classmethod
    def from_record(cls, record: Mapping[str, Any]) -> Answer:
        return cls(
            status=str(record.get("status", FAILED)),
            physical_id=str(record.get("physical_id", "")),
            reason=str(record.get("reason", "")),
            data={str(key): str(value) for key, value in dict(record.get("data") or {}).items()},
        )


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
    module: Any = crhelper.resource_helper
    real = module.boto3
    module.boto3 = types.SimpleNamespace(client=_ClientOnFirstUse)
    try:
        yield
    finally:
        module.boto3 = real


def _no_polling(*_: object) -> None:
    """crhelper's polling (an EventBridge rule and a permission per request) is never used."""


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
_internals._setup_polling = _no_polling
_internals._remove_polling = _no_polling

_NO_SCHEDULE = "Polling complete, removing cwe schedule"


class _NoPollingLines(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return record.getMessage() != _NO_SCHEDULE


logging.getLogger(crhelper.resource_helper.__name__).addFilter(_NoPollingLines())

Work = Callable[[Mapping[str, Any], Any], Answer | None]
_work: list[Work] = []


def _answer(event: Any, context: Any) -> str | None:
    answer = _work[0]({key: value for key, value in event.items() if key != POLL_KEY}, context)
    if answer is None:
        return None  # a continuation answers
    helper.Data.update(answer.data)
    if answer.status != SUCCESS:
        helper.PhysicalResourceId = answer.physical_id
        raise _Failed(answer.reason)
    return answer.physical_id


class _Failed(Exception):
    """Carries a FAILED answer's reason through crhelper."""


for _register in (helper.poll_create, helper.poll_update, helper.poll_delete):
    _register(_answer)


def serve(event: Mapping[str, Any], context: Any, work: Work) -> None:
    """Let ``work`` decide the request's answer and crhelper send it; no answer when ``work``
    returns None (the request goes on in a continuation)."""
    _work[:] = [work]
    # crhelper reads the event it is given: every delivery is a poll to it (see above).
    helper({**event, POLL_KEY: True}, context)


def setup_logging(aws_request_id: str) -> None:
    """crhelper's JSON log format for an invocation that is not a CloudFormation request (it
    sets the format per request; a scheduled run's lines must not carry the previous request's
    fields)."""
    log_helper.setup(LOG_LEVEL, boto_level="WARNING", aws_request_id=aws_request_id)
