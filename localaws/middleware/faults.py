"""Faults and stalls injected into the local AWS, for tests of how a client copes.

An injected fault answers matching calls with an AWS error in the wire format of the call's
protocol (``localaws.wire``), as botocore parses it.

An injected delay reproduces requests stuck in flight: AWS documents no latency bound for its
control plane, and a request can be received and applied late, after the client's own timeout or
after later requests (the AWS SDKs' retry guidance: a timed-out request may still have been
applied). A delayed call is held, in
real time, *before* it reaches moto, so its change lands late and its client stays blocked
meanwhile; while held it does not hold its API (it is not being applied yet), so other changes to
the API go through and it may itself meet a 409 once it is released.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Literal

from localaws.middleware.conflicts import CONFLICT_MESSAGE
from localaws.middleware.quotas import TOO_MANY_REQUESTS_MESSAGE
from localaws.middleware.routes import RequestInfo
from localaws.wire import HttpAnswer, error_answer

FaultPredicate = Callable[[RequestInfo], bool]


def _matches(
    operation: str,
    service: str | None,
    predicate: FaultPredicate | None,
    remaining: int | None,
    info: RequestInfo,
) -> bool:
    """Whether an injected fault or delay applies to this call (``inject``'s matching)."""
    if remaining == 0:
        return False
    if operation not in ("*", info.operation):
        return False
    if service is not None and service != info.service:
        return False
    return predicate is None or predicate(info)


@dataclass
class InjectedFault:
    """One injected fault; ``fired`` counts the answers it gave."""

    operation: str
    status: int
    error_code: str
    message: str
    remaining: int | None
    headers: tuple[tuple[str, str], ...]
    predicate: FaultPredicate | None
    service: str | None
    fired: int = 0

    def matches(self, info: RequestInfo) -> bool:
        return _matches(self.operation, self.service, self.predicate, self.remaining, info)

    def answer(self, info: RequestInfo) -> HttpAnswer:
        """This fault's error, in the wire format of the call's protocol."""
        content_type = info.headers.get("content-type", "")
        return error_answer(
            info.protocol,
            self.status,
            self.error_code,
            self.message,
            extra_headers=self.headers,
            # Answer in the JSON version the request used, as AWS does.
            json_content_type=content_type
            if content_type.startswith("application/x-amz-json")
            else "application/x-amz-json-1.1",
        )


class InjectedDelay:
    """One injected stall: each matching call is held ``seconds`` of real time before it is
    forwarded, then served as usual.

    ``held`` is set when a call starts being held, ``released`` once a held call has been
    answered (after moto applied it, if it got that far; ``statuses`` tells how it was answered,
    in order). ``fired`` counts calls that were held, ``answered`` those answered since.
    ``release()`` ends every hold at once, now and for later matches (``clear()`` does it too).
    """

    def __init__(
        self,
        operation: str,
        seconds: float,
        remaining: int | None,
        predicate: FaultPredicate | None,
        service: str | None,
    ) -> None:
        self.operation = operation
        self.seconds = seconds
        self.remaining = remaining
        self.predicate = predicate
        self.service = service
        self.fired = 0
        self.held = threading.Event()
        self.released = threading.Event()
        self._done = threading.Condition()
        self._statuses: list[int] = []
        self._cut_short = threading.Event()

    def matches(self, info: RequestInfo) -> bool:
        return _matches(self.operation, self.service, self.predicate, self.remaining, info)

    @property
    def answered(self) -> int:
        with self._done:
            return len(self._statuses)

    @property
    def statuses(self) -> list[int]:
        """The HTTP status of each held call, in the order they were answered."""
        with self._done:
            return list(self._statuses)

    def wait_answered(self, count: int = 1, timeout: float | None = None) -> bool:
        """Block until ``count`` held calls have been answered; False on timeout."""
        with self._done:
            return self._done.wait_for(lambda: len(self._statuses) >= count, timeout)

    def release(self) -> None:
        """Stop holding: calls held now go on at once, later matches are not held."""
        self._cut_short.set()

    def hold(self) -> None:
        """Block the thread serving a matching call for ``seconds``, or until released."""
        self.held.set()
        # Real time, not the control plane's clock: a stuck request blocks its client for real.
        self._cut_short.wait(self.seconds)

    def answered_with(self, status: int) -> None:
        """Note how a held call was answered, once it has been."""
        with self._done:
            self._statuses.append(status)
            self._done.notify_all()
        self.released.set()


TransientKind = Literal["conflict", "throttle", "internal", "unavailable"]
TRANSIENT_FAULTS: Mapping[TransientKind, tuple[int, str, str]] = {
    "conflict": (409, "ConflictException", CONFLICT_MESSAGE),
    "throttle": (429, "TooManyRequestsException", TOO_MANY_REQUESTS_MESSAGE),
    "internal": (500, "InternalFailure", "An internal error occurred. Please try again later."),
    "unavailable": (503, "ServiceUnavailableException", "Service Unavailable"),
}


class Faults:
    """The faults and delays injected so far, each checked in the order injected."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._faults: list[InjectedFault] = []
        self._delays: list[InjectedDelay] = []

    def inject(
        self,
        operation: str,
        status: int,
        error_code: str,
        message: str,
        times: int | None = None,
        headers: Mapping[str, str] | Iterable[tuple[str, str]] | None = None,
        predicate: FaultPredicate | None = None,
        *,
        service: str | None = None,
    ) -> InjectedFault:
        """Answer the next ``times`` matching calls (all of them when None) with this error.

        ``operation`` is an operation name as in ``identify`` or ``"*"``. Faults are checked in
        the order injected; each call gets at most one.
        """
        if times is not None and times < 1:
            raise ValueError("times must be >= 1, or None for a permanent fault")
        if not 400 <= status <= 599:
            raise ValueError("an injected fault must have an error status (400-599)")
        extra = tuple((headers.items() if isinstance(headers, Mapping) else headers) or ())
        fault = InjectedFault(
            operation=operation,
            status=status,
            error_code=error_code,
            message=message,
            remaining=times,
            headers=tuple((str(k), str(v)) for k, v in extra),
            predicate=predicate,
            service=service,
        )
        with self._lock:
            self._faults.append(fault)
        return fault

    def inject_transient(
        self,
        operation: str,
        kind: TransientKind,
        times: int | None = 1,
        predicate: FaultPredicate | None = None,
        *,
        service: str | None = None,
    ) -> InjectedFault:
        """Inject one of the typical transient faults of API Gateway (see TRANSIENT_FAULTS)."""
        status, code, message = TRANSIENT_FAULTS[kind]
        headers = {"Retry-After": "1"} if kind == "throttle" else None
        return self.inject(
            operation, status, code, message, times, headers, predicate, service=service
        )

    def inject_delay(
        self,
        operation: str,
        seconds: float,
        times: int | None = 1,
        predicate: FaultPredicate | None = None,
        *,
        service: str | None = None,
    ) -> InjectedDelay:
        """Hold the next ``times`` matching calls (all of them when None) for ``seconds`` of
        real time each, before they reach moto, then serve them as usual.

        Matching is ``inject``'s: an operation name as in ``identify`` or ``"*"``, ``service``,
        ``predicate``; delays are checked in the order injected and each call gets at most one.
        A call is held after the quota check (a stuck request was received and counted) and
        before faults, conflicts and moto: an injected fault may answer it once it is released,
        and while it is held it does not hold its API.
        """
        if times is not None and times < 1:
            raise ValueError("times must be >= 1, or None for a permanent delay")
        if not math.isfinite(seconds) or seconds < 0:
            raise ValueError("seconds must be a finite number >= 0")
        delay = InjectedDelay(operation, float(seconds), times, predicate, service)
        with self._lock:
            self._delays.append(delay)
        return delay

    def clear(self) -> None:
        """Remove every injected fault and delay; calls being held go on at once."""
        with self._lock:
            self._faults.clear()
        self.release_delays()

    def release_delays(self) -> None:
        """Remove every injected delay; calls being held go on at once."""
        with self._lock:
            delays, self._delays = self._delays, []
        for delay in delays:
            delay.release()

    def take_delay(self, info: RequestInfo) -> InjectedDelay | None:
        """The first delay that applies to this call, counted as fired; None if none does."""
        with self._lock:
            for delay in self._delays:
                if delay.matches(info):
                    if delay.remaining is not None:
                        delay.remaining -= 1
                    delay.fired += 1
                    return delay
        return None

    def take_fault(self, info: RequestInfo) -> InjectedFault | None:
        """The first fault that applies to this call, counted as fired; None if none does."""
        with self._lock:
            for fault in self._faults:
                if fault.matches(info):
                    if fault.remaining is not None:
                        fault.remaining -= 1
                    fault.fired += 1
                    return fault
        return None
