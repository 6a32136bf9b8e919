"""API Gateway's control plane as AWS documents it, as a WSGI middleware in front of moto.

Reproduces (sources as collected in ``shared/reference/aws-facts.md``):

- The control-plane quotas of the API Gateway developer guide's quotas page, per account:
  CreateDeployment 1 request every 5 seconds; all control-plane calls together 10 per second
  with a burst of 40. Over quota the call answers 429 ``TooManyRequestsException`` with body
  ``{"message": "Too Many Requests"}``; AWS says a ``Retry-After`` header "may be present", so it
  is configurable. A throttled call consumes no token.
- 409 ``ConflictException`` "Unable to complete operation due to concurrent modification. Please
  try again later." when a change to a REST API overlaps another change to the same API
  (terraform-provider-aws#776, #16439). Changes take time in AWS; here each mutating call holds
  its API for a service time drawn from a configurable uniform distribution, and really takes
  that long. Reads are never 409, and FlushStageAuthorizersCache does not change the API.
- FlushStageAuthorizersCache, which moto does not route, and GetExport of a stage, whose moto
  version ignores the stage and knows no authorizer, both answered by ``apigateway_ext``. Both
  are reads of the API (never 409) and count in the account quota like every other call.
- Requests stuck in flight (``inject_delay``): AWS documents no latency bound for its control
  plane, and a request can be received and applied late, after the client's own timeout or
  after later requests (the AWS SDKs' retry guidance: a timed-out request may still have been
  applied). A delayed call is held, in real time, *before* it reaches moto, so its change lands
  late and its client stays blocked meanwhile; while held it does not hold its API (it is not
  being applied yet), so other changes to the API go through and it may itself meet a 409 once
  it is released.

- Lambda's asynchronous ``Invoke`` of the functions attached to ``lambda_async`` (moto would
  need Docker): delivered later, on its own thread, at least once (``lambda_async``).

Also: fault injection in each protocol's wire format (``localaws.wire``), per-operation counters
and a call journal for tests to assert on.

Accounts: each request's account is resolved exactly as moto resolves it
(``moto.core.responses.BaseResponse.get_current_account``): ``MOTO_ACCOUNT_ID`` in the
environment, else the ``x-moto-account-id`` header, else the account IAM in moto maps the SigV4
access key to, else moto's default 123456789012. Quotas and API locks are kept per that account,
so the state here always matches the moto account whose API is being changed.

``time_scale`` compresses the model uniformly: every quota interval and every service time is
multiplied by it (0.05 runs the same model 20 times faster). The model is off by default:
most functional tests want a plain, instant, strict AWS; concurrency tests turn it on.
"""

from __future__ import annotations

import dataclasses
import io
import json
import math
import os
import random
import re
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, Protocol

from moto.iam.models import get_account_id_from

from localaws import apigateway_ext, dynamodb_ext, lambda_async
from localaws.wire import HttpAnswer, WireProtocol, error_answer

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

UNKNOWN_OPERATION = "Unknown"
DEFAULT_REGION = "us-east-1"
DEFAULT_ACCOUNT_ID = "123456789012"
CONFLICT_MESSAGE = (
    "Unable to complete operation due to concurrent modification. Please try again later."
)
TOO_MANY_REQUESTS_MESSAGE = "Too Many Requests"


class Clock(Protocol):
    """What the model needs of time: injectable so unit tests need no real sleeping."""

    def monotonic(self) -> float: ...

    def time(self) -> float: ...

    def sleep(self, seconds: float) -> None: ...


class SystemClock:
    """The real clock."""

    def monotonic(self) -> float:
        return time.monotonic()

    def time(self) -> float:
        return time.time()

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)


class ManualClock:
    """A clock that moves only when told to; ``sleep`` advances it instead of blocking."""

    def __init__(self, start: float = 1_000.0) -> None:
        self._lock = threading.Lock()
        self._now = start
        self.slept: list[float] = []

    def monotonic(self) -> float:
        with self._lock:
            return self._now

    def time(self) -> float:
        # An arbitrary epoch offset: wall time only has to move with monotonic time.
        return 1_700_000_000.0 + self.monotonic()

    def advance(self, seconds: float) -> None:
        if seconds < 0:
            raise ValueError("a clock does not go backwards")
        with self._lock:
            self._now += seconds

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.advance(max(0.0, seconds))


