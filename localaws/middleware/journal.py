"""What the local AWS answered: per-operation counters and a journal of every call, for tests
to assert on."""

from __future__ import annotations

import threading
from dataclasses import dataclass

from localaws.middleware.clocks import Clock
from localaws.middleware.routes import RequestInfo


@dataclass(frozen=True)
class OperationCounters:
    """Counts for one operation. ``conflicts`` and ``throttled`` count answers by status, whatever
    produced them (model or injection); ``injected`` counts injected faults."""

    calls: int = 0
    success: int = 0
    conflicts: int = 0
    throttled: int = 0
    injected: int = 0
    errors: int = 0


@dataclass(frozen=True)
class CallRecord:
    """One answered call, in the order answers were given."""

    time: float
    wall_time: float
    account_id: str
    region: str
    service: str
    operation: str
    api_id: str | None
    status: int
    injected: bool = False
    # What IAM would authorize: the HTTP method and path, and the request body (for the
    # condition keys it carries, such as the pool ARNs of an UpdateAuthorizer).
    method: str = ""
    path: str = ""
    body: bytes = b""
    user_agent: str = ""
    # The answer's size: what a DynamoDB read costs follows from it (read units per 4 KB).
    answer_bytes: int = 0


class Journal:
    """Every answered call, in the order answers were given, and counters per operation."""

    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._counters: dict[str, OperationCounters] = {}
        self._calls: list[CallRecord] = []

    def record(self, info: RequestInfo, status: int, injected: bool, answer_bytes: int = 0) -> None:
        entry = CallRecord(
            time=self._clock.monotonic(),
            wall_time=self._clock.time(),
            account_id=info.account_id,
            region=info.region,
            service=info.service,
            operation=info.operation,
            api_id=info.api_id,
            status=status,
            injected=injected,
            method=info.method,
            path=info.path,
            body=info.body,
            user_agent=info.headers.get("User-Agent", info.headers.get("user-agent", "")),
            answer_bytes=answer_bytes,
        )
        with self._lock:
            old = self._counters.get(info.operation, OperationCounters())
            self._counters[info.operation] = OperationCounters(
                calls=old.calls + 1,
                success=old.success + (200 <= status < 300),
                conflicts=old.conflicts + (status == 409),
                throttled=old.throttled + (status == 429),
                injected=old.injected + injected,
                errors=old.errors + (status >= 400),
            )
            self._calls.append(entry)

    def counters(self) -> dict[str, OperationCounters]:
        """A snapshot of the per-operation counters."""
        with self._lock:
            return dict(self._counters)

    def counter(self, operation: str) -> OperationCounters:
        with self._lock:
            return self._counters.get(operation, OperationCounters())

    def calls(self) -> list[CallRecord]:
        """A snapshot of the journal."""
        with self._lock:
            return list(self._calls)

    def clear(self) -> None:
        """Forget every call and count."""
        with self._lock:
            self._counters.clear()
            self._calls.clear()
