"""Logging: one JSON line per step, and no secret in any line.

crhelper formats records as JSON (``json_logging=True``) and, at DEBUG, logs the whole event and
the URL it answers to. That ResponseURL is a pre-signed S3 URL, a secret: anyone holding it can
answer for the stack; and a continuation's event carries its nonce. A filter on crhelper's
loggers and on every root handler cuts the query string (the signature) out of any such URL,
and every nonce, before a record is written, at any level.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from . import __version__

if TYPE_CHECKING:
    from .registration import Registration
    from .request import Request

logger = logging.getLogger("authorizer_pools")

# A URL with a query that carries a signature: S3's SigV4 (X-Amz-Signature) or SigV2 (Signature).
_SIGNED_URL = re.compile(
    r"(https?://[^\s\"'<>?]+)\?[^\s\"'<>]*?(?:X-Amz-Signature|Signature)=[^\s\"'<>]*",
    re.IGNORECASE,
)
_REDACTED = r"\1?<redacted>"
# A continuation's nonce (``request.CONTINUATION_MARKER``), as crhelper's DEBUG line of the event
# shows it: with the request's id it would let its reader start the request's next continuation.
_NONCE = re.compile(r"""(['"]nonce['"]\s*:\s*['"])[^'"]*""")
NONCE_KEY = "nonce"
_LOGGERS_THAT_SEE_THE_URL = ("crhelper", "crhelper.resource_helper", "crhelper.utils")


def redact(value: object) -> Any:
    """``value`` with the query of every signed URL and every continuation nonce in it removed
    (strings, dicts, lists)."""
    if isinstance(value, str):
        return _NONCE.sub(r"\1<redacted>", _SIGNED_URL.sub(_REDACTED, value))
    if isinstance(value, Mapping):
        return {
            key: "<redacted>" if key == NONCE_KEY else redact(item) for key, item in value.items()
        }
    if isinstance(value, list | tuple):
        return type(value)(redact(item) for item in value)
    return value


class RedactSignedUrls(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, Mapping):
            record.msg = redact(record.msg)
        else:
            message = record.getMessage()
            cleaned = redact(message)
            if cleaned != message:
                record.msg, record.args = cleaned, None
        if record.exc_info:
            # A traceback quotes exception messages, which may quote the URL: format it here,
            # redacted, so no formatter formats the original (they reuse ``exc_text``).
            record.exc_text = redact(logging.Formatter().formatException(record.exc_info))
            record.exc_info = None
        elif record.exc_text:
            record.exc_text = redact(record.exc_text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        return True


_FILTER = RedactSignedUrls()


def install_redaction() -> None:
    """Attach the filter where records that may hold the URL pass. Idempotent."""
    for name in (*_LOGGERS_THAT_SEE_THE_URL, logger.name):
        logging.getLogger(name).addFilter(_FILTER)
    for handler in logging.getLogger().handlers:
        handler.addFilter(_FILTER)


def step(
    request: Request,
    name: str,
    outcome: str,
    registration: Registration | None = None,
    *,
    level: int = logging.INFO,
    **details: object,
) -> None:
    """One line per step: which stack and registration, what was done, how it ended, and which
    release did it (an incident's lines say which code they came from)."""
    line: dict[str, object] = {
        "step": name,
        "outcome": outcome,
        "version": __version__,
        **request.log_fields(),
    }
    if registration is not None:
        line["pool"] = str(registration.user_pool_arn)
        line["api"] = registration.rest_api_id
        line["authorizer"] = registration.authorizer_id
    line.update((key, str(value)) for key, value in details.items() if value is not None)
    logger.log(level, line)
