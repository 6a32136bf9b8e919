"""Retries: which failures are retried, how long the waits are, and when retrying stops."""

from __future__ import annotations

import random

import pytest
from botocore.exceptions import EndpointConnectionError, ReadTimeoutError

from authorizer_pools import retries, timing
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
    ("code", "status"),
    [("NotFoundException", 404), ("BadRequestException", 400), ("AccessDeniedException", 403)],
)
def test_final_errors_are_raised_at_once_for_the_caller_to_judge(
    clock: FakeClock, code: str, status: int
) -> None:
    script = Script(client_error(code, status))
    with pytest.raises(Exception, match=code):
        retries.call("GetAuthorizer", script, timing.Deadline(clock.now + 60))
    assert script.calls == 1


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
    with pytest.raises(retries.AmbiguousOutcome):
        retries.call("UpdateAuthorizer", script, timing.Deadline(clock.now + 60), idempotent=False)
    assert script.calls == 1
    # A refused change changed nothing, so it is repeated even when not idempotent.
    script = Script(CONFLICT)
    retries.call("UpdateAuthorizer", script, timing.Deadline(clock.now + 60), idempotent=False)
    assert script.calls == 2
