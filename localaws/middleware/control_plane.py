"""API Gateway's control plane as AWS documents it, as a WSGI middleware in front of moto.

Each call is identified (``routes``) and checked against its account's quotas (``quotas``);
then it is held if a stall was injected, answered by an injected fault (``faults``) or by a 409
when it overlaps another change to its API (``conflicts``), else answered by ``dispatch``
(moto, or this package where moto falls short of AWS). Every answer is recorded (``journal``).
Each of those modules cites the AWS documentation of the behaviour it reproduces.

``time_scale`` compresses the model uniformly: every quota interval and every service time is
multiplied by it (0.05 runs the same model 20 times faster). The model is off by default:
most functional tests want a plain, instant, strict AWS; concurrency tests turn it on.
"""

from __future__ import annotations

import dataclasses
import random
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from localaws.awslambda import async_invoke as lambda_async
from localaws.middleware.clocks import Clock, SystemClock
from localaws.middleware.conflicts import (
    DEFAULT_OTHER_SERVICE_TIME,
    DEFAULT_SERVICE_TIMES,
    BusyApis,
    ServiceTime,
    conflict_answer,
)
from localaws.middleware.dispatch import dispatch
from localaws.middleware.faults import (
    FaultPredicate,
    Faults,
    InjectedDelay,
    InjectedFault,
    TransientKind,
)
from localaws.middleware.journal import CallRecord, Journal, OperationCounters
from localaws.middleware.quotas import ACCOUNT_QUOTA, CREATE_DEPLOYMENT_QUOTA, BucketSpec, Quotas
from localaws.middleware.routes import RequestInfo, identify
from localaws.wire import HttpAnswer

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment


@dataclass(frozen=True)
class ControlPlaneConfig:
    """Everything the model can be told. ``model_enabled=False`` is a plain, instant AWS."""

    model_enabled: bool = False
    time_scale: float = 1.0
    create_deployment_quota: BucketSpec | None = CREATE_DEPLOYMENT_QUOTA
    account_quota: BucketSpec | None = ACCOUNT_QUOTA
    conflicts_enabled: bool = True
    service_times: Mapping[str, ServiceTime] = field(
        default_factory=lambda: dict(DEFAULT_SERVICE_TIMES)
    )
    default_service_time: ServiceTime = DEFAULT_OTHER_SERVICE_TIME
    retry_after: bool = True

    def __post_init__(self) -> None:
        if self.time_scale <= 0:
            raise ValueError("time_scale must be > 0")
        for name, (low, high) in [
            *self.service_times.items(),
            ("default", self.default_service_time),
        ]:
            if not 0 <= low <= high:
                raise ValueError(f"service time of {name} must satisfy 0 <= low <= high")

    def service_time_range(self, operation: str) -> ServiceTime:
        return self.service_times.get(operation, self.default_service_time)


