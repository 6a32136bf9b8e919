"""API Gateway's control-plane quotas, per account, as token buckets.

Reproduces the quotas page of the API Gateway developer guide: CreateDeployment 1 request
every 5 seconds; all control-plane calls together 10 per second with a burst of 40. Over quota
the call answers 429 ``TooManyRequestsException`` with body ``{"message": "Too Many Requests"}``;
AWS says a ``Retry-After`` header "may be present", so it is configurable. A throttled call
consumes no token.
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass

from localaws.middleware.clocks import Clock
from localaws.wire import HttpAnswer, error_answer

TOO_MANY_REQUESTS_MESSAGE = "Too Many Requests"


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


class Quotas:
    """Each account's buckets for the account quota and the CreateDeployment quota (either may
    be None: not enforced), created full on first use; ``time_scale`` multiplies every interval.
    """

    def __init__(
        self,
        clock: Clock,
        *,
        account_quota: BucketSpec | None,
        create_deployment_quota: BucketSpec | None,
        time_scale: float,
        retry_after: bool,
    ) -> None:
        self._clock = clock
        self._account_quota = account_quota
        self._create_deployment_quota = create_deployment_quota
        self._time_scale = time_scale
        self._retry_after = retry_after
        self._lock = threading.Lock()
        self._deployment_buckets: dict[str, TokenBucket] = {}
        self._account_buckets: dict[str, TokenBucket] = {}

    def admit(self, account_id: str, operation: str) -> HttpAnswer | None:
        """None when the call is within quota (its tokens taken), else the 429 to answer."""
        with self._lock:
            buckets: list[TokenBucket] = []
            if self._account_quota is not None:
                buckets.append(self._bucket(self._account_buckets, account_id, self._account_quota))
            if self._create_deployment_quota is not None and operation == "CreateDeployment":
                buckets.append(
                    self._bucket(
                        self._deployment_buckets, account_id, self._create_deployment_quota
                    )
                )
            # Both quotas must allow the call before either is charged: a throttled call
            # consumes nothing.
            wait = max((bucket.wait_time() for bucket in buckets), default=0.0)
            if wait > 0:
                return self._throttled(wait)
            for bucket in buckets:
                bucket.take()
            return None

    def refill(self) -> None:
        """As after a quiet spell: every bucket full again."""
        with self._lock:
            self._deployment_buckets.clear()
            self._account_buckets.clear()

    def _bucket(
        self, buckets: dict[str, TokenBucket], account_id: str, spec: BucketSpec
    ) -> TokenBucket:
        bucket = buckets.get(account_id)
        if bucket is None:
            bucket = buckets[account_id] = TokenBucket(spec, self._clock, self._time_scale)
        return bucket

    def _throttled(self, wait: float) -> HttpAnswer:
        headers: tuple[tuple[str, str], ...] = ()
        if self._retry_after:
            # Whole seconds, never 0: a client honouring it must not retry at once. In model
            # seconds (what AWS would say): a client on compressed time sleeps on a clock
            # compressed by the same factor.
            model_wait = wait / self._time_scale
            headers = (("Retry-After", str(max(1, math.ceil(model_wait - 1e-9)))),)
        return error_answer(
            "rest-json",
            429,
            "TooManyRequestsException",
            TOO_MANY_REQUESTS_MESSAGE,
            extra_headers=headers,
        )
