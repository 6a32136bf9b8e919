"""FlushStageAuthorizersCache, which moto does not route, and the journal of every flush.

Reproduces:
``FlushStageAuthorizersCache`` (``DELETE /restapis/{id}/stages/{stage}/cache/authorizers``,
202; API Gateway API reference). ``flush_stage_authorizers_cache`` is what the control-plane
middleware calls; every successful flush empties the stage's ``AUTHORIZER_CACHE`` and is
recorded in ``FLUSH_JOURNAL``.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

from localaws.apigateway.state import MODEL_LOCK, api_or_none
from localaws.dataplane.cache import AUTHORIZER_CACHE, StageKey
from localaws.wire import HttpAnswer, empty_answer, error_answer


@dataclass(frozen=True)
class FlushRecord:
    """One successful FlushStageAuthorizersCache."""

    monotonic: float
    wall_time: float
    account_id: str
    region: str
    api_id: str
    stage_name: str


class FlushJournal:
    """A thread-safe list of successful flushes, in the order they happened."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._records: list[FlushRecord] = []

    def record(self, account_id: str, region: str, api_id: str, stage_name: str) -> FlushRecord:
        entry = FlushRecord(
            monotonic=time.monotonic(),
            wall_time=time.time(),
            account_id=account_id,
            region=region,
            api_id=api_id,
            stage_name=stage_name,
        )
        with self._lock:
            self._records.append(entry)
        return entry

    def records(
        self, *, api_id: str | None = None, stage_name: str | None = None
    ) -> list[FlushRecord]:
        """A snapshot of the journal, optionally filtered by API and stage."""
        with self._lock:
            snapshot = list(self._records)
        return [
            r
            for r in snapshot
            if (api_id is None or r.api_id == api_id)
            and (stage_name is None or r.stage_name == stage_name)
        ]

    def clear(self) -> None:
        with self._lock:
            self._records.clear()

    def __len__(self) -> int:
        with self._lock:
            return len(self._records)


FLUSH_JOURNAL = FlushJournal()


def flush_stage_authorizers_cache(
    account_id: str, region: str, api_id: str, stage_name: str
) -> HttpAnswer:
    """Answer FlushStageAuthorizersCache: 202 when the API and stage exist, 404 otherwise.

    The 404 has API Gateway's wire shape (code in ``x-amzn-ErrorType``, ``{"message": ...}``)
    and moto's messages for a missing API or stage, so botocore raises NotFoundException.
    """
    with MODEL_LOCK:
        api = api_or_none(account_id, region, api_id)
        if api is None:
            return error_answer(
                "rest-json", 404, "NotFoundException", "Invalid Rest API Id specified"
            )
        if stage_name not in api.stages:
            return error_answer(
                "rest-json", 404, "NotFoundException", "Invalid stage identifier specified"
            )
        FLUSH_JOURNAL.record(account_id, region, api_id, stage_name)
        AUTHORIZER_CACHE.flush(StageKey(account_id, region, api_id, stage_name))
    return empty_answer(202)