@dataclass(frozen=True)
class BucketSpec:
    """A token bucket: up to ``capacity`` tokens (the burst), one new token per ``interval`` s."""

    capacity: int
    interval: float

    def __post_init__(self) -> None:
        if self.capacity < 1 or self.interval <= 0:
            raise ValueError(f"invalid token bucket {self}")


# API Gateway quotas page: none of these can be raised.
CREATE_DEPLOYMENT_QUOTA = BucketSpec(capacity=1, interval=5.0)
ACCOUNT_QUOTA = BucketSpec(capacity=40, interval=0.1)


class TokenBucket:
    """A thread-safe token bucket on an injectable clock."""

    def __init__(self, spec: BucketSpec, clock: Clock, time_scale: float = 1.0) -> None:
        self.spec = spec
        self._interval = spec.interval * time_scale
        self._clock = clock
        self._lock = threading.Lock()
        self._tokens = float(spec.capacity)
        self._updated = clock.monotonic()

    def _refill(self) -> None:
        now = self._clock.monotonic()
        elapsed = max(0.0, now - self._updated)
        self._tokens = min(float(self.spec.capacity), self._tokens + elapsed / self._interval)
        self._updated = now

    def wait_time(self) -> float:
        """Seconds until a token is available; 0.0 when one is available now."""
        with self._lock:
            self._refill()
            # The epsilon absorbs float error after exact refills (e.g. 50 x 0.1 s).
            if self._tokens >= 1.0 - 1e-9:
                return 0.0
            return (1.0 - self._tokens) * self._interval

    def take(self) -> None:
        """Consume one token (call only after ``wait_time() == 0``)."""
        with self._lock:
            self._refill()
            self._tokens = max(0.0, self._tokens - 1.0)

    def try_acquire(self) -> float:
        """Take a token if one is available: returns 0.0, else the seconds to wait."""
        with self._lock:
            self._refill()
            if self._tokens >= 1.0 - 1e-9:
                self._tokens = max(0.0, self._tokens - 1.0)
                return 0.0
            return (1.0 - self._tokens) * self._interval


ServiceTime = tuple[float, float]
DEFAULT_SERVICE_TIMES: Mapping[str, ServiceTime] = {
    "UpdateAuthorizer": (0.2, 0.5),
    "CreateDeployment": (1.0, 3.0),
}
DEFAULT_OTHER_SERVICE_TIME: ServiceTime = (0.1, 0.3)


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


