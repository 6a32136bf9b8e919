"""Sending an answer to its verified ResponseURL: a few bounded tries, never a loop.

crhelper's own sender retries an unreachable URL for ever (five tries, a pause, five more…), so
one bad URL held an invocation until Lambda killed it. Here every try has a connect and a read
timeout, there are at most :data:`TRIES`, and none starts unless it can finish before the
caller's deadline. S3 refusing the PUT (4xx: expired, wrong signature) is final; a dropped
connection, a timeout or a 5xx is tried again.

The PUT is what S3 expects of a pre-signed URL: HTTPS, the body as given, an empty
``content-type`` (the URL is signed without one, and CloudFormation's docs' examples send none).
``AWS_ENDPOINT_URL_S3`` (boto3's standard variable for S3's endpoint; "Service-specific
endpoints" in the AWS SDKs and Tools reference guide) sends the PUT to another endpoint with the
URL's host in the ``Host`` header: that is how the local AWS receives answers. Lambda never sets
it, nor does template.yaml.
"""

from __future__ import annotations

import http.client
import logging
import os
import ssl
from collections.abc import Mapping
from urllib.parse import urlsplit

from . import timing
from .response_url import ResponseUrl
from .timing import Deadline

logger = logging.getLogger("authorizer_pools")

TRIES = 3
CONNECT_SECONDS = 3.0
READ_SECONDS = 5.0
_PAUSE_SECONDS = 0.5
# A try starts only with this much time left; its timeouts are cut to what is left.
_LEAST_SECONDS = 0.5
ENDPOINT_VARIABLE = "AWS_ENDPOINT_URL_S3"


def send(url: ResponseUrl, body: bytes, deadline: Deadline, fields: Mapping[str, object]) -> bool:
    """PUT ``body`` to ``url``; True once S3 took it (2xx). ``fields``: the request's, for the
    log lines."""
    host, port = _endpoint(url)

    def log(level: int, outcome: str, **details: object) -> None:
        logger.log(
            level, {"step": "send", "outcome": outcome, **fields, **details, "url": url.shown}
        )

    for attempt in range(1, TRIES + 1):
        if not deadline.allows(_LEAST_SECONDS):
            log(logging.ERROR, "no-time-left")
            return False
        status, problem = _put(host, port, url, body, deadline)
        if status is not None and 200 <= status < 300:
            log(logging.INFO, "delivered")
            return True
        if status is not None and 400 <= status < 500 and status != 429:
            log(logging.ERROR, "refused-by-s3", status=status)
            return False
        log(logging.WARNING, "retry", attempt=attempt, reason=problem or f"status {status}")
        if attempt < TRIES:
            timing.clock.sleep(_PAUSE_SECONDS * attempt)
    return False


def _endpoint(url: ResponseUrl) -> tuple[str, int]:
    override = os.environ.get(ENDPOINT_VARIABLE)
    if not override:
        return url.host, 443
    parts = urlsplit(override)
    return parts.hostname or url.host, parts.port or 443


def _put(
    host: str, port: int, url: ResponseUrl, body: bytes, deadline: Deadline
) -> tuple[int | None, str | None]:
    target = urlsplit(url.text)
    path = target.path + (f"?{target.query}" if target.query else "")
    connection = http.client.HTTPSConnection(
        host,
        port,
        timeout=min(CONNECT_SECONDS, deadline.remaining()),
        context=ssl.create_default_context(),
    )
    try:
        connection.connect()
        if connection.sock is not None:
            connection.sock.settimeout(max(0.1, min(READ_SECONDS, deadline.remaining())))
        connection.request(
            "PUT",
            path,
            body=body,
            headers={"Host": url.host, "content-type": "", "content-length": str(len(body))},
        )
        response = connection.getresponse()
        response.read()
    except (OSError, http.client.HTTPException) as error:
        # Never the URL: an exception's text may quote it.
        return None, type(error).__name__
    finally:
        connection.close()
    return response.status, None
