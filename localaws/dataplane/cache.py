"""The authorizer result cache of each stage, as API Gateway keeps it.

API Gateway caches an authorizer's result per authorizer and identity-source value (here the
token) for the authorizer's ``authorizerResultTtlInSeconds`` (default 300, 0 disables, at most
3,600; API reference, Authorizer), and ``FlushStageAuthorizersCache`` "flushes all authorizer cache
entries on a stage" (API reference). So a token allowed before a pool was removed keeps being
allowed until its entry expires, unless the stage's cache is flushed: the reason the custom
resource flushes every stage it republishes.

What is cached is the token's *identity*: its verified claims, or that it is refused (bad
signature, issuer not listed). Whether API Gateway also caches a denial of a Cognito token is not
documented; this cache keeps both, the stricter reading: code that is correct here (it flushes
after every change) is correct either way. What depends on the method (its scopes) or on the
moment (the token's expiry) is checked on every request by the data plane, never cached.

Time is passed in by the caller (a monotonic reading), so tests can run the TTL on a manual
clock.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

DEFAULT_RESULT_TTL = 300


@dataclass(frozen=True)
class StageKey:
    account_id: str
    region: str
    api_id: str
    stage_name: str


@dataclass(frozen=True)
class Identity:
    """A cached result: the token's verified claims, or None when it was refused."""

    claims: Mapping[str, Any] | None
    expires: float


class AuthorizerCache:
    """Per stage: (authorizer, token) → identity until it expires. Thread-safe: the data plane
    serves concurrently."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._stages: dict[StageKey, dict[tuple[str, str], Identity]] = {}

    def lookup(
        self, stage: StageKey, authorizer_id: str, token: str, now: float
    ) -> Identity | None:
        """The live cached result for this token and authorizer on this stage, if any."""
        with self._lock:
            entry = self._stages.get(stage, {}).get((authorizer_id, token))
            if entry is None or entry.expires <= now:
                return None
            return entry

    def store(
        self,
        stage: StageKey,
        authorizer_id: str,
        token: str,
        claims: Mapping[str, Any] | None,
        *,
        ttl: int,
        now: float,
    ) -> None:
        if ttl <= 0:
            return
        with self._lock:
            self._stages.setdefault(stage, {})[(authorizer_id, token)] = Identity(claims, now + ttl)

    def flush(self, stage: StageKey) -> None:
        with self._lock:
            self._stages.pop(stage, None)

    def clear(self) -> None:
        with self._lock:
            self._stages.clear()


AUTHORIZER_CACHE = AuthorizerCache()
