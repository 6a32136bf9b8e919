"""Errors whose message is a CloudFormation ``Reason``: short, actionable, no traceback."""

from __future__ import annotations

# CloudFormation's console shows about 250 characters of a reason; crhelper keeps only the
# *last* 240 of a longer one, which would cut off the property's name. Stay under it ourselves.
REASON_LIMIT = 250
_VALUE_LIMIT = 100


def shown(value: object, limit: int = _VALUE_LIMIT) -> str:
    """A value quoted for a message, clipped so one long value cannot crowd out the rest."""
    text = value if isinstance(value, str) else repr(value)
    if len(text) > limit:
        text = text[: limit - 1] + "…"
    return repr(text) if isinstance(value, str) else text


def clip_reason(text: str, limit_reserved: int = 0) -> str:
    """Fit a message to CloudFormation's console, keeping its beginning (the property's name);
    ``limit_reserved``: characters kept free for what follows."""
    limit = REASON_LIMIT - limit_reserved
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


class ResourceError(Exception):
    """A failure to report to CloudFormation as FAILED with this message as the reason."""

    def __init__(self, message: str) -> None:
        super().__init__(clip_reason(message))


class InvalidProperty(ResourceError):
    """A resource property CloudFormation sent is missing, malformed, or names nothing real."""

    def __init__(self, name: str, value: object, problem: str) -> None:
        self.name = name
        super().__init__(f"{name} {shown(value)} {problem}")


class AwsCallFailed(ResourceError):
    """An AWS call failed for good, or kept failing until the function had to answer.

    ``transient``: it was refused (throttled, in conflict) until this invocation's time ran out,
    or there was no time left to make it; a later invocation may well succeed."""

    def __init__(
        self, operation: str, code: str, message: str, attempts: int = 1, *, transient: bool = False
    ) -> None:
        self.operation = operation
        self.code = code
        self.transient = transient
        tries = f" after {attempts} attempts" if attempts > 1 else ""
        super().__init__(f"{operation} failed{tries}: {code}: {message}")