# Method + path → operation name, for the API Gateway REST control plane (botocore's
# apigateway service model gives these request URIs).
_ID = r"[^/]+"
_API = rf"/restapis/(?P<api>{_ID})"
_STAGE = rf"{_API}/stages/(?P<stage>{_ID})"
_METHOD = rf"{_API}/resources/{_ID}/methods/{_ID}"
_APIGATEWAY_ROUTES: list[tuple[str, str, str]] = [
    ("GET", r"/restapis", "GetRestApis"),
    ("POST", r"/restapis", "CreateRestApi"),
    ("GET", _API, "GetRestApi"),
    ("PATCH", _API, "UpdateRestApi"),
    ("PUT", _API, "PutRestApi"),
    ("DELETE", _API, "DeleteRestApi"),
    ("GET", rf"{_API}/authorizers", "GetAuthorizers"),
    ("POST", rf"{_API}/authorizers", "CreateAuthorizer"),
    ("GET", rf"{_API}/authorizers/{_ID}", "GetAuthorizer"),
    ("PATCH", rf"{_API}/authorizers/{_ID}", "UpdateAuthorizer"),
    ("DELETE", rf"{_API}/authorizers/{_ID}", "DeleteAuthorizer"),
    ("POST", rf"{_API}/authorizers/{_ID}", "TestInvokeAuthorizer"),
    ("GET", rf"{_API}/deployments", "GetDeployments"),
    ("POST", rf"{_API}/deployments", "CreateDeployment"),
    ("GET", rf"{_API}/deployments/{_ID}", "GetDeployment"),
    ("PATCH", rf"{_API}/deployments/{_ID}", "UpdateDeployment"),
    ("DELETE", rf"{_API}/deployments/{_ID}", "DeleteDeployment"),
    ("GET", rf"{_API}/stages", "GetStages"),
    ("POST", rf"{_API}/stages", "CreateStage"),
    ("GET", _STAGE, "GetStage"),
    ("PATCH", _STAGE, "UpdateStage"),
    ("DELETE", _STAGE, "DeleteStage"),
    ("DELETE", rf"{_STAGE}/cache/authorizers", "FlushStageAuthorizersCache"),
    ("DELETE", rf"{_STAGE}/cache/data", "FlushStageCache"),
    ("GET", rf"{_STAGE}/exports/{_ID}", "GetExport"),
    ("GET", rf"{_API}/resources", "GetResources"),
    ("GET", rf"{_API}/resources/{_ID}", "GetResource"),
    ("POST", rf"{_API}/resources/{_ID}", "CreateResource"),
    ("PATCH", rf"{_API}/resources/{_ID}", "UpdateResource"),
    ("DELETE", rf"{_API}/resources/{_ID}", "DeleteResource"),
    ("GET", _METHOD, "GetMethod"),
    ("PUT", _METHOD, "PutMethod"),
    ("PATCH", _METHOD, "UpdateMethod"),
    ("DELETE", _METHOD, "DeleteMethod"),
    ("POST", _METHOD, "TestInvokeMethod"),
    ("GET", rf"{_METHOD}/responses/{_ID}", "GetMethodResponse"),
    ("PUT", rf"{_METHOD}/responses/{_ID}", "PutMethodResponse"),
    ("PATCH", rf"{_METHOD}/responses/{_ID}", "UpdateMethodResponse"),
    ("DELETE", rf"{_METHOD}/responses/{_ID}", "DeleteMethodResponse"),
    ("GET", rf"{_METHOD}/integration", "GetIntegration"),
    ("PUT", rf"{_METHOD}/integration", "PutIntegration"),
    ("PATCH", rf"{_METHOD}/integration", "UpdateIntegration"),
    ("DELETE", rf"{_METHOD}/integration", "DeleteIntegration"),
    ("GET", rf"{_METHOD}/integration/responses/{_ID}", "GetIntegrationResponse"),
    ("PUT", rf"{_METHOD}/integration/responses/{_ID}", "PutIntegrationResponse"),
    ("PATCH", rf"{_METHOD}/integration/responses/{_ID}", "UpdateIntegrationResponse"),
    ("DELETE", rf"{_METHOD}/integration/responses/{_ID}", "DeleteIntegrationResponse"),
    ("GET", rf"{_API}/models", "GetModels"),
    ("POST", rf"{_API}/models", "CreateModel"),
    ("GET", rf"{_API}/models/{_ID}", "GetModel"),
    ("PATCH", rf"{_API}/models/{_ID}", "UpdateModel"),
    ("DELETE", rf"{_API}/models/{_ID}", "DeleteModel"),
    ("GET", rf"{_API}/requestvalidators", "GetRequestValidators"),
    ("POST", rf"{_API}/requestvalidators", "CreateRequestValidator"),
    ("GET", rf"{_API}/requestvalidators/{_ID}", "GetRequestValidator"),
    ("PATCH", rf"{_API}/requestvalidators/{_ID}", "UpdateRequestValidator"),
    ("DELETE", rf"{_API}/requestvalidators/{_ID}", "DeleteRequestValidator"),
    ("GET", rf"{_API}/gatewayresponses", "GetGatewayResponses"),
    ("GET", rf"{_API}/gatewayresponses/{_ID}", "GetGatewayResponse"),
    ("PUT", rf"{_API}/gatewayresponses/{_ID}", "PutGatewayResponse"),
    ("PATCH", rf"{_API}/gatewayresponses/{_ID}", "UpdateGatewayResponse"),
    ("DELETE", rf"{_API}/gatewayresponses/{_ID}", "DeleteGatewayResponse"),
    ("GET", r"/account", "GetAccount"),
    ("PATCH", r"/account", "UpdateAccount"),
]
_COMPILED_ROUTES = [
    (method, re.compile(rf"^{pattern}/?$"), name) for method, pattern, name in _APIGATEWAY_ROUTES
]
_EXPORT_TYPE = re.compile(rf"/exports/(?P<type>{_ID})/?$")

