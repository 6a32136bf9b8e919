"""The operator's survey and CLI fail loudly rather than report a state they could not read:
an AWS error exits FAILED (2), never DRIFT_FOUND (1), and a pool Cognito cannot answer for is
never called present (the fast tier: no local AWS)."""

from __future__ import annotations

import io
import random

import pytest

from authorizer_pools import aws, cli, retries, survey, timing
from authorizer_pools.errors import AwsCallFailed
from fakes import FakeClock, client_error

pytestmark = pytest.mark.fast

ACCOUNT = "123456789012"
POOL = f"arn:aws:cognito-idp:us-east-1:{ACCOUNT}:userpool/us-east-1_abc"


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> FakeClock:
    fake = FakeClock()
    monkeypatch.setattr(timing, "clock", fake)
    monkeypatch.setattr(retries, "_rng", random.Random(7))
    return fake


def test_an_aws_error_finding_the_target_exits_failed_never_drift_found(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A regression found by an adversarial review: the CLI's own boto3 calls (DescribeStacks
    of --stack) raised a traceback, whose exit status 1 reads as DRIFT_FOUND."""

    class Refusing:
        def describe_stacks(self, **_: object) -> None:
            raise client_error(
                "ValidationError", 400, "DescribeStacks", "Stack nope does not exist"
            )

    monkeypatch.setattr("boto3.client", lambda *a, **k: Refusing())
    stderr = io.StringIO()
    monkeypatch.setattr("sys.stderr", stderr)

    assert cli.main(["--stack", "nope", "list"], out=io.StringIO()) == cli.FAILED
    assert "Stack nope does not exist" in stderr.getvalue()


def test_a_cognito_that_keeps_failing_fails_the_survey_rather_than_call_the_pool_present(
    monkeypatch: pytest.MonkeyPatch, clock: FakeClock
) -> None:
    class Broken:
        def describe_user_pool(self, **_: object) -> None:
            raise client_error("InternalErrorException", 500, "DescribeUserPool")

    monkeypatch.setattr(aws, "cognito", lambda region: Broken())

    with pytest.raises(AwsCallFailed):
        survey._cognito_pool_gone(POOL, ACCOUNT, timing.Deadline(clock.now + 10))


def test_a_pool_iam_will_not_let_the_survey_read_is_not_reported_gone(
    monkeypatch: pytest.MonkeyPatch, clock: FakeClock
) -> None:
    class Denying:
        def describe_user_pool(self, **_: object) -> None:
            raise client_error("AccessDeniedException", 400, "DescribeUserPool")

    monkeypatch.setattr(aws, "cognito", lambda region: Denying())

    assert not survey._cognito_pool_gone(POOL, ACCOUNT, timing.Deadline(clock.now + 10))
