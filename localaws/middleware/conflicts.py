"""API Gateway's 409 on concurrent modification of one REST API.

Reproduces 409 ``ConflictException`` "Unable to complete operation due to concurrent
modification. Please try again later." when a change to a REST API overlaps another change to
the same API (terraform-provider-aws#776, #16439). Changes take time in AWS; here each mutating
call holds its API for a service time drawn from a configurable uniform distribution, and really
takes that long. Reads are never 409, and FlushStageAuthorizersCache does not change the API
(``RequestInfo.is_mutating``).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager

from localaws.wire import HttpAnswer, error_answer

CONFLICT_MESSAGE = (
    "Unable to complete operation due to concurrent modification. Please try again later."
)

# (low, high) seconds: a change's service time is drawn uniformly from it.
ServiceTime = tuple[float, float]
DEFAULT_SERVICE_TIMES: Mapping[str, ServiceTime] = {
    "UpdateAuthorizer": (0.2, 0.5),
    "CreateDeployment": (1.0, 3.0),
}
DEFAULT_OTHER_SERVICE_TIME: ServiceTime = (0.1, 0.3)

# The REST API a change is applied to: (account, region, API id).
ApiKey = tuple[str, str, str]


class BusyApis:
    """The REST APIs a change is being applied to right now."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._busy: set[ApiKey] = set()

    @contextmanager
    def holding(self, api: ApiKey) -> Iterator[bool]:
        """Hold ``api`` for the block and yield True; yield False, holding nothing, when
        another change holds it already."""
        with self._lock:
            if api in self._busy:
                held = False
            else:
                self._busy.add(api)
                held = True
        try:
            yield held
        finally:
            if held:
                with self._lock:
                    self._busy.discard(api)


def conflict_answer() -> HttpAnswer:
    """The 409 a change overlapping another change to its API gets."""
    return error_answer("rest-json", 409, "ConflictException", CONFLICT_MESSAGE)