class ControlPlane:
    """WSGI middleware: the control-plane model in front of moto's server application."""

    def __init__(
        self,
        app: WSGIApplication,
        config: ControlPlaneConfig | None = None,
        *,
        clock: Clock | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self._app = app
        self._initial_config = config or ControlPlaneConfig()
        self._config = self._initial_config
        self._clock: Clock = clock or SystemClock()
        self._rng = rng or random.Random()
        self._lock = threading.Lock()
        self._quotas = self._quotas_for(self._config)
        self._busy_apis = BusyApis()
        self._faults = Faults()
        self._journal = Journal(self._clock)
        # Lambda's asynchronous invocations of the functions attached to it.
        self.lambda_async = lambda_async.AsyncInvocations()
        self._observers: list[Callable[[RequestInfo], None]] = []
        self._after: list[Callable[[RequestInfo, HttpAnswer], None]] = []

    # -- configuration -------------------------------------------------------------------

    @property
    def config(self) -> ControlPlaneConfig:
        with self._lock:
            return self._config

    @property
    def clock(self) -> Clock:
        return self._clock

    def configure(self, **changes: Any) -> ControlPlaneConfig:
        """Change configuration fields (see ControlPlaneConfig); quota buckets start full."""
        with self._lock:
            self._config = dataclasses.replace(self._config, **changes)
            self._quotas = self._quotas_for(self._config)
            return self._config

    def enable_model(self, **changes: Any) -> ControlPlaneConfig:
        """Turn quotas and conflicts on (with optional other changes)."""
        return self.configure(model_enabled=True, **changes)

    def disable_model(self) -> ControlPlaneConfig:
        """A plain, instant AWS again (faults and journal keep working)."""
        return self.configure(model_enabled=False)

    def _quotas_for(self, config: ControlPlaneConfig) -> Quotas:
        return Quotas(
            self._clock,
            account_quota=config.account_quota,
            create_deployment_quota=config.create_deployment_quota,
            time_scale=config.time_scale,
            retry_after=config.retry_after,
        )

    # -- faults (``Faults`` tells how each works) ---------------------------------------------

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
        """Answer the next ``times`` matching calls (all of them when None) with this error."""
        return self._faults.inject(
            operation, status, error_code, message, times, headers, predicate, service=service
        )

    def inject_transient(
        self,
        operation: str,
        kind: TransientKind,
        times: int | None = 1,
        predicate: FaultPredicate | None = None,
        *,
        service: str | None = None,
    ) -> InjectedFault:
        """Inject one of the typical transient faults of API Gateway."""
        return self._faults.inject_transient(operation, kind, times, predicate, service=service)

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
        real time each, before they reach moto, then serve them as usual."""
        return self._faults.inject_delay(operation, seconds, times, predicate, service=service)

    def clear(self) -> None:
        """Remove every injected fault and delay; calls being held go on at once."""
        self._faults.clear()

    def release_delays(self) -> None:
        """Remove every injected delay; calls being held go on at once."""
        self._faults.release_delays()

    # -- observation -------------------------------------------------------------------------

    def counters(self) -> dict[str, OperationCounters]:
        """A snapshot of the per-operation counters."""
        return self._journal.counters()

    def counter(self, operation: str) -> OperationCounters:
        return self._journal.counter(operation)

    def journal(self) -> list[CallRecord]:
        """A snapshot of the call journal."""
        return self._journal.calls()

    def refill(self) -> None:
        """As after a quiet spell: every quota bucket full again (nothing else forgotten)."""
        with self._lock:
            self._quotas.refill()

    def reset(self) -> None:
        """Forget faults, delays (releasing held calls), counters, journal and quota state;
        restore the initial config."""
        with self._lock:
            self._config = self._initial_config
            self._quotas = self._quotas_for(self._config)
        self._journal.clear()
        self.lambda_async.reset()
        self._faults.clear()
        with self._lock:
            self._observers.clear()
            self._after.clear()

    def after(self, observer: Callable[[RequestInfo, HttpAnswer], None]) -> None:
        """Run ``observer`` once each call was served, before its answer leaves: the instant a
        caller can die having changed AWS without hearing so (a crash at a named point).
        Forgotten by ``reset()``."""
        with self._lock:
            self._after.append(observer)

    def observe(self, observer: Callable[[RequestInfo], None]) -> None:
        """Run ``observer`` just before each call (within quota) is answered: a bystander, a
        tenant's user calling the API, acting in the instant between two of a client's calls,
        where real traffic lands too. Forgotten by ``reset()``."""
        with self._lock:
            self._observers.append(observer)

    # -- WSGI --------------------------------------------------------------------------------

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        if str(environ.get("PATH_INFO", "")).startswith("/moto-api"):
            # moto's own management API (reset, state transitions) is not AWS.
            return self._app(environ, start_response)
        info = identify(environ)
        with self._lock:
            config, quotas = self._config, self._quotas
        if config.model_enabled and info.service == "apigateway":
            throttled = quotas.admit(info.account_id, info.operation)
            if throttled is not None:
                self._journal.record(info, throttled.status, False, len(throttled.body))
                start_response(throttled.status_line, list(throttled.headers))
                return [throttled.body]
        delay = self._faults.take_delay(info)
        if delay is None:
            answer, injected = self._handle(info, environ)
            self._journal.record(info, answer.status, injected, len(answer.body))
        else:
            delay.hold()
            status = 500
            try:
                answer, injected = self._handle(info, environ)
                status = answer.status
                self._journal.record(info, status, injected, len(answer.body))
            finally:
                # Also when serving it raised: a test waiting for it must not wait forever.
                delay.answered_with(status)
        with self._lock:
            after = list(self._after)
        for observer in after:
            observer(info, answer)
        start_response(answer.status_line, list(answer.headers))
        return [answer.body]

    def _handle(self, info: RequestInfo, environ: WSGIEnvironment) -> tuple[HttpAnswer, bool]:
        """Faults, conflicts and moto, for a call within quota (and released, if held)."""
        with self._lock:
            observers = list(self._observers)
        for observer in observers:
            observer(info)
        # Read again: a held call is served with the configuration of when it is released.
        config = self.config
        fault = self._faults.take_fault(info)
        if fault is not None:
            return fault.answer(info), True
        if config.model_enabled and config.conflicts_enabled and info.is_mutating:
            assert info.api_id is not None
            with self._busy_apis.holding((info.account_id, info.region, info.api_id)) as held:
                if not held:
                    return conflict_answer(), False
                low, high = config.service_time_range(info.operation)
                # The change really takes this long, with the API held all along, as in AWS.
                self._clock.sleep(self._rng.uniform(low, high) * config.time_scale)
                return dispatch(self._app, self.lambda_async, info, environ), False
        return dispatch(self._app, self.lambda_async, info, environ), False