# Writes to an API's path that change nothing in the API, so they neither hold nor wait for it.
NON_MUTATING_WRITES = frozenset(
    {"FlushStageAuthorizersCache", "FlushStageCache", "TestInvokeAuthorizer", "TestInvokeMethod"}
)
_MUTATING_METHODS = frozenset({"PATCH", "POST", "PUT", "DELETE"})

# JSON-protocol target prefixes → SigV4 service names, for unsigned calls (Cognito's
# InitiateAuth and friends are unsigned).
_TARGET_PREFIX_SERVICES = {
    "AWSCognitoIdentityProviderService": "cognito-idp",
    "AWSCognitoIdentityService": "cognito-identity",
    "DynamoDB_20120810": "dynamodb",
    "DynamoDBStreams_20120810": "dynamodbstreams",
}
_CREDENTIAL = re.compile(
    r"Credential=(?P<key>[^/,\s]+)/(?P<date>\d{8})/(?P<region>[^/]+)/(?P<service>[^/]+)/aws4_request"
)


@dataclass(frozen=True)
class RequestInfo:
    """What the middleware knows about one request."""

    service: str
    region: str
    account_id: str
    access_key_id: str | None
    operation: str
    protocol: WireProtocol
    method: str
    path: str
    api_id: str | None
    stage_name: str | None
    headers: Mapping[str, str]
    body: bytes

    @property
    def is_mutating(self) -> bool:
        """Whether this call changes a REST API (and so holds it, and can conflict)."""
        return (
            self.service == "apigateway"
            and self.api_id is not None
            and self.method in _MUTATING_METHODS
            and self.operation not in NON_MUTATING_WRITES
        )

    def json_body(self) -> Any:
        """The body parsed as JSON, or None (for fault predicates)."""
        try:
            return json.loads(self.body) if self.body else None
        except ValueError:
            return None


def identify(environ: WSGIEnvironment) -> RequestInfo:
    """Service, region, account and operation of a WSGI request.

    Reads the body and puts it back, so the wrapped application still sees it.
    """
    method = str(environ.get("REQUEST_METHOD", "GET")).upper()
    path = str(environ.get("PATH_INFO", "") or "/")
    headers = _headers_of(environ)
    body = _read_body(environ)
    access_key: str | None = None
    service = "unknown"
    region = DEFAULT_REGION
    credential = _CREDENTIAL.search(headers.get("authorization", ""))
    target = headers.get("x-amz-target")
    if credential is not None:
        access_key = credential["key"]
        service = credential["service"].lower()
        region = credential["region"]
    elif target:
        service = _TARGET_PREFIX_SERVICES.get(target.split(".", 1)[0], "unknown")

    content_type = headers.get("content-type", "")
    protocol: WireProtocol
    operation = UNKNOWN_OPERATION
    api_id: str | None = None
    stage_name: str | None = None
    if target:
        protocol = "json"
        operation = target.rsplit(".", 1)[-1]
    elif service == "apigateway":
        protocol = "rest-json"
        for route_method, pattern, name in _COMPILED_ROUTES:
            if route_method != method:
                continue
            match = pattern.match(path)
            if match is not None:
                operation = name
                groups = match.groupdict()
                api_id = groups.get("api")
                stage_name = groups.get("stage")
                break
        else:
            # Unknown operations still belong to an API when the path names one, so they are
            # subject to the same conflicts as known changes.
            api_match = re.match(rf"^{_API}(?:/|$)", path)
            api_id = api_match["api"] if api_match else None
    elif content_type.startswith("application/x-www-form-urlencoded"):
        protocol = "query"
        action = re.search(rb"(?:^|&)Action=([A-Za-z0-9]+)", body)
        if action is not None:
            operation = action[1].decode()
    elif service == "lambda" and lambda_async.is_invoke(method, path):
        protocol = "rest-json"
        operation = "Invoke"
    elif service == "s3":
        protocol = "rest-xml"
    else:
        protocol = "rest-json"
    return RequestInfo(
        service=service,
        region=region,
        account_id=_account_of(headers, access_key),
        access_key_id=access_key,
        operation=operation,
        protocol=protocol,
        method=method,
        path=path,
        api_id=api_id,
        stage_name=stage_name,
        headers=headers,
        body=body,
    )


