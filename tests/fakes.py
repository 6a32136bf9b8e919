"""Small doubles for unit tests: a clock that does not sleep, botocore errors as AWS sends them."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError


class FakeClock:
    """Time that moves only when the code under test sleeps."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def monotonic(self) -> float:
        return self.now

    def time(self) -> float:
        return 1_800_000_000.0 + self.now

    def from_wall_time(self, seconds: float) -> float:
        return seconds

    def sleep(self, seconds: float) -> None:
        assert seconds >= 0
        self.sleeps.append(seconds)
        self.now += seconds


def client_error(
    code: str,
    status: int,
    operation: str = "UpdateAuthorizer",
    message: str = "",
    retry_after: str | None = None,
) -> ClientError:
    headers = {"retry-after": retry_after} if retry_after is not None else {}
    response: Any = {
        "Error": {"Code": code, "Message": message or code},
        "ResponseMetadata": {"HTTPStatusCode": status, "HTTPHeaders": headers},
    }
    return ClientError(response, operation)
