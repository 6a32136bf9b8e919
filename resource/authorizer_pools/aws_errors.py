"""What an AWS error means, decided in one table, and the typed errors the rest of the code sees.

No module but this one reads an error code. ``retries.call`` asks :func:`kind_of` whether to
retry, and turns every error it does not retry into one of the typed errors below, so a caller
says ``except NotFound`` rather than comparing strings (in the manner of the Terraform AWS
provider's finders, which turn a service's "not found" into one error type).

- *Busy*: the request was refused and changed nothing (409 conflict, 429 throttling, a DynamoDB
  transaction cancelled by a conflict): repeat it later.
- *Ambiguous*: its fate is unknown (a 5xx, a dropped connection): re-read before deciding again.
- *Not found*: what it names does not exist (``NotFoundException``, Cognito's and DynamoDB's
  ``ResourceNotFoundException``; CloudFormation answers ``ValidationError`` for a stack or a
  resource it does not know, API reference of DescribeStackResource and DescribeStacks).
- *Refused*: the request itself was refused (a bad request, or IAM denying it): repeating it
  changes nothing.
- *Condition failed*: a DynamoDB condition did not hold: an answer, not a failure.
"""

from __future__ import annotations

import enum

from botocore.exceptions import ClientError, HTTPClientError
from botocore.exceptions import ConnectionError as BotoConnectionError

from .errors import AwsCallFailed


class Kind(enum.Enum):
    BUSY = "busy"
    AMBIGUOUS = "ambiguous"
    NOT_FOUND = "not-found"
    REFUSED = "refused"
    CONDITION_FAILED = "condition-failed"
    FAILED = "failed"


_BUSY_STATUS = frozenset({409, 429})
THROTTLED_STATUS = 429
_DENIED_CODES = frozenset({"AccessDeniedException", "AccessDenied"})
_CANCELLED = "TransactionCanceledException"
_CONDITION_CANCELLATION = "ConditionalCheckFailed"
# A transaction cancelled for these reasons changed nothing and may simply be repeated; one
# cancelled by a failed condition is an answer, for the caller.
_BUSY_CANCELLATIONS = frozenset(
    {"TransactionConflict", "ThrottlingError", "ProvisionedThroughputExceeded"}
)

# The policy: what each error code means, whichever call raised it ...
_BY_CODE: dict[str, Kind] = {
    **dict.fromkeys(
        (
            "ConflictException",
            "TooManyRequestsException",
            "ThrottlingException",
            "Throttling",
            "ThrottledException",
            "RequestLimitExceeded",
            "ProvisionedThroughputExceededException",
            "TransactionConflictException",
        ),
        Kind.BUSY,
    ),
    **dict.fromkeys(("NotFoundException", "ResourceNotFoundException"), Kind.NOT_FOUND),
    **dict.fromkeys(("BadRequestException", "ValidationError", *_DENIED_CODES), Kind.REFUSED),
    "ConditionalCheckFailedException": Kind.CONDITION_FAILED,
}
# ... except where one call gives a code its own meaning: CloudFormation's "Stack ... does not
# exist" and "Resource ... does not exist for stack ...".
_BY_OPERATION: dict[tuple[str, str], Kind] = {
    ("DescribeStackResource", "ValidationError"): Kind.NOT_FOUND,
    ("DescribeStacks", "ValidationError"): Kind.NOT_FOUND,
}


class NotFound(AwsCallFailed):
    """What the call names does not exist."""


class Refused(AwsCallFailed):
    """The service refused the request itself; ``by_iam``: IAM denied it."""

    def __init__(self, operation: str, code: str, message: str, *, by_iam: bool) -> None:
        super().__init__(operation, code, message)
        self.by_iam = by_iam
        # What to tell a tenant: the service's own words, or that IAM denied it.
        self.reason = code if by_iam else message


class ConditionFailed(AwsCallFailed):
    """A DynamoDB condition did not hold; ``reasons``: each transaction item's cancellation
    code ("None" for the items that were fine)."""

    def __init__(self, operation: str, code: str, message: str, reasons: tuple[str, ...]) -> None:
        super().__init__(operation, code, message)
        self.reasons = reasons


class AmbiguousOutcome(Exception):
    """A non-idempotent call may or may not have been applied; re-read before deciding again."""

    def __init__(self, operation: str, error: Exception) -> None:
        super().__init__(f"{operation}: outcome unknown: {describe(error)[1]}")
        self.operation = operation
        self.error = error


class Throttled(Exception):
    """A call was throttled and its caller asked to decide what to do meanwhile."""

    def __init__(self, operation: str, error: ClientError) -> None:
        super().__init__(f"{operation}: throttled")
        self.operation = operation
        self.error = error


def describe(error: Exception) -> tuple[str, str]:
    """(error code, message) of a botocore error, for reasons and logs."""
    if isinstance(error, ClientError):
        details = error.response.get("Error", {})
        return details.get("Code", "Unknown"), details.get("Message", str(error))
    return type(error).__name__, str(error)


def status_of(error: Exception) -> int:
    if not isinstance(error, ClientError):
        return 0
    return int(error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0))


def cancellation_reasons(error: ClientError) -> tuple[str, ...]:
    """Why DynamoDB cancelled a transaction, one code per item ("None" for items that were
    fine)."""
    reasons = error.response.get("CancellationReasons", [])
    return tuple(str(reason.get("Code", "None")) for reason in reasons)


def retry_after(error: Exception) -> float | None:
    """Seconds the service asked us to wait (``Retry-After``, delay-seconds form only)."""
    if not isinstance(error, ClientError):
        return None
    headers = error.response.get("ResponseMetadata", {}).get("HTTPHeaders", {})
    value = headers.get("retry-after")
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:
        return None


def kind_of(operation: str, error: Exception) -> Kind:
    """The one policy: what ``error``, raised by ``operation``, means."""
    if isinstance(error, BotoConnectionError | HTTPClientError):
        return Kind.AMBIGUOUS
    if not isinstance(error, ClientError):
        return Kind.FAILED
    code, _ = describe(error)
    status = status_of(error)
    if code == _CANCELLED:
        reasons = set(cancellation_reasons(error))
        if _CONDITION_CANCELLATION in reasons:
            return Kind.CONDITION_FAILED
        return Kind.BUSY if reasons & _BUSY_CANCELLATIONS else Kind.FAILED
    if status in _BUSY_STATUS:
        return Kind.BUSY
    kind = _BY_OPERATION.get((operation, code)) or _BY_CODE.get(code)
    if kind is None:
        kind = Kind.AMBIGUOUS if status >= 500 else Kind.FAILED
    return kind


def is_throttling(error: Exception) -> bool:
    return status_of(error) == THROTTLED_STATUS


def typed(operation: str, error: ClientError) -> AwsCallFailed:
    """The typed error for a final ``error`` (one no retry can help)."""
    code, message = describe(error)
    kind = kind_of(operation, error)
    if kind is Kind.NOT_FOUND:
        return NotFound(operation, code, message)
    if kind is Kind.REFUSED:
        return Refused(operation, code, message, by_iam=code in _DENIED_CODES)
    if kind is Kind.CONDITION_FAILED:
        reasons = cancellation_reasons(error) or (_CONDITION_CANCELLATION,)
        return ConditionFailed(operation, code, message, reasons)
    return AwsCallFailed(operation, code, message)


def is_condition_failure(reason: str) -> bool:
    """Whether a transaction item's cancellation code says its condition did not hold."""
    return reason == _CONDITION_CANCELLATION
