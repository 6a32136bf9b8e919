"""The authorizer result cache of each stage, as API Gateway keeps it.

API Gateway caches an authorizer's result per identity-source value (here the token) for the
authorizer's ``authorizerResultTtlInSeconds`` (default 300, 0 disables, at most 3,600; API
reference, Authorizer), and ``FlushStageAuthorizersCache`` "flushes all authorizer cache
entries on a stage" (API reference). So a token allowed before a pool was removed keeps being
allowed until its entry expires, unless the stage's cache is flushed: the reason the custom
resource flushes every stage it republishes.

Whether API Gateway also caches a *denial* of a Cognito token is not documented; this cache
keeps both, the stricter reading: code that is correct here (it flushes after every change)
is correct either way.

Time is passed in by the caller (a monotonic reading), so tests can run the TTL on a manual
clock.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

DEFAULT_RESULT_TTL = 300


@dataclass(frozen=True)
class StageKey:
    account_id: str
    region: str
    api_id: str
    stage_name: str


@dataclass(frozen=True)
class _Entry:
    allowed: bool
    expires: float


class AuthorizerCache:
    """Per stage: token → (allowed, expiry). Thread-safe: the data plane serves concurrently."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._stages: dict[StageKey, dict[str, _Entry]] = {}

    def lookup(self, stage: StageKey, token: str, now: float) -> bool | None:
        """The cached result for this token on this stage, or None when there is none live."""
        with self._lock:
            entry = self._stages.get(stage, {}).get(token)
            if entry is None or entry.expires <= now:
                return None
            return entry.allowed

    def store(self, stage: StageKey, token: str, allowed: bool, ttl: int, now: float) -> None:
        if ttl <= 0:
            return
        with self._lock:
            self._stages.setdefault(stage, {})[token] = _Entry(allowed, now + ttl)

    def flush(self, stage: StageKey) -> None:
        with self._lock:
            self._stages.pop(stage, None)

    def clear(self) -> None:
        with self._lock:
            self._stages.clear()


AUTHORIZER_CACHE = AuthorizerCache()
