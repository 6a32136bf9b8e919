"""Requests: one CloudFormation request across the invocations that carry it, a state machine.

``request#<RequestId>`` (in a partition of its own, so the worker never reads it) moves through
three states, each move one conditional write, so that whatever invocation comes later (a
duplicate, a retry, a late continuation) decides from the state and never from what it
believes:

- *working*, continuation ``attempt`` (0: CloudFormation's own delivery). ``seen`` makes it on
  first sight, with ``started`` (when the request began: the earliest of the first sight,
  CloudFormation's record of the resource and the ResponseURL's signing time; the give-up
  counts from it, whichever invocation works), the stack and logical id it was seen for, and
  the digest of its event: a delivery or continuation carrying another event under the same
  request id is not that request.
- *handing over* to continuation ``attempt + 1``: ``claim`` moves ``attempt`` from n to n + 1
  (only the holder of n can, and only while no answer is recorded), writing a fresh nonce for it
  in ``nonces`` *before* the Invoke that starts it. A continuation is honoured only when it
  carries the nonce recorded for its number: only the function writes here, so a forged marker
  changes nothing. ``invoked`` is set once Lambda accepted the Invoke (it then delivers at least
  once); a retry of n that finds n + 1 claimed but not invoked starts it (the holder of n
  crashed in between), and ``release`` gives a claim back when the Invoke failed.
- *answered*: ``decide`` records the answer (status, reason, physical id, data) with
  ``attribute_not_exists(answer)``, before anything is sent. From then on every invocation of the
  request sends that answer and does nothing else: CloudFormation hears one answer, or identical
  ones. A FAILED answer may take the request's owner back in the same transaction (see
  ``Registry.decide``): an owner is taken back only under a recorded FAILED of its own request.

It never holds the ResponseURL: that stays in the invocation's own event. The item is meant to
die, so it carries ``expires_at`` (DynamoDB's TTL), well after Lambda stops retrying or
delivering an asynchronous invocation (at most 6 hours).
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from . import codec
from .table import Partition

RECORD_SECONDS = 7 * 24 * 3600


def request_sk(request_id: str) -> str:
    return f"request#{request_id}"


@dataclass(frozen=True)
class RequestRecord:
    started_ms: int
    attempt: int
    answer: Mapping[str, Any] | None = None
    nonces: Mapping[int, str] = field(default_factory=dict)
    # The newest continuation Lambda accepted (0: none).
    invoked: int = 0
    stack_id: str = ""
    logical_id: str = ""
    # CloudFormation was rolling the stack back when the request was first seen.
    rollback: bool = False
    # ``Request.digest`` of the event first seen: every later delivery and continuation of the
    # request carries the same event, and nothing else is honoured.
    digest: str = ""
    # Create, Update or Delete, and the pool it names (a Delete's, from its physical id): what
    # a tombstone naming this request may stand for (``Registry.removal_requested``).
    request_type: str = ""
    pool: str = ""

    @property
    def started(self) -> float:
        return self.started_ms / 1000.0

    def honours(self, attempt: int, nonce: str) -> bool:
        """Whether a continuation numbered ``attempt`` carrying ``nonce`` was started by the
        function itself."""
        recorded = self.nonces.get(attempt)
        return recorded is not None and secrets.compare_digest(recorded, nonce)

    @property
    def claimed_but_not_invoked(self) -> bool:
        """Continuation ``attempt`` was claimed, and Lambda may never have received it."""
        return self.attempt > 0 and self.invoked < self.attempt and self.answer is None


class Requests:
    def __init__(self, partition: Partition) -> None:
        self.partition = partition

    def seen(
        self,
        request_id: str,
        *,
        started: float,
        stack_id: str,
        logical_id: str,
        digest: str,
        request_type: str,
        pool: str,
        rollback: bool = False,
    ) -> RequestRecord:
        """Note the request (what the first note says stays) and return its state."""
        found = self.partition.update(
            request_sk(request_id),
            "SET started = if_not_exists(started, :started), "
            "attempt = if_not_exists(attempt, :zero), "
            "stack_id = if_not_exists(stack_id, :stack), "
            "logical_id = if_not_exists(logical_id, :logical), "
            "event_digest = if_not_exists(event_digest, :digest), "
            "request_type = if_not_exists(request_type, :type), "
            "pool_arn = if_not_exists(pool_arn, :pool), "
            "nonces = if_not_exists(nonces, :none), "
            "in_rollback = if_not_exists(in_rollback, :rollback), "
            "expires_at = if_not_exists(expires_at, :expires)",
            {
                ":started": codec.millis(started),
                ":zero": 0,
                ":none": {},
                ":rollback": rollback,
                ":stack": stack_id,
                ":logical": logical_id,
                ":digest": digest,
                ":type": request_type,
                ":pool": pool,
                ":expires": _expiry(),
            },
            returns=True,
        )
        return _record(found or {})

    def get(self, request_id: str) -> RequestRecord | None:
        """The request's state; None when no invocation ever saw it."""
        item = self.partition.get(request_sk(request_id))
        return _record(item) if item else None

    def claim(self, request_id: str, attempt: int) -> str | None:
        """Claim continuation ``attempt + 1`` for the holder of ``attempt``: its nonce, or None
        when another invocation claimed it first or the request was answered."""
        nonce = secrets.token_urlsafe(24)
        claimed = self.partition.update(
            request_sk(request_id),
            "SET attempt = :next, nonces.#next = :nonce",
            {":attempt": attempt, ":next": attempt + 1, ":nonce": nonce},
            names={"#next": str(attempt + 1)},
            condition="attempt = :attempt AND attribute_not_exists(answer)",
        )
        return None if claimed is None else nonce

    def invoked(self, request_id: str, attempt: int) -> None:
        """Lambda accepted continuation ``attempt``: it will be delivered at least once."""
        self.partition.update(
            request_sk(request_id),
            "SET invoked = :attempt",
            {":attempt": attempt},
            condition="attempt = :attempt "
            "AND (attribute_not_exists(invoked) OR invoked < :attempt)",
        )

    def release(self, request_id: str, attempt: int) -> None:
        """Give back continuation ``attempt + 1``, claimed but never started."""
        self.partition.update(
            request_sk(request_id),
            "SET attempt = :attempt REMOVE nonces.#next",
            {":attempt": attempt, ":next": attempt + 1},
            names={"#next": str(attempt + 1)},
            condition="attempt = :next AND (attribute_not_exists(invoked) OR invoked < :next)",
        )

    def unanswered(self, request_id: str) -> dict[str, Any]:
        """A ConditionCheck: the request has no answer recorded yet."""
        return self.partition.check_action(
            request_sk(request_id), "attribute_not_exists(answer)", {}
        )

    def record_answer(self, request_id: str, answer: Mapping[str, Any]) -> bool:
        """Record ``answer`` unless one was recorded before; False when one was."""
        written = self.partition.update(
            request_sk(request_id),
            "SET answer = :answer",
            {":answer": dict(answer)},
            condition="attribute_not_exists(answer)",
        )
        return written is not None

    def answer_action(self, request_id: str, answer: Mapping[str, Any]) -> dict[str, Any]:
        """The write that records ``answer`` unless one was recorded before."""
        return self.partition.update_action(
            request_sk(request_id),
            "SET answer = :answer",
            {":answer": dict(answer)},
            condition="attribute_not_exists(answer)",
        )

    def recorded_answer(self, request_id: str) -> Mapping[str, Any] | None:
        answer = self.partition.get(request_sk(request_id)).get("answer")
        return answer if isinstance(answer, Mapping) else None


def _record(item: Mapping[str, Any]) -> RequestRecord:
    answer = item.get("answer")
    nonces = item.get("nonces")
    return RequestRecord(
        started_ms=int(item.get("started", 0)),
        attempt=int(item.get("attempt", 0)),
        answer=answer if isinstance(answer, Mapping) else None,
        nonces=(
            {int(key): str(value) for key, value in nonces.items() if str(key).isdigit()}
            if isinstance(nonces, Mapping)
            else {}
        ),
        invoked=int(item.get("invoked", 0)),
        stack_id=str(item.get("stack_id", "")),
        logical_id=str(item.get("logical_id", "")),
        rollback=item.get("in_rollback") is True,
        digest=str(item.get("event_digest", "")),
        request_type=str(item.get("request_type", "")),
        pool=str(item.get("pool_arn", "")),
    )


def _expiry() -> int:
    # DynamoDB's TTL compares with the real time, whatever clock the function runs on.
    return int(datetime.now(UTC).timestamp()) + RECORD_SECONDS