def _headers_of(environ: WSGIEnvironment) -> dict[str, str]:
    headers = {
        key[5:].replace("_", "-").lower(): str(value)
        for key, value in environ.items()
        if key.startswith("HTTP_")
    }
    for key in ("CONTENT_TYPE", "CONTENT_LENGTH"):
        if environ.get(key):
            headers[key.replace("_", "-").lower()] = str(environ[key])
    return headers


def _read_body(environ: WSGIEnvironment) -> bytes:
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    stream = environ["wsgi.input"]
    body: bytes
    if length > 0:
        body = stream.read(length)
    elif environ.get("wsgi.input_terminated"):
        # A chunked body (no Content-Length): werkzeug has de-chunked it, read to the end.
        body = stream.read()
    else:
        body = b""
    environ["wsgi.input"] = io.BytesIO(body)
    return body


def _account_of(headers: Mapping[str, str], access_key: str | None) -> str:
    # The same order as moto's BaseResponse.get_current_account, so that quotas and locks are
    # keyed by the account whose moto state the request actually changes.
    if "MOTO_ACCOUNT_ID" in os.environ:
        return os.environ["MOTO_ACCOUNT_ID"]
    if "x-moto-account-id" in headers:
        return headers["x-moto-account-id"]
    if access_key is None:
        return DEFAULT_ACCOUNT_ID
    return get_account_id_from(access_key)


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

    def _hold(self) -> None:
        self.held.set()
        # Real time, not the control plane's clock: a stuck request blocks its client for real.
        self._cut_short.wait(self.seconds)

    def _answered(self, status: int) -> None:
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


