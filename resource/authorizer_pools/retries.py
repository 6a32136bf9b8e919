"""Retrying AWS calls: capped exponential backoff with full jitter, inside the Lambda deadline.

API Gateway answers 409 ConflictException when changes to one API overlap and 429
TooManyRequestsException past its account-wide quotas; botocore retries the second but not the
first, and ignores ``Retry-After``. So botocore's own retries are off (see ``aws.py``) and every
call goes through :func:`call`, which retries both, honours ``Retry-After``, and gives up while
there is still time to answer FAILED with a reason naming the call.

A request that was refused because AWS was busy changed nothing and is safe to repeat. A request
whose fate is unknown (a 5xx, a dropped connection, a read timeout) may have been applied;
repeating it is safe only for idempotent calls. For the others :func:`call` raises
:class:`~.aws_errors.AmbiguousOutcome` so the caller re-reads and decides again. What each error
means is decided in ``aws_errors``; every other error leaves :func:`call` as one of its typed
errors, never as botocore's.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable
from dataclasses import dataclass

from botocore.exceptions import BotoCoreError, ClientError

from . import aws_errors, timing
from .aws_errors import AmbiguousOutcome, Kind, Throttled
from .errors import AwsCallFailed

logger = logging.getLogger(__name__)

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

    Raises ``aws_errors``' typed error when the failure is final (``NotFound``, ``Refused``,
    ``ConditionFailed``, else :class:`AwsCallFailed`): callers decide what those mean. Raises
    :class:`AwsCallFailed` (transient) when retrying must stop, :class:`AmbiguousOutcome` when
    a non-idempotent call's fate is unknown, and :class:`Throttled` on a 429 when
    ``retry_throttling`` is off.
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
            kind = aws_errors.kind_of(operation, error)
            if kind not in (Kind.BUSY, Kind.AMBIGUOUS):
                if isinstance(error, ClientError):
                    raise aws_errors.typed(operation, error) from error
                raise
            if kind is Kind.AMBIGUOUS and not idempotent:
                raise AmbiguousOutcome(operation, error) from error
            if (
                not retry_throttling
                and isinstance(error, ClientError)
                and aws_errors.is_throttling(error)
            ):
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
    code, message = aws_errors.describe(error)
    wait = backoff.delay(attempt, _rng)
    asked = aws_errors.retry_after(error)
    if asked is not None:
        # Jitter on top of the asked wait: every throttled container is told the same moment,
        # and arriving all together at it would throttle all but one of them again.
        wait += asked
    if not deadline.allows(wait + _CALL_ALLOWANCE_SECONDS):
        # Busy refusals changed nothing and will pass once AWS is less busy: a later
        # invocation goes on. An unknown fate that kept repeating is a failure.
        busy = aws_errors.kind_of(operation, error) is Kind.BUSY
        raise AwsCallFailed(operation, code, message, attempts=attempt, transient=busy) from error
    logger.debug({"retry": operation, "code": code, "attempt": attempt, "wait": round(wait, 3)})
    timing.clock.sleep(wait)
