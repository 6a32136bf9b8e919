"""Going on past one invocation: the function invokes itself with the same event.

A registration can wait longer than one Lambda invocation (900 s) when API Gateway stays busy
(its CreateDeployment quota is one per 5 s for the whole account). The invocation then stops
shortly before its deadline and invokes its own function asynchronously (``InvocationType:
Event``; Lambda developer guide, "Invoking a Lambda function asynchronously") with the original
CloudFormation event and a marker naming the continuation's number. Nothing per request is
created: no rule, no permission, no queue. The event, pre-signed ResponseURL included, is held
only by Lambda's internal queue for asynchronous invocations, which no principal can read (the
function has no dead-letter queue or failure destination, where it would be stored).

Lambda delivers an asynchronous invocation at least once, sometimes late: the registry's
request record (``registry.requests``) makes a duplicate or a late continuation change nothing
twice. A request takes at most ceil(3,600 / ~860) = 5 invocations, far below the 16 after which
Lambda's recursive loop detection would stop a chain (developer guide, "Use Lambda recursive
loop detection to prevent infinite loops").
"""

from __future__ import annotations

import calendar
import json
import time
from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qs, urlsplit

from . import aws, retries
from .timing import Deadline

MARKER = "AuthorizerPoolsContinuation"
# Asynchronous invocations take at most 256 KB of payload.
PAYLOAD_LIMIT = 256 * 1024
_DEFAULT_SERVICE_TIMEOUT = 3600.0
# The FAILED answer of a request that could not finish comes this long before CloudFormation's
# ServiceTimeout (or a quarter of a short one): time to take back what it registered, answer,
# and for CloudFormation to hear it.
GIVE_UP_MARGIN_SECONDS = 60.0
MINIMUM_SERVICE_TIMEOUT = 60.0  # what properties.py accepts at least


def attempt_of(event: Mapping[str, Any]) -> int:
    """Which continuation this is: 0 for CloudFormation's own delivery."""
    marker = event.get(MARKER)
    if not isinstance(marker, Mapping):
        return 0
    attempt = marker.get("attempt")
    return attempt if isinstance(attempt, int) and attempt > 0 else 0


def original(event: Mapping[str, Any]) -> dict[str, Any]:
    """The event as CloudFormation sent it."""
    return {key: value for key, value in event.items() if key != MARKER}


def service_timeout(event: Mapping[str, Any]) -> float:
    """CloudFormation's patience for this request. The properties are bounded (1 to 3,600 s)
    before any work; an unreadable value here means the default."""
    try:
        seconds = float((event.get("ResourceProperties") or {}).get("ServiceTimeout", ""))
    except (TypeError, ValueError):
        return _DEFAULT_SERVICE_TIMEOUT
    if not 0 < seconds <= _DEFAULT_SERVICE_TIMEOUT:
        return _DEFAULT_SERVICE_TIMEOUT
    # A Delete may carry a value a Create was refused for: it still gets time to work.
    return max(seconds, MINIMUM_SERVICE_TIMEOUT)


def give_up_at(started: float, event: Mapping[str, Any]) -> float:
    """When a request that is not live yet stops waiting and answers FAILED."""
    patience = service_timeout(event)
    return started + patience - min(GIVE_UP_MARGIN_SECONDS, patience / 4)


def signed_at(response_url: str) -> float | None:
    """When CloudFormation signed the ResponseURL (SigV4's ``X-Amz-Date``, about when it sent
    the request), in seconds since the epoch; None when the URL does not say."""
    try:
        dates = parse_qs(urlsplit(response_url).query).get("X-Amz-Date", [])
        parsed = time.strptime(dates[0], "%Y%m%dT%H%M%SZ") if dates else None
    except ValueError:
        return None
    return float(calendar.timegm(parsed)) if parsed is not None else None


def start(event: Mapping[str, Any], attempt: int, function_arn: str, deadline: Deadline) -> None:
    """Invoke ``function_arn`` (this function) asynchronously with the event, as continuation
    ``attempt``."""
    payload = json.dumps({**original(event), MARKER: {"attempt": attempt}}).encode()
    if len(payload) > PAYLOAD_LIMIT:
        # Properties are bounded to 4,096 bytes, so this cannot happen with a valid request.
        raise ValueError("the continuation's event is larger than Lambda accepts")
    retries.call(
        "Invoke",
        lambda: aws.lambda_().invoke(
            FunctionName=function_arn, InvocationType="Event", Payload=payload
        ),
        deadline,
    )