# One DynamoDB request at a time (see ``_forward``); shared with ``dynamodb_ext.expire_items`` so
# that TTL expiry is atomic with requests.
_DYNAMODB_LOCK = dynamodb_ext.MODEL_LOCK


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
        self._deployment_buckets: dict[str, TokenBucket] = {}
        self._account_buckets: dict[str, TokenBucket] = {}
        self._busy_apis: set[tuple[str, str, str]] = set()
        self._faults: list[InjectedFault] = []
        self._delays: list[InjectedDelay] = []
        self._counters: dict[str, OperationCounters] = {}
        self._journal: list[CallRecord] = []
        # Lambda's asynchronous invocations of the functions attached to it.
        self.lambda_async = lambda_async.AsyncInvocations()

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
            self._deployment_buckets.clear()
            self._account_buckets.clear()
            return self._config

    def enable_model(self, **changes: Any) -> ControlPlaneConfig:
        """Turn quotas and conflicts on (with optional other changes)."""
        return self.configure(model_enabled=True, **changes)

    def disable_model(self) -> ControlPlaneConfig:
        """A plain, instant AWS again (faults and journal keep working)."""
        return self.configure(model_enabled=False)

    # -- faults ----------------------------------------------------------------------------

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

    # -- observation -------------------------------------------------------------------------

    def counters(self) -> dict[str, OperationCounters]:
        """A snapshot of the per-operation counters."""
        with self._lock:
            return dict(self._counters)

    def counter(self, operation: str) -> OperationCounters:
        with self._lock:
            return self._counters.get(operation, OperationCounters())

    def journal(self) -> list[CallRecord]:
        """A snapshot of the call journal."""
        with self._lock:
            return list(self._journal)

    def refill(self) -> None:
        """As after a quiet spell: every quota bucket full again (nothing else forgotten)."""
        with self._lock:
            self._deployment_buckets.clear()
            self._account_buckets.clear()

    def reset(self) -> None:
        """Forget faults, delays (releasing held calls), counters, journal and quota state;
        restore the initial config."""
        with self._lock:
            self._config = self._initial_config
            self._faults.clear()
            self._counters.clear()
            self._journal.clear()
            self._deployment_buckets.clear()
            self._account_buckets.clear()
        self.lambda_async.reset()
        self.release_delays()

    # -- WSGI --------------------------------------------------------------------------------

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        if str(environ.get("PATH_INFO", "")).startswith("/moto-api"):
            # moto's own management API (reset, state transitions) is not AWS.
            return self._app(environ, start_response)
        info = identify(environ)
        config = self.config
        if config.model_enabled and info.service == "apigateway":
            wait = self._take_quota(info, config)
            if wait is not None:
                answer = self._throttled(wait, config)
                self._record(info, answer.status, False, len(answer.body))
                start_response(answer.status_line, list(answer.headers))
                return [answer.body]
        delay = self._take_delay(info)
        if delay is None:
            answer, injected = self._handle(info, environ)
            self._record(info, answer.status, injected, len(answer.body))
        else:
            delay._hold()
            status = 500
            try:
                answer, injected = self._handle(info, environ)
                status = answer.status
                self._record(info, status, injected, len(answer.body))
            finally:
                # Also when serving it raised: a test waiting for it must not wait forever.
                delay._answered(status)
        start_response(answer.status_line, list(answer.headers))
        return [answer.body]

    def _handle(self, info: RequestInfo, environ: WSGIEnvironment) -> tuple[HttpAnswer, bool]:
        """Faults, conflicts and moto, for a call within quota (and released, if held)."""
        # Read again: a held call is served with the configuration of when it is released.
        config = self.config
        fault = self._take_fault(info)
        if fault is not None:
            return self._fault_answer(fault, info), True
        if config.model_enabled and config.conflicts_enabled and info.is_mutating:
            assert info.api_id is not None
            key = (info.account_id, info.region, info.api_id)
            with self._lock:
                if key in self._busy_apis:
                    return error_answer(
                        "rest-json", 409, "ConflictException", CONFLICT_MESSAGE
                    ), False
                self._busy_apis.add(key)
            try:
                low, high = config.service_time_range(info.operation)
                # The change really takes this long, with the API held all along, as in AWS.
                self._clock.sleep(self._rng.uniform(low, high) * config.time_scale)
                return self._forward(info, environ), False
            finally:
                with self._lock:
                    self._busy_apis.discard(key)
        return self._forward(info, environ), False

    def _take_quota(self, info: RequestInfo, config: ControlPlaneConfig) -> float | None:
        """None when the call is within quota (tokens taken), else the seconds to wait."""
        with self._lock:
            buckets: list[TokenBucket] = []
            if config.account_quota is not None:
                buckets.append(
                    self._bucket(
                        self._account_buckets, info.account_id, config.account_quota, config
                    )
                )
            if config.create_deployment_quota is not None and info.operation == "CreateDeployment":
                buckets.append(
                    self._bucket(
                        self._deployment_buckets,
                        info.account_id,
                        config.create_deployment_quota,
                        config,
                    )
                )
            # Both quotas must allow the call before either is charged: a throttled call
            # consumes nothing.
            wait = max((bucket.wait_time() for bucket in buckets), default=0.0)
            if wait > 0:
                return wait
            for bucket in buckets:
                bucket.take()
            return None

    def _bucket(
        self,
        buckets: dict[str, TokenBucket],
        account_id: str,
        spec: BucketSpec,
        config: ControlPlaneConfig,
    ) -> TokenBucket:
        bucket = buckets.get(account_id)
        if bucket is None:
            bucket = buckets[account_id] = TokenBucket(spec, self._clock, config.time_scale)
        return bucket

    def _throttled(self, wait: float, config: ControlPlaneConfig) -> HttpAnswer:
        headers: tuple[tuple[str, str], ...] = ()
        if config.retry_after:
            # Whole seconds, never 0: a client honouring it must not retry at once. In model
            # seconds (what AWS would say): a client on compressed time sleeps on a clock
            # compressed by the same factor.
            model_wait = wait / config.time_scale
            headers = (("Retry-After", str(max(1, math.ceil(model_wait - 1e-9)))),)
        return error_answer(
            "rest-json",
            429,
            "TooManyRequestsException",
            TOO_MANY_REQUESTS_MESSAGE,
            extra_headers=headers,
        )

    def _take_delay(self, info: RequestInfo) -> InjectedDelay | None:
        with self._lock:
            for delay in self._delays:
                if delay.matches(info):
                    if delay.remaining is not None:
                        delay.remaining -= 1
                    delay.fired += 1
                    return delay
        return None

    def _take_fault(self, info: RequestInfo) -> InjectedFault | None:
        with self._lock:
            for fault in self._faults:
                if fault.matches(info):
                    if fault.remaining is not None:
                        fault.remaining -= 1
                    fault.fired += 1
                    return fault
        return None

    @staticmethod
    def _fault_answer(fault: InjectedFault, info: RequestInfo) -> HttpAnswer:
        content_type = info.headers.get("content-type", "")
        return error_answer(
            info.protocol,
            fault.status,
            fault.error_code,
            fault.message,
            extra_headers=fault.headers,
            # Answer in the JSON version the request used, as AWS does.
            json_content_type=content_type
            if content_type.startswith("application/x-amz-json")
            else "application/x-amz-json-1.1",
        )

    def _forward(self, info: RequestInfo, environ: WSGIEnvironment) -> HttpAnswer:
        if info.operation == "FlushStageAuthorizersCache":
            assert info.api_id is not None
            assert info.stage_name is not None
            return apigateway_ext.flush_stage_authorizers_cache(
                info.account_id, info.region, info.api_id, info.stage_name
            )
        if info.operation == "GetExport":
            assert info.api_id is not None
            assert info.stage_name is not None
            export_type = _EXPORT_TYPE.search(info.path)
            assert export_type is not None
            return apigateway_ext.get_export(
                info.account_id,
                info.region,
                info.api_id,
                info.stage_name,
                export_type["type"],
                query=str(environ.get("QUERY_STRING", "")),
                accept=info.headers.get("accept"),
            )
        if info.operation == "Invoke" and info.service == "lambda":
            return self.lambda_async.invoke(info.path, info.headers, info.body)
        if info.service == "dynamodb":
            # DynamoDB applies each write, condition included, atomically (developer guide,
            # "Condition expressions"; transactions are all-or-nothing). moto's models check
            # and then write without a lock, so concurrent requests could both pass one
            # condition; one request at a time restores the atomicity.
            with _DYNAMODB_LOCK:
                return _call_wsgi(self._app, environ)
        return _call_wsgi(self._app, environ)

    def _record(
        self, info: RequestInfo, status: int, injected: bool, answer_bytes: int = 0
    ) -> None:
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
            self._journal.append(entry)


def _call_wsgi(app: WSGIApplication, environ: WSGIEnvironment) -> HttpAnswer:
    """Run a WSGI application to completion and keep its whole answer.

    Buffering lets the middleware hold an API until moto has finished changing it, and record
    the status. moto's answers are small.
    """
    status_line = "500 Internal Server Error"
    headers: list[tuple[str, str]] = []
    chunks: list[bytes] = []

    def start_response(
        status: str, response_headers: list[tuple[str, str]], exc_info: Any = None
    ) -> Callable[[bytes], object]:
        nonlocal status_line, headers
        status_line, headers = status, list(response_headers)
        return chunks.append

    result = app(environ, start_response)
    try:
        chunks.extend(result)
    finally:
        close = getattr(result, "close", None)
        if close is not None:
            close()
    return HttpAnswer(
        status=int(status_line.split(maxsplit=1)[0]), headers=tuple(headers), body=b"".join(chunks)
    )
