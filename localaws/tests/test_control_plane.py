"""localaws.middleware.control_plane: quotas, conflicts, faults, stalls and the journal, on a
clock tests control."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError
from werkzeug.test import Client, EnvironBuilder

from localaws.dynamodb import model as dynamodb_model
from localaws.middleware.clocks import ManualClock
from localaws.middleware.conflicts import CONFLICT_MESSAGE
from localaws.middleware.control_plane import ControlPlane, ControlPlaneConfig
from localaws.middleware.dispatch import _DYNAMODB_LOCK
from localaws.middleware.faults import InjectedDelay
from localaws.middleware.quotas import BucketSpec
from localaws.middleware.routes import RequestInfo, identify
from localaws.server import LocalAws

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIEnvironment
    from mypy_boto3_apigateway import APIGatewayClient

ACCOUNT = "123456789012"
OTHER_ACCOUNT = "111122223333"


def auth(service: str = "apigateway", region: str = "us-east-1") -> dict[str, str]:
    """A SigV4 Authorization header (the middleware reads only the credential scope)."""
    return {
        "Authorization": f"AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20240101/{region}/{service}/"
        "aws4_request, SignedHeaders=host;x-amz-date, Signature=" + "0" * 64
    }


def ok_app(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
    start_response("200 OK", [("Content-Type", "application/json")])
    return [b"{}"]


def info_of(method: str, path: str, headers: dict[str, str] | None = None) -> RequestInfo:
    environ = EnvironBuilder(
        path=path, method=method, headers=list((headers or auth()).items())
    ).get_environ()
    return identify(environ)


# -- configuration ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "changes",
    [{"time_scale": 0}, {"default_service_time": (0.5, 0.1)}, {"service_times": {"X": (-1, 1)}}],
)
def test_invalid_configuration_is_refused(changes: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match=r"time_scale|service time"):
        ControlPlaneConfig(**changes)


# -- identifying requests ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path", "operation", "api_id", "stage", "mutating"),
    [
        ("GET", "/restapis", "GetRestApis", None, None, False),
        ("POST", "/restapis", "CreateRestApi", None, None, False),
        ("GET", "/restapis/a1", "GetRestApi", "a1", None, False),
        ("GET", "/restapis/a1/authorizers/z9", "GetAuthorizer", "a1", None, False),
        ("PATCH", "/restapis/a1/authorizers/z9", "UpdateAuthorizer", "a1", None, True),
        ("POST", "/restapis/a1/deployments", "CreateDeployment", "a1", None, True),
        ("GET", "/restapis/a1/deployments", "GetDeployments", "a1", None, False),
        ("GET", "/restapis/a1/deployments/d1", "GetDeployment", "a1", None, False),
        ("GET", "/restapis/a1/stages", "GetStages", "a1", None, False),
        ("GET", "/restapis/a1/stages/prod", "GetStage", "a1", "prod", False),
        ("PATCH", "/restapis/a1/stages/prod", "UpdateStage", "a1", "prod", True),
        (
            "DELETE",
            "/restapis/a1/stages/prod/cache/authorizers",
            "FlushStageAuthorizersCache",
            "a1",
            "prod",
            False,
        ),
        ("GET", "/restapis/a1/stages/prod/exports/oas30", "GetExport", "a1", "prod", False),
        ("PUT", "/restapis/a1/resources/r1/methods/GET", "PutMethod", "a1", None, True),
        ("PUT", "/restapis/a1/documentation/parts/x", "Unknown", "a1", None, True),
        ("GET", "/restapis/a1/documentation/parts", "Unknown", "a1", None, False),
    ],
)
def test_apigateway_operations_are_named_from_method_and_path(
    method: str,
    path: str,
    operation: str,
    api_id: str | None,
    stage: str | None,
    mutating: bool,
) -> None:
    info = info_of(method, path)
    assert (info.service, info.protocol) == ("apigateway", "rest-json")
    assert (info.operation, info.api_id, info.stage_name) == (operation, api_id, stage)
    assert info.is_mutating is mutating


@pytest.mark.parametrize(
    ("target", "service", "operation"),
    [
        ("AWSCognitoIdentityProviderService.DescribeUserPool", "cognito-idp", "DescribeUserPool"),
        ("DynamoDB_20120810.PutItem", "dynamodb", "PutItem"),
    ],
)
def test_json_protocol_operations_come_from_the_target_header(
    target: str, service: str, operation: str
) -> None:
    signed = info_of("POST", "/", {**auth(service, "eu-west-1"), "X-Amz-Target": target})
    unsigned = info_of("POST", "/", {"X-Amz-Target": target})
    for info in (signed, unsigned):
        assert (info.service, info.operation, info.protocol) == (service, operation, "json")
    assert signed.region == "eu-west-1"


def test_account_is_resolved_like_moto() -> None:
    assert info_of("GET", "/restapis").account_id == ACCOUNT
    other = info_of("GET", "/restapis", {**auth(), "x-moto-account-id": OTHER_ACCOUNT})
    assert other.account_id == OTHER_ACCOUNT
    assert other.access_key_id == "AKIDEXAMPLE"


def test_identify_leaves_the_body_readable() -> None:
    environ = EnvironBuilder(
        path="/restapis/a1/authorizers/z9",
        method="PATCH",
        headers=list(auth().items()),
        data=b'{"a": 1}',
    ).get_environ()
    info = identify(environ)
    assert info.json_body() == {"a": 1}
    assert environ["wsgi.input"].read() == b'{"a": 1}'


# -- quotas (middleware around an instant app, manual clock) ------------------------------------


@dataclass
class Harness:
    plane: ControlPlane
    clock: ManualClock
    client: Client

    def call(
        self, method: str, path: str, account: str = ACCOUNT, service: str = "apigateway"
    ) -> Any:
        headers = {**auth(service), "x-moto-account-id": account}
        return self.client.open(path, method=method, headers=headers)


@pytest.fixture
def harness() -> Harness:
    clock = ManualClock()
    plane = ControlPlane(ok_app, clock=clock)
    return Harness(plane, clock, Client(plane))


def test_model_off_by_default_never_throttles(harness: Harness) -> None:
    statuses = {harness.call("POST", "/restapis/a1/deployments").status_code for _ in range(60)}
    assert statuses == {200}


def test_over_the_account_quota_answers_429_with_retry_after(harness: Harness) -> None:
    harness.plane.enable_model(account_quota=BucketSpec(3, 1.0), conflicts_enabled=False)
    assert [harness.call("GET", "/restapis").status_code for _ in range(3)] == [200] * 3
    throttled = harness.call("GET", "/restapis")
    assert throttled.status_code == 429
    assert throttled.headers["x-amzn-ErrorType"] == "TooManyRequestsException"
    assert throttled.headers["Retry-After"] == "1"
    assert json.loads(throttled.get_data()) == {"message": "Too Many Requests"}
    # Per account: another account has its own bucket.
    assert harness.call("GET", "/restapis", account=OTHER_ACCOUNT).status_code == 200
    harness.clock.advance(1.0)
    assert harness.call("GET", "/restapis").status_code == 200


def test_create_deployment_quota_and_retry_after_in_whole_seconds(harness: Harness) -> None:
    harness.plane.enable_model(conflicts_enabled=False)
    assert harness.call("POST", "/restapis/a1/deployments").status_code == 200
    throttled = harness.call("POST", "/restapis/a1/deployments")
    assert throttled.status_code == 429
    assert throttled.headers["Retry-After"] == "5"
    harness.clock.advance(4.5)
    assert harness.call("POST", "/restapis/a2/deployments").headers["Retry-After"] == "1"
    harness.clock.advance(0.5)
    assert harness.call("POST", "/restapis/a1/deployments").status_code == 200


def test_retry_after_can_be_left_out(harness: Harness) -> None:
    harness.plane.enable_model(conflicts_enabled=False, retry_after=False)
    harness.call("POST", "/restapis/a1/deployments")
    throttled = harness.call("POST", "/restapis/a1/deployments")
    assert throttled.status_code == 429
    assert "Retry-After" not in throttled.headers


def test_a_throttled_call_consumes_no_token(harness: Harness) -> None:
    harness.plane.enable_model(account_quota=BucketSpec(2, 10.0), conflicts_enabled=False)
    assert harness.call("POST", "/restapis/a1/deployments").status_code == 200
    # Throttled by the deployment quota: the account quota must not be charged for it.
    assert harness.call("POST", "/restapis/a1/deployments").status_code == 429
    assert harness.call("GET", "/restapis").status_code == 200
    assert harness.call("GET", "/restapis").status_code == 429


def test_time_scale_compresses_the_deployment_quota(harness: Harness) -> None:
    harness.plane.enable_model(conflicts_enabled=False, time_scale=0.05)
    assert harness.call("POST", "/restapis/a1/deployments").status_code == 200
    assert harness.call("POST", "/restapis/a1/deployments").status_code == 429
    harness.clock.advance(0.25)
    assert harness.call("POST", "/restapis/a1/deployments").status_code == 200


def test_quotas_apply_to_api_gateway_only(harness: Harness) -> None:
    harness.plane.enable_model(account_quota=BucketSpec(1, 10.0))
    statuses = {harness.call("POST", "/", service="dynamodb").status_code for _ in range(5)}
    assert statuses == {200}


def test_service_time_is_scaled_and_slept_while_holding(harness: Harness) -> None:
    harness.plane.enable_model(
        time_scale=0.5, service_times={"UpdateAuthorizer": (0.2, 0.2)}, account_quota=None
    )
    harness.call("PATCH", "/restapis/a1/authorizers/z9")
    harness.call("GET", "/restapis/a1/authorizers/z9")
    harness.call("DELETE", "/restapis/a1/stages/prod/cache/authorizers")
    # Only the mutating call takes time; reads and flushes answer at once.
    assert harness.clock.slept == [pytest.approx(0.1)]


def test_counters_journal_and_reset(harness: Harness) -> None:
    harness.plane.enable_model(account_quota=BucketSpec(2, 10.0), conflicts_enabled=False)
    for _ in range(3):
        harness.call("GET", "/restapis/a1")
    counters = harness.plane.counter("GetRestApi")
    assert (counters.calls, counters.success, counters.throttled) == (3, 2, 1)
    journal = harness.plane.journal()
    assert [(r.operation, r.api_id, r.status, r.account_id) for r in journal] == [
        ("GetRestApi", "a1", 200, ACCOUNT),
        ("GetRestApi", "a1", 200, ACCOUNT),
        ("GetRestApi", "a1", 429, ACCOUNT),
    ]
    harness.plane.reset()
    assert harness.plane.journal() == []
    assert harness.plane.counters() == {}
    assert harness.plane.config.model_enabled is False


# -- fault injection (unit) -------------------------------------------------------------------


def test_a_fault_fires_the_given_number_of_times(harness: Harness) -> None:
    fault = harness.plane.inject("GetRestApi", 500, "InternalFailure", "boom", times=2)
    statuses = [harness.call("GET", "/restapis/a1").status_code for _ in range(3)]
    assert statuses == [500, 500, 200]
    assert fault.fired == 2
    assert harness.plane.counter("GetRestApi").injected == 2


def test_a_permanent_fault_lasts_until_cleared_and_honours_its_predicate(
    harness: Harness,
) -> None:
    harness.plane.inject(
        "*", 503, "ServiceUnavailableException", "down", predicate=lambda i: i.api_id == "a1"
    )
    assert [harness.call("GET", "/restapis/a1").status_code for _ in range(3)] == [503] * 3
    assert harness.call("GET", "/restapis/a2").status_code == 200
    harness.plane.clear()
    assert harness.call("GET", "/restapis/a1").status_code == 200


def test_fault_arguments_are_checked(harness: Harness) -> None:
    with pytest.raises(ValueError, match="times"):
        harness.plane.inject("GetRestApi", 500, "InternalFailure", "boom", times=0)
    with pytest.raises(ValueError, match="error status"):
        harness.plane.inject("GetRestApi", 200, "Fine", "not a fault")


# -- stalls (unit) ----------------------------------------------------------------------------


def in_thread(harness: Harness, method: str, path: str) -> tuple[threading.Thread, list[Any]]:
    """Send one call from another thread; its answer lands in the returned list."""
    answers: list[Any] = []
    thread = threading.Thread(target=lambda: answers.append(harness.call(method, path)))
    thread.start()
    return thread, answers


def test_a_delay_holds_the_call_in_real_time_then_serves_it(harness: Harness) -> None:
    delay = harness.plane.inject_delay("GetRestApi", 0.3)
    started = time.monotonic()
    assert harness.call("GET", "/restapis/a1").status_code == 200
    assert time.monotonic() - started >= 0.3
    assert (delay.fired, delay.answered, delay.statuses) == (1, 1, [200])
    assert delay.held.is_set()
    assert delay.released.is_set()
    # times=1: the next call is not held; the manual clock was never slept on.
    started = time.monotonic()
    harness.call("GET", "/restapis/a1")
    assert time.monotonic() - started < 0.3
    assert delay.fired == 1
    assert harness.clock.slept == []


def test_a_held_call_is_not_answered_until_released(harness: Harness) -> None:
    delay = harness.plane.inject_delay("*", 30, predicate=lambda i: i.api_id == "a1")
    thread, answers = in_thread(harness, "GET", "/restapis/a1")
    try:
        assert delay.held.wait(5)
        # Other calls are not held, the held one stays unanswered.
        assert harness.call("GET", "/restapis/a2").status_code == 200
        assert not delay.wait_answered(timeout=0.2)
        assert answers == []
        assert [r.api_id for r in harness.plane.journal()] == ["a2"]
        delay.release()
        assert delay.wait_answered(timeout=5)
    finally:
        harness.plane.clear()
        thread.join(5)
    assert [a.status_code for a in answers] == [200]
    assert [r.api_id for r in harness.plane.journal()] == ["a2", "a1"]


def test_clear_and_reset_release_held_calls(harness: Harness) -> None:
    for release in (harness.plane.clear, harness.plane.reset):
        delay = harness.plane.inject_delay("GetRestApi", 30, times=None)
        thread, answers = in_thread(harness, "GET", "/restapis/a1")
        assert delay.held.wait(5)
        release()
        thread.join(5)
        assert [a.status_code for a in answers] == [200]
        assert delay.released.is_set()
        # Removed: later calls are not held.
        started = time.monotonic()
        harness.call("GET", "/restapis/a1")
        assert time.monotonic() - started < 5


def test_a_delay_honours_its_service_and_count(harness: Harness) -> None:
    delay = harness.plane.inject_delay("*", 0.05, times=2, service="dynamodb")
    harness.call("GET", "/restapis/a1")
    for _ in range(3):
        harness.call("POST", "/", service="dynamodb")
    assert (delay.fired, delay.remaining, delay.statuses) == (2, 0, [200, 200])


def test_a_throttled_call_is_not_held(harness: Harness) -> None:
    harness.plane.enable_model(account_quota=BucketSpec(1, 10.0), conflicts_enabled=False)
    harness.call("GET", "/restapis")
    delay = harness.plane.inject_delay("GetRestApis", 30)
    assert harness.call("GET", "/restapis").status_code == 429
    assert delay.fired == 0


def test_a_released_call_can_still_meet_an_injected_fault(harness: Harness) -> None:
    delay = harness.plane.inject_delay("GetRestApi", 0.05)
    harness.plane.inject("GetRestApi", 500, "InternalFailure", "boom", times=1)
    assert harness.call("GET", "/restapis/a1").status_code == 500
    assert delay.statuses == [500]


def test_delay_arguments_are_checked(harness: Harness) -> None:
    with pytest.raises(ValueError, match="times"):
        harness.plane.inject_delay("GetRestApi", 1, times=0)
    for seconds in (-1.0, float("inf"), float("nan")):
        with pytest.raises(ValueError, match="seconds"):
            harness.plane.inject_delay("GetRestApi", seconds)
    assert isinstance(harness.plane.inject_delay("GetRestApi", 0), InjectedDelay)


def test_the_dynamodb_lock_is_the_one_ttl_expiry_takes() -> None:
    assert _DYNAMODB_LOCK is dynamodb_model.MODEL_LOCK


# -- through moto and botocore ----------------------------------------------------------------


class GateClock(ManualClock):
    """A manual clock whose next sleep, once armed, blocks until released.

    It makes "a change is in progress" a state the test controls, so the overlap is certain
    rather than a matter of timing.
    """

    def __init__(self) -> None:
        super().__init__()
        self.entered = threading.Event()
        self.release = threading.Event()
        self._armed = False
        self._gate_lock = threading.Lock()

    def arm(self) -> None:
        self.entered.clear()
        self.release.clear()
        with self._gate_lock:
            self._armed = True

    def disarm(self) -> None:
        with self._gate_lock:
            self._armed = False
        self.release.set()

    def sleep(self, seconds: float) -> None:
        with self._gate_lock:
            gated, self._armed = self._armed, False
        if gated:
            self.entered.set()
            assert self.release.wait(30), "test never released the gate"
        super().sleep(seconds)


@dataclass
class Live:
    aws: LocalAws
    clock: GateClock
    apigateway: APIGatewayClient
    options: dict[str, Any]

    def new_api(self) -> tuple[str, str]:
        """A REST API that can be deployed, with a Cognito authorizer: (api id, authorizer id)."""
        api_id = self.apigateway.create_rest_api(name="shared")["id"]
        root = self.apigateway.get_resources(restApiId=api_id)["items"][0]["id"]
        self.apigateway.put_method(
            restApiId=api_id, resourceId=root, httpMethod="GET", authorizationType="NONE"
        )
        self.apigateway.put_integration(
            restApiId=api_id, resourceId=root, httpMethod="GET", type="MOCK"
        )
        authorizer_id = self.apigateway.create_authorizer(
            restApiId=api_id,
            name="tenants",
            type="COGNITO_USER_POOLS",
            providerARNs=["arn:aws:cognito-idp:eu-west-1:111122223333:userpool/eu-west-1_Abc1"],
            identitySource="method.request.header.Authorization",
        )["id"]
        self.apigateway.create_deployment(restApiId=api_id, stageName="prod")
        return api_id, authorizer_id


@pytest.fixture(scope="module")
def live_server() -> Iterator[tuple[LocalAws, GateClock]]:
    clock = GateClock()
    with LocalAws(clock=clock) as aws:
        yield aws, clock


@pytest.fixture
def live(live_server: tuple[LocalAws, GateClock]) -> Live:
    aws, clock = live_server
    aws.reset()
    clock.disarm()
    options: dict[str, Any] = {
        "endpoint_url": aws.endpoint_url,
        "region_name": "us-east-1",
        "aws_access_key_id": "testing",
        "aws_secret_access_key": "testing",
        # One attempt: botocore would retry 429 and 5xx, hiding what the server answered.
        "config": Config(retries={"total_max_attempts": 1}),
    }
    return Live(aws, clock, boto3.client("apigateway", **options), options)


def client_error(exc: pytest.ExceptionInfo[ClientError]) -> tuple[int, str, str]:
    response: Any = exc.value.response
    return (
        response["ResponseMetadata"]["HTTPStatusCode"],
        response["Error"]["Code"],
        response["Error"]["Message"],
    )


def test_throttled_create_deployment_reaches_botocore_with_retry_after(live: Live) -> None:
    api_id, _ = live.new_api()
    live.aws.control_plane.enable_model(conflicts_enabled=False)
    live.apigateway.create_deployment(restApiId=api_id, stageName="prod")
    with pytest.raises(ClientError) as exc:
        live.apigateway.create_deployment(restApiId=api_id, stageName="prod")
    assert client_error(exc) == (429, "TooManyRequestsException", "Too Many Requests")
    headers: Any = exc.value.response["ResponseMetadata"]["HTTPHeaders"]
    assert headers["retry-after"] == "5"


def test_overlapping_changes_to_one_api_answer_409(live: Live) -> None:
    api_id, authorizer_id = live.new_api()
    other_api, _ = live.new_api()
    plane = live.aws.control_plane
    plane.enable_model(account_quota=None, create_deployment_quota=None)
    live.clock.arm()
    results: list[Any] = []

    def slow_update() -> None:
        client: APIGatewayClient = boto3.client("apigateway", **live.options)
        results.append(
            client.update_authorizer(
                restApiId=api_id,
                authorizerId=authorizer_id,
                patchOperations=[{"op": "replace", "path": "/name", "value": "renamed"}],
            )
        )

    holder = threading.Thread(target=slow_update)
    holder.start()
    try:
        assert live.clock.entered.wait(30)
        # While UpdateAuthorizer holds the API, every other change to it conflicts …
        for change in (
            lambda: live.apigateway.create_deployment(restApiId=api_id, stageName="prod"),
            lambda: live.apigateway.update_stage(
                restApiId=api_id,
                stageName="prod",
                patchOperations=[{"op": "replace", "path": "/description", "value": "x"}],
            ),
        ):
            with pytest.raises(ClientError) as exc:
                change()
            assert client_error(exc) == (409, "ConflictException", CONFLICT_MESSAGE)
        # … but reads, flushes and changes to another API go through.
        assert live.apigateway.get_authorizer(restApiId=api_id, authorizerId=authorizer_id)
        flushed = live.apigateway.flush_stage_authorizers_cache(restApiId=api_id, stageName="prod")
        assert flushed["ResponseMetadata"]["HTTPStatusCode"] == 202
        live.apigateway.create_deployment(restApiId=other_api, stageName="prod")
    finally:
        live.clock.release.set()
        holder.join(30)
    assert results[0]["name"] == "renamed"
    counters = plane.counters()
    assert counters["UpdateAuthorizer"].success == 1
    assert counters["CreateDeployment"].conflicts == 1
    assert counters["UpdateStage"].conflicts == 1
    assert counters["FlushStageAuthorizersCache"].success == 1


def test_model_off_means_no_conflicts(live: Live) -> None:
    api_id, authorizer_id = live.new_api()
    live.clock.arm()  # would block the first sleep, if the model slept at all
    live.apigateway.update_authorizer(
        restApiId=api_id,
        authorizerId=authorizer_id,
        patchOperations=[{"op": "replace", "path": "/name", "value": "x"}],
    )
    assert not live.clock.entered.is_set()


def test_injected_apigateway_fault_is_parsed_by_botocore(live: Live) -> None:
    api_id, authorizer_id = live.new_api()
    live.aws.control_plane.inject_transient("UpdateAuthorizer", "conflict")
    patch: Any = [{"op": "replace", "path": "/name", "value": "x"}]
    with pytest.raises(ClientError) as exc:
        live.apigateway.update_authorizer(
            restApiId=api_id, authorizerId=authorizer_id, patchOperations=patch
        )
    assert client_error(exc) == (409, "ConflictException", CONFLICT_MESSAGE)
    live.apigateway.update_authorizer(
        restApiId=api_id, authorizerId=authorizer_id, patchOperations=patch
    )
    counters = live.aws.control_plane.counter("UpdateAuthorizer")
    assert (counters.calls, counters.injected, counters.conflicts, counters.success) == (2, 1, 1, 1)


def held_call(call: Any) -> tuple[threading.Thread, list[Any], list[BaseException]]:
    """Run ``call`` in another thread; its result or error lands in the returned lists."""
    results: list[Any] = []
    errors: list[BaseException] = []

    def run() -> None:
        try:
            results.append(call())
        except BaseException as error:
            errors.append(error)

    thread = threading.Thread(target=run)
    thread.start()
    return thread, results, errors


def test_a_stalled_change_lands_late_and_its_client_waits(live: Live) -> None:
    api_id, authorizer_id = live.new_api()
    delay = live.aws.control_plane.inject_delay("UpdateAuthorizer", 30)
    client: APIGatewayClient = boto3.client("apigateway", **live.options)
    patch: Any = [{"op": "replace", "path": "/name", "value": "late"}]
    thread, results, errors = held_call(
        lambda: client.update_authorizer(
            restApiId=api_id, authorizerId=authorizer_id, patchOperations=patch
        )
    )
    try:
        assert delay.held.wait(10)
        # Received but not applied: AWS still shows the old state, the client is blocked.
        found = live.apigateway.get_authorizer(restApiId=api_id, authorizerId=authorizer_id)
        assert found["name"] == "tenants"
        assert results == []
        assert thread.is_alive()
        delay.release()
        assert delay.wait_answered(timeout=10)
        found = live.apigateway.get_authorizer(restApiId=api_id, authorizerId=authorizer_id)
        assert found["name"] == "late"
    finally:
        live.aws.control_plane.clear()
        thread.join(10)
    assert errors == []
    assert results[0]["name"] == "late"
    assert delay.statuses == [200]


def test_a_stalled_change_does_not_hold_its_api(live: Live) -> None:
    api_id, authorizer_id = live.new_api()
    plane = live.aws.control_plane
    plane.enable_model(account_quota=None, create_deployment_quota=None)
    delay = plane.inject_delay("UpdateAuthorizer", 30)
    stalled: APIGatewayClient = boto3.client("apigateway", **live.options)
    other: APIGatewayClient = boto3.client("apigateway", **live.options)
    patch: Any = [{"op": "replace", "path": "/name", "value": "late"}]
    stage_change: Any = [{"op": "replace", "path": "/description", "value": "x"}]
    thread, results, errors = held_call(
        lambda: stalled.update_authorizer(
            restApiId=api_id, authorizerId=authorizer_id, patchOperations=patch
        )
    )
    holder: threading.Thread | None = None
    held_results: list[Any] = []
    try:
        assert delay.held.wait(10)
        # While the stalled call waits, another change to the API goes through (no 409) ...
        live.apigateway.create_deployment(restApiId=api_id, stageName="prod")
        # ... and once released, the stalled call meets a change in progress: 409.
        live.clock.arm()
        holder, held_results, _ = held_call(
            lambda: other.update_stage(
                restApiId=api_id, stageName="prod", patchOperations=stage_change
            )
        )
        assert live.clock.entered.wait(10)
        delay.release()
        assert delay.wait_answered(timeout=10)
    finally:
        plane.clear()
        live.clock.release.set()
        thread.join(10)
        if holder is not None:
            holder.join(10)
    assert delay.statuses == [409]
    assert results == []
    assert isinstance(errors[0], ClientError)
    assert errors[0].response["Error"]["Code"] == "ConflictException"
    assert held_results[0]["description"] == "x"
    name = live.apigateway.get_authorizer(restApiId=api_id, authorizerId=authorizer_id)["name"]
    assert name == "tenants"


def test_get_export_is_a_read_that_counts_in_the_account_quota(live: Live) -> None:
    api_id, authorizer_id = live.new_api()
    plane = live.aws.control_plane
    plane.enable_model(account_quota=BucketSpec(3, 10.0), create_deployment_quota=None)
    live.clock.arm()
    client: APIGatewayClient = boto3.client("apigateway", **live.options)
    patch: Any = [{"op": "replace", "path": "/name", "value": "renamed"}]
    holder, _, errors = held_call(
        lambda: client.update_authorizer(
            restApiId=api_id, authorizerId=authorizer_id, patchOperations=patch
        )
    )
    try:
        assert live.clock.entered.wait(10)
        # The API is being changed: a read of it is never 409.
        exported = live.apigateway.get_export(
            restApiId=api_id,
            stageName="prod",
            exportType="oas30",
            parameters={"extensions": "authorizers"},
            accepts="application/json",
        )
        assert exported["ResponseMetadata"]["HTTPStatusCode"] == 200
        assert json.loads(exported["body"].read())["openapi"] == "3.0.1"
        live.apigateway.get_export(restApiId=api_id, stageName="prod", exportType="swagger")
        with pytest.raises(ClientError) as exc:
            live.apigateway.get_export(restApiId=api_id, stageName="prod", exportType="oas30")
        assert client_error(exc) == (429, "TooManyRequestsException", "Too Many Requests")
    finally:
        live.clock.release.set()
        holder.join(10)
    assert errors == []
    counters = plane.counter("GetExport")
    assert (counters.calls, counters.success, counters.throttled, counters.conflicts) == (
        3,
        2,
        1,
        0,
    )


@pytest.mark.parametrize(
    ("kind", "status", "code"),
    [
        ("throttle", 429, "TooManyRequestsException"),
        ("internal", 500, "InternalFailure"),
        ("unavailable", 503, "ServiceUnavailableException"),
    ],
)
def test_transient_faults_have_their_codes(live: Live, kind: Any, status: int, code: str) -> None:
    live.aws.control_plane.inject_transient("GetRestApis", kind)
    with pytest.raises(ClientError) as exc:
        live.apigateway.get_rest_apis()
    assert client_error(exc)[:2] == (status, code)


@pytest.mark.parametrize(
    ("service", "operation", "call", "content_type"),
    [
        (
            "dynamodb",
            "DescribeTable",
            lambda c: c.describe_table(TableName="tenants"),
            "application/x-amz-json-1.0",
        ),
        (
            "cognito-idp",
            "DescribeUserPool",
            lambda c: c.describe_user_pool(UserPoolId="us-east-1_Abc1"),
            "application/x-amz-json-1.1",
        ),
    ],
)
def test_injected_json_protocol_fault_is_parsed_by_botocore(
    live: Live, service: str, operation: str, call: Any, content_type: str
) -> None:
    live.aws.control_plane.inject(
        operation, 400, "LimitExceededException", "injected", times=1, service=service
    )
    client = boto3.client(service, **live.options)  # type: ignore[call-overload]
    with pytest.raises(ClientError) as exc:
        call(client)
    assert client_error(exc) == (400, "LimitExceededException", "injected")
    headers: Any = exc.value.response["ResponseMetadata"]["HTTPHeaders"]
    assert headers["content-type"] == content_type
    assert exc.value.response["ResponseMetadata"]["RequestId"]
