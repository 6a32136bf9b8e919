"""Going on past one invocation: the function invokes itself with the same event.

A registration can wait longer than one Lambda invocation (900 s) when API Gateway stays busy
(its CreateDeployment quota is one per 5 s for the whole account). The invocation then stops
shortly before its deadline and invokes its own function asynchronously (``InvocationType:
Event``; Lambda developer guide, "Invoking a Lambda function asynchronously") with the original
CloudFormation event and a marker naming the continuation's number and the nonce the request's
record holds for it (``registry.requests``): only the function can start a continuation that is
honoured. Nothing per request is created: no rule, no permission, no queue. The event,
pre-signed ResponseURL included, is held only by Lambda's internal queue for asynchronous
invocations, which no principal can read (the function has no dead-letter queue or failure
destination, where it would be stored).

Lambda delivers an asynchronous invocation at least once, sometimes late: the request's record
makes a duplicate or a late continuation change nothing twice. A request takes at most
ceil(3,600 / ~860) = 5 invocations, far below the 16 after which Lambda's recursive loop
detection would stop a chain (developer guide, "Use Lambda recursive loop detection to prevent
infinite loops").
"""

from __future__ import annotations

import json

from . import aws, retries
from .request import CONTINUATION_MARKER, Continuation, Request
from .timing import Deadline

# The Invoke API reference gives 1 MB for an asynchronous payload; the deprecated InvokeAsync
# kept 256 KB. Stay under the smaller.
PAYLOAD_LIMIT = 256 * 1024


def start(
    request: Request, continuation: Continuation, function_arn: str, deadline: Deadline
) -> None:
    """Invoke ``function_arn`` (this function) asynchronously with the request's event, as
    ``continuation``."""
    payload = json.dumps({**request.event, CONTINUATION_MARKER: continuation.as_marker()}).encode()
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
