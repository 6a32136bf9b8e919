"""The Lambda invocation that carries a request, and how it gives the request back to Lambda."""

from __future__ import annotations

from dataclasses import dataclass

from .timing import Deadline


class RetryLater(Exception):
    """The request's state could not be read or written: fail the invocation, so that Lambda
    retries it, rather than send an answer that is not recorded."""


@dataclass(frozen=True)
class Invocation:
    """The Lambda invocation carrying a request."""

    aws_request_id: str
    function_arn: str
    # Lambda's deadline, less the time kept for sending the answer.
    deadline: Deadline
