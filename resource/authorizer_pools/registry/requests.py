"""Requests: one CloudFormation request across the invocations that carry it.

``request#<RequestId>`` holds:
- ``started``: when the request began, the earlier of when the registrar first saw it and when
  CloudFormation signed its ResponseURL. The give-up before the ServiceTimeout counts from it,
  whichever invocation is working.
- ``attempt``: the newest continuation that carries the request on. Only the invocation that
  moves it from n to n + 1 starts the next one, so a continuation Lambda delivers twice never
  forks the chain.
- ``answer``: the answer once one invocation decided it (status, reason, physical id, data).
  Whoever decides later (a duplicate, a retry, a late continuation) sends that same answer:
  CloudFormation hears one answer, or identical ones.

It never holds the ResponseURL: that stays in the invocation's own event. The item is meant to
die, so it carries ``expires_at`` (DynamoDB's TTL), well after Lambda stops retrying or
delivering an asynchronous invocation (at most 6 hours).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
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
    answer: Mapping[str, Any] | None

    @property
    def started(self) -> float:
        return self.started_ms / 1000.0


class Requests:
    def __init__(self, partition: Partition) -> None:
        self.partition = partition

    def seen(self, request_id: str, *, started: float) -> RequestRecord:
        """Note the request (the first note's ``started`` stays) and return what is known."""
        found = self.partition.update(
            request_sk(request_id),
            "SET started = if_not_exists(started, :started), "
            "attempt = if_not_exists(attempt, :zero), "
            "expires_at = if_not_exists(expires_at, :expires)",
            {":started": codec.millis(started), ":zero": 0, ":expires": _expiry()},
            returns=True,
        )
        return _record(found or {})

    def hand_over(self, request_id: str, attempt: int) -> bool:
        """Claim continuation ``attempt + 1`` for the caller. False when another invocation
        claimed it (a duplicate of this one) or the request was answered."""
        return (
            self.partition.update(
                request_sk(request_id),
                "SET attempt = :next",
                {":attempt": attempt, ":next": attempt + 1},
                condition="attempt <= :attempt AND attribute_not_exists(answer)",
            )
            is not None
        )

    def release(self, request_id: str, attempt: int) -> None:
        """Give back continuation ``attempt + 1``, claimed but never started."""
        self.partition.update(
            request_sk(request_id),
            "SET attempt = :attempt",
            {":attempt": attempt, ":next": attempt + 1},
            condition="attempt = :next",
        )

    def answer(self, request_id: str, answer: Mapping[str, Any]) -> Mapping[str, Any]:
        """Record ``answer`` unless one was recorded before; return the one to send."""
        written = self.partition.update(
            request_sk(request_id),
            "SET answer = :answer",
            {":answer": dict(answer)},
            condition="attribute_not_exists(answer)",
        )
        if written is not None:
            return answer
        recorded = self.partition.get(request_sk(request_id)).get("answer")
        return recorded if isinstance(recorded, Mapping) else answer


def _record(item: Mapping[str, Any]) -> RequestRecord:
    answer = item.get("answer")
    return RequestRecord(
        started_ms=int(item.get("started", 0)),
        attempt=int(item.get("attempt", 0)),
        answer=answer if isinstance(answer, Mapping) else None,
    )


def _expiry() -> int:
    # DynamoDB's TTL compares with the real time, whatever clock the function runs on.
    return int(datetime.now(UTC).timestamp()) + RECORD_SECONDS
