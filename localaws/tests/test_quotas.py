"""localaws.middleware.quotas: token buckets on a clock tests control (the middleware's use of
them is in test_control_plane)."""

from __future__ import annotations

import pytest

from localaws.middleware.clocks import ManualClock
from localaws.middleware.quotas import BucketSpec, TokenBucket


def test_account_bucket_allows_a_burst_of_40_then_10_per_second() -> None:
    clock = ManualClock()
    bucket = TokenBucket(BucketSpec(capacity=40, interval=0.1), clock)
    assert [bucket.try_acquire() for _ in range(40)] == [0.0] * 40
    assert bucket.try_acquire() == pytest.approx(0.1)
    clock.advance(1.0)
    granted = [bucket.try_acquire() == 0.0 for _ in range(11)]
    assert granted == [True] * 10 + [False]


def test_bucket_never_holds_more_than_its_capacity() -> None:
    clock = ManualClock()
    bucket = TokenBucket(BucketSpec(capacity=40, interval=0.1), clock)
    clock.advance(1_000)
    assert sum(bucket.try_acquire() == 0.0 for _ in range(100)) == 40


def test_create_deployment_bucket_gives_one_token_every_five_seconds() -> None:
    clock = ManualClock()
    bucket = TokenBucket(BucketSpec(capacity=1, interval=5.0), clock)
    assert bucket.try_acquire() == 0.0
    assert bucket.try_acquire() == pytest.approx(5.0)
    clock.advance(4.9)
    assert bucket.try_acquire() == pytest.approx(0.1)
    clock.advance(0.1)
    assert bucket.try_acquire() == 0.0


def test_time_scale_shortens_quota_intervals() -> None:
    clock = ManualClock()
    bucket = TokenBucket(BucketSpec(capacity=1, interval=5.0), clock, time_scale=0.05)
    assert bucket.try_acquire() == 0.0
    clock.advance(0.25)
    assert bucket.try_acquire() == 0.0
