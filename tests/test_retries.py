"""Retries: which failures are retried, what the others are raised as (one policy table), how
long the waits are, and when retrying stops."""

from __future__ import annotations

import random

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError, ReadTimeoutError

from authorizer_pools import aws_errors, retries, timing
from authorizer_pools.aws_errors import AmbiguousOutcome, ConditionFailed, NotFound, Refused
from authorizer_pools.errors import AwsCallFailed
from fakes import FakeClock, client_error

# The fast tier (make test-fast): no local AWS, seconds in all.
pytestmark = pytest.mark.fast

CONFLICT = client_error(
    "ConflictException",
    409,
    message="Unable to complete operation due to concurrent modification. Please try again later.",
)
THROTTLED = client_error("TooManyRequestsException", 429, "CreateDeployment", "Too Many Requests")


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> FakeClock:
    fake = FakeClock()
    monkeypatch.setattr(timing, "clock", fake)
    monkeypatch.setattr(retries, "_rng", random.Random(7))
    return fake


class Script:
    """A call that fails with the given errors, in order, then succeeds."""

    def __init__(self, *errors: Exception) -> None:
        self.errors = list(errors)
        self.calls = 0

    def __call__(self) -> str:
        self.calls += 1
        if self.errors:
            raise self.errors.pop(0)
        return "done"


@pytest.mark.parametrize(
    "error",
    [
        CONFLICT,
        THROTTLED,
        client_error("InternalFailure", 500),
        client_error("ServiceUnavailable", 503),
        EndpointConnectionError(endpoint_url="https://apigateway.us-east-1.amazonaws.com"),
    ],
)
def test_conflicts_throttling_and_server_errors_are_retried(
    clock: FakeClock, error: Exception
) -> None:
    script = Script(error, error)
    assert retries.call("GetAuthorizer", script, timing.Deadline(clock.now + 60)) == "done"
    assert script.calls == 3
    assert len(clock.sleeps) == 2


@pytest.mark.parametrize(
    ("operation", "code", "status", "typed"),
    [
        ("GetAuthorizer", "NotFoundException", 404, NotFound),
        ("DescribeUserPool", "ResourceNotFoundException", 400, NotFound),
        ("DescribeStackResource", "ValidationError", 400, NotFound),
        ("UpdateAuthorizer", "BadRequestException", 400, Refused),
        ("UpdateAuthorizer", "AccessDeniedException", 403, Refused),
        ("UpdateItem", "ConditionalCheckFailedException", 400, ConditionFailed),
        ("GetAuthorizer", "UnrecognizedClientException", 403, AwsCallFailed),
    ],
)
def test_final_errors_are_raised_at_once_as_typed_errors_never_as_botocores(
    clock: FakeClock, operation: str, code: str, status: int, typed: type[AwsCallFailed]
) -> None:
    script = Script(client_error(code, status, operation))
    with pytest.raises(AwsCallFailed) as caught:
        retries.call(operation, script, timing.Deadline(clock.now + 60))
    assert type(caught.value) is typed
    assert not isinstance(caught.value, ClientError)
    assert str(caught.value) == f"{operation} failed: {code}: {code}"
    assert not caught.value.transient
    assert script.calls == 1


def test_iam_refusals_are_told_apart_and_reasoned_by_their_code() -> None:
    denied = aws_errors.typed("UpdateAuthorizer", client_error("AccessDeniedException", 403))
    invalid = aws_errors.typed(
        "UpdateAuthorizer", client_error("BadRequestException", 400, message="Invalid ARN")
    )
    assert isinstance(denied, Refused)
    assert denied.by_iam
    assert denied.reason == "AccessDeniedException"
    assert isinstance(invalid, Refused)
    assert not invalid.by_iam
    assert invalid.reason == "Invalid ARN"


def cancelled(*reasons: str) -> ClientError:
    error = client_error("TransactionCanceledException", 400, "TransactWriteItems")
    error.response["CancellationReasons"] = [{"Code": reason} for reason in reasons]
    return error


def test_a_transaction_cancelled_by_a_condition_is_an_answer_naming_each_item(
    clock: FakeClock,
) -> None:
    script = Script(cancelled("None", "ConditionalCheckFailed"))
    with pytest.raises(ConditionFailed) as caught:
        retries.call("TransactWriteItems", script, timing.Deadline(clock.now + 60))
    assert caught.value.reasons == ("None", "ConditionalCheckFailed")
    assert script.calls == 1


def test_a_transaction_cancelled_by_a_conflict_is_repeated(clock: FakeClock) -> None:
    script = Script(cancelled("TransactionConflict", "None"), cancelled("None", "ThrottlingError"))
    assert retries.call("TransactWriteItems", script, timing.Deadline(clock.now + 60)) == "done"
    assert script.calls == 3


def test_waits_use_full_jitter_capped_exponential_backoff(clock: FakeClock) -> None:
    backoff = retries.Backoff(base=0.5, cap=4.0)
    script = Script(*[CONFLICT] * 8)
    retries.call("UpdateAuthorizer", script, timing.Deadline(clock.now + 600), backoff=backoff)
    ceilings = [min(4.0, 0.5 * 2**attempt) for attempt in range(1, 9)]
    assert all(0 <= wait <= ceiling for wait, ceiling in zip(clock.sleeps, ceilings, strict=True))
    # Jitter: not all waits sit at the ceiling, or competing containers would retry in step.
    assert len(set(clock.sleeps)) == len(clock.sleeps)


def test_retry_after_is_honoured_as_the_least_wait(clock: FakeClock) -> None:
    asked = client_error("TooManyRequestsException", 429, "CreateDeployment", retry_after="5")
    retries.call("CreateDeployment", Script(asked), timing.Deadline(clock.now + 60))
    assert len(clock.sleeps) == 1
    assert clock.sleeps[0] >= 5.0


def test_retrying_stops_in_time_to_answer_and_the_reason_names_call_and_error(
    clock: FakeClock,
) -> None:
    deadline = timing.Deadline(clock.now + 30)
    with pytest.raises(AwsCallFailed) as caught:
        retries.call("CreateDeployment", Script(*[THROTTLED] * 1000), deadline)
    assert clock.now <= deadline.at
    reason = str(caught.value)
    assert reason.startswith("CreateDeployment failed after ")
    assert "TooManyRequestsException: Too Many Requests" in reason


def test_a_change_of_unknown_outcome_is_not_repeated_blindly(clock: FakeClock) -> None:
    timeout = ReadTimeoutError(endpoint_url="https://apigateway.us-east-1.amazonaws.com")
    script = Script(timeout)
    with pytest.raises(AmbiguousOutcome):
        retries.call("UpdateAuthorizer", script, timing.Deadline(clock.now + 60), idempotent=False)
    assert script.calls == 1
    # A refused change changed nothing, so it is repeated even when not idempotent.
    script = Script(CONFLICT)
    retries.call("UpdateAuthorizer", script, timing.Deadline(clock.now + 60), idempotent=False)
    assert script.calls == 2
