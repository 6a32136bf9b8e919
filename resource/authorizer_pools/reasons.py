"""FAILED reasons for the people who read them: the tenant stack's author, in the console.

A reason says what went wrong for this registration and how to fix it, and names the request
whose log line has the details. It never carries what is not the tenant's own: ARNs of roles,
tables or other tenants' pools, account ids, exception class names. AWS error messages quote
such things ("User: arn:aws:sts::…:assumed-role/… is not authorized…"), so every ARN and
account id a message holds is replaced, except those of the tenant's own registration.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from .errors import clip_reason, shown

_ARN = re.compile(r"arn:[a-z-]+:[a-z0-9-]+:[a-z0-9-]*:\d{0,12}:[^\s,;'\"()\]]+")
_ACCOUNT = re.compile(r"(?<!\d)\d{12}(?!\d)")
ARN_SHOWN = "<an ARN>"
ACCOUNT_SHOWN = "<an account>"


def for_tenant(message: str, *, own: Iterable[str], request_id: str) -> str:
    """``message`` with every ARN and account id not in ``own`` (the tenant's own values, as
    given or as a reason quotes them, clipped) replaced, clipped, and ending with the request id
    to look the log line up by."""
    kept = {text for value in own if value for text in (value, shown(value)[1:-1])}
    placeholders: dict[str, str] = {}
    text = message
    for value in sorted(kept, key=len, reverse=True):
        if value in text:
            placeholders[value] = f"\0{len(placeholders)}\0"
            text = text.replace(value, placeholders[value])
    text = _ARN.sub(ARN_SHOWN, text)
    text = _ACCOUNT.sub(ACCOUNT_SHOWN, text)
    for value, placeholder in placeholders.items():
        text = text.replace(placeholder, value)
    suffix = f" (request {request_id}: details in the function's log)"
    return clip_reason(text, limit_reserved=len(suffix)) + suffix
