"""Retrying AWS calls: capped exponential backoff with full jitter, inside the Lambda deadline.

API Gateway answers 409 ConflictException when changes to one API overlap and 429
TooManyRequestsException past its account-wide quotas; botocore retries the second but not the
first, and ignores ``Retry-After``. So botocore's own retries are off (see ``aws.py``) and every
call goes through :func:`call`, which retries both, honours ``Retry-After``, and gives up while
there is still time to answer FAILED with a reason naming the call.

A request that was *refused* (409, 429, throttling) changed nothing and is safe to repeat. A
request whose fate is unknown (a 5xx, a dropped connection, a read timeout) may have been applied;
repeating it is safe only for idempotent calls. For the others :func:`call` raises
:class:`AmbiguousOutcome` so the caller re-reads and decides again.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from botocore.exceptions import BotoCoreError, ClientError, HTTPClientError
from botocore.exceptions import ConnectionError as BotoConnectionError

from . import timing
from .errors import AwsCallFailed

logger = logging.getLogger(__name__)


_REFUSED_CODES = frozenset(
    {
        "ConflictException",
        "TooManyRequestsException",
        "ThrottlingException",
        "Throttling",
        "ThrottledException",
        "RequestLimitExceeded",
        "ProvisionedThroughputExceededException",
        "TransactionConflictException",
    }
)
_REFUSED_STATUS = frozenset({409, 429})

Kind = Literal["refused", "ambiguous", "final"]
OUT_OF_TIME = "OutOfTime"


@dataclass(frozen=True)
class Backoff:
    """Full jitter (AWS Architecture Blog, "Exponential Backoff And Jitter"): the n-th wait is
    uniform in [0, min(cap, base * 2**n)], which spreads competing containers apart."""

    base: float = 0.25
    cap: float = 8.0

    def delay(self, attempt: int, rng: random.Random) -> float:
        return rng.uniform(0.0, min(self.cap, self.base * 2.0 ** min(attempt, 30)))


DEFAULT_BACKOFF = Backoff()
# Leave room after the last wait for the call itself before the deadline.
_CALL_ALLOWANCE_SECONDS = 2.0
_rng = random.Random()


class AmbiguousOutcome(Exception):
    """A non-idempotent call may or may not have been applied; re-read before deciding again."""

    def __init__(self, operation: str, error: Exception) -> None:
        super().__init__(f"{operation}: outcome unknown: {describe(error)[1]}")
        self.operation = operation
        self.error = error


def describe(error: Exception) -> tuple[str, str]:
    """(error code, message) of a botocore error, for reasons and logs."""
    if isinstance(error, ClientError):
        details = error.response.get("Error", {})
        return details.get("Code", "Unknown"), details.get("Message", str(error))
    return type(error).__name__, str(error)


def status_of(error: ClientError) -> int:
    return int(error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0))


# A DynamoDB transaction cancelled for these reasons changed nothing and may simply be repeated;
# one cancelled by a failed condition is an answer, for the caller.
_TRANSIENT_CANCELLATIONS = frozenset(
    {"TransactionConflict", "ThrottlingError", "ProvisionedThroughputExceeded"}
)


def classify(error: Exception) -> Kind:
    if isinstance(error, ClientError):
        code, _ = describe(error)
        status = status_of(error)
        if code == "TransactionCanceledException":
            reasons = set(cancellation_reasons(error))
            transient = (
                reasons & _TRANSIENT_CANCELLATIONS and "ConditionalCheckFailed" not in reasons
            )
            return "refused" if transient else "final"
        if code in _REFUSED_CODES or status in _REFUSED_STATUS:
            return "refused"
        return "ambiguous" if status >= 500 else "final"
    if isinstance(error, BotoConnectionError | HTTPClientError):
        return "ambiguous"
    return "final"


def cancellation_reasons(error: ClientError) -> list[str]:
    """Why DynamoDB cancelled a transaction, one code per item ("None" for items that were
    fine)."""
    reasons = error.response.get("CancellationReasons", [])
    return [str(reason.get("Code", "None")) for reason in reasons]


def retry_after(error: Exception) -> float | None:
    """Seconds the service asked us to wait (``Retry-After``, delay-seconds form only)."""
    if not isinstance(error, ClientError):
        return None
    headers = error.response.get("ResponseMetadata", {}).get("HTTPHeaders", {})
    value = headers.get("retry-after")
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:
        return None


class Throttled(Exception):
    """A call was throttled and its caller asked to decide what to do meanwhile."""

    def __init__(self, operation: str, error: ClientError) -> None:
        super().__init__(f"{operation}: throttled")
        self.operation = operation
        self.error = error


def call[T](
    operation: str,
    request: Callable[[], T],
    deadline: timing.Deadline,
    *,
    idempotent: bool = True,
    retry_throttling: bool = True,
    backoff: Backoff = DEFAULT_BACKOFF,
) -> T:
    """Run ``request`` until it succeeds, fails for good, or the deadline says stop.

    Raises the botocore error itself when it is final (not found, bad request, access denied):
    callers decide what those mean. Raises :class:`AwsCallFailed` when retrying must stop, and
    :class:`Throttled` on a 429 when ``retry_throttling`` is off.
    """
    attempt = 0
    while True:
        attempt += 1
        if attempt == 1 and not deadline.allows(0.0):
            # Even a first attempt: a worker past its lease must not start another call (a
            # retry is checked, with room for the call, before its wait: see ``pause``).
            raise AwsCallFailed(operation, OUT_OF_TIME, "no time left to call it", transient=True)
        try:
            return request()
        except (ClientError, BotoCoreError) as error:
            kind = classify(error)
            if kind == "final":
                raise
            if kind == "ambiguous" and not idempotent:
                raise AmbiguousOutcome(operation, error) from error
            if not retry_throttling and isinstance(error, ClientError) and status_of(error) == 429:
                raise Throttled(operation, error) from error
            pause(operation, error, attempt, deadline, backoff)


def pause(
    operation: str,
    error: Exception,
    attempt: int,
    deadline: timing.Deadline,
    backoff: Backoff = DEFAULT_BACKOFF,
) -> None:
    """Wait before the next attempt (at least what ``Retry-After`` asks), or raise
    :class:`AwsCallFailed` when that wait and the call would run past the deadline."""
    code, message = describe(error)
    wait = backoff.delay(attempt, _rng)
    asked = retry_after(error)
    if asked is not None:
        # Jitter on top of the asked wait: every throttled container is told the same moment,
        # and arriving all together at it would throttle all but one of them again.
        wait += asked
    if not deadline.allows(wait + _CALL_ALLOWANCE_SECONDS):
        # Refused calls (throttled, in conflict) changed nothing and will pass once AWS is less
        # busy: a later invocation goes on. An unknown fate that kept repeating is a failure.
        refused = classify(error) == "refused"
        raise AwsCallFailed(
            operation, code, message, attempts=attempt, transient=refused
        ) from error
    logger.debug({"retry": operation, "code": code, "attempt": attempt, "wait": round(wait, 3)})
    timing.clock.sleep(wait)
