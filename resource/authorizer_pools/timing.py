"""Time, in one replaceable place.

Everything the function waits for (backoff, Retry-After) and every budget it keeps (the Lambda
deadline) goes through :data:`clock`. Production uses the system clock; a test harness may
replace it (for example with a clock that runs faster, together with an emulator whose quotas run
faster by the same factor), and nothing else in the code knows.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Protocol


class Clock(Protocol):
    def monotonic(self) -> float: ...

    def time(self) -> float:
        """Wall-clock seconds since the epoch: what leases shared between containers expire by."""
        ...

    def from_wall_time(self, seconds: float) -> float:
        """A time another party stamped (seconds since the epoch) on :meth:`time`'s scale."""
        ...

    def sleep(self, seconds: float) -> None: ...


class SystemClock:
    def monotonic(self) -> float:
        return time.monotonic()

    def time(self) -> float:
        return time.time()

    def from_wall_time(self, seconds: float) -> float:
        return seconds

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)


clock: Clock = SystemClock()


class LambdaContext(Protocol):
    def get_remaining_time_in_millis(self) -> int: ...


# Time kept back from the Lambda deadline for the answer itself: recording it, and its PUT to
# the ResponseURL (``delivery``: a few bounded tries).
ANSWER_RESERVE_SECONDS = 5.0


@dataclass(frozen=True)
class Deadline:
    """The moment (on :data:`clock`) by which the function must stop working and answer."""

    at: float

    @classmethod
    def from_context(
        cls, context: LambdaContext, reserve: float = ANSWER_RESERVE_SECONDS
    ) -> Deadline:
        remaining = context.get_remaining_time_in_millis() / 1000.0
        return cls(clock.monotonic() + max(0.0, remaining - reserve))

    def remaining(self) -> float:
        return self.at - clock.monotonic()

    def allows(self, seconds: float) -> bool:
        return self.remaining() > seconds
