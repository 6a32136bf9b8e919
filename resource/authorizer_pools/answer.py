"""What CloudFormation is told about one request, and where it goes."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from . import metrics
from .request import Request
from .response_url import ResponseUrl, UrlRefused, verify

SUCCESS = "SUCCESS"
FAILED = "FAILED"


@dataclass(frozen=True)
class Answer:
    """The answer to one request: its status, physical id, reason (FAILED) and data."""

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


@dataclass(frozen=True)
class Reply:
    """An answer to send now, to a URL that passed ``response_url.verify``; ``then``: what is
    left to do once it was sent (never before: waiting for a pass that removes what a FAILED
    request took back)."""

    answer: Answer
    url: ResponseUrl
    then: Callable[[], None] | None = None


def unrecorded_failure(request: Request, function_arn: str, reason: str) -> Reply | None:
    """FAILED, from a registrar that cannot record anything (its package is broken, or it was
    deployed without what it needs): so it is the one answer not recorded first, and it goes
    only to a URL that passes the check, never to one a forged event names."""
    parts = function_arn.split(":")
    try:
        url = verify(request.response_url, region=parts[3], partition=parts[1], now=time.time())
    except (UrlRefused, IndexError):
        return None
    physical_id = request.physical_id or f"failed-to-start_{request.request_id[:8]}"
    # Counted as every FAILED answer is: FailedAnswersAlarm is how a misdeployment is noticed.
    metrics.emit({metrics.ANSWERS: 1}, Status=FAILED)
    return Reply(Answer(FAILED, physical_id, reason), url)
