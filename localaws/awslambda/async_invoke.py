"""Lambda's asynchronous invocation (``Invoke`` with ``InvocationType: Event``), as Lambda
delivers it.

moto's Lambda runs functions only in Docker. This model stands in front of it for the
functions attached to it, reproducing the Lambda developer guide ("Invoking a Lambda function
asynchronously", "Error handling and automatic retries in Lambda", "Invoke" API reference):

- the call answers 202 with an empty body at once; the event is queued and delivered later,
  on its own thread;
- the payload is at most 256 KB (``RequestTooLargeException``, 413); a function that does not
  exist is ``ResourceNotFoundException`` (404); only ``Event`` invocations are modelled (a
  ``RequestResponse`` or ``DryRun`` here is refused, so a test notices);
- a delivery that fails (the function raised or timed out) is retried twice, after about one
  and then two minutes;
- delivery is at least once and not in order: :meth:`AsyncInvocations.duplicate_next` makes
  the next events arrive twice, :meth:`delay_next` makes them late.

:attr:`pending` counts events queued or being delivered: what is "left behind" once every
request has answered.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from localaws.wire import HttpAnswer, error_answer

PAYLOAD_LIMIT = 256 * 1024
RETRY_WAITS = (60.0, 120.0)  # model seconds before the second and the third attempt
_INVOKE_PATH = re.compile(r"^/2015-03-31/functions/(?P<function>[^/]+)/invocations/?$")


class Deliverable(Protocol):
    arn: str

    def deliver(self, event: Mapping[str, Any]) -> Any: ...


@dataclass
class Delivery:
    """One event as Lambda delivered it (each attempt, each duplicate)."""

    function_arn: str
    event: Mapping[str, Any]
    attempt: int
    ok: bool | None = None


def is_invoke(method: str, path: str) -> bool:
    return method == "POST" and _INVOKE_PATH.match(path) is not None


class AsyncInvocations:
    def __init__(self, time_scale: float = 1.0) -> None:
        self.time_scale = time_scale
        self.deliveries: list[Delivery] = []
        self._functions: dict[str, Deliverable] = {}
        self._duplicates = 0
        self._delays: list[float] = []
        self._pending = 0
        self._generation = 0
        self._lock = threading.Condition()

    # -- configuration ---------------------------------------------------------------------

    def attach(self, function: Deliverable, *, time_scale: float | None = None) -> None:
        """Deliver ``Invoke`` calls naming ``function`` (its ARN or name) to it."""
        with self._lock:
            self._functions[function.arn] = function
            if time_scale is not None:
                self.time_scale = time_scale

    def duplicate_next(self, count: int = 1) -> None:
        """The next ``count`` events are delivered twice."""
        with self._lock:
            self._duplicates += count

    def delay_next(self, *model_seconds: float) -> None:
        """The next events wait this long (model seconds) before their delivery, in order."""
        with self._lock:
            self._delays.extend(model_seconds)

    def reset(self) -> None:
        """Forget attached functions; events still queued are dropped (a new world)."""
        with self._lock:
            self._functions.clear()
            self._duplicates = 0
            self._delays.clear()
            self.deliveries.clear()
            self._generation += 1
            self._lock.notify_all()

    @property
    def pending(self) -> int:
        with self._lock:
            return self._pending

    def wait_idle(self, timeout: float) -> bool:
        """Wait until no event is queued or being delivered; False on timeout (real seconds)."""
        end = time.monotonic() + timeout
        with self._lock:
            while self._pending:
                left = end - time.monotonic()
                if left <= 0:
                    return False
                self._lock.wait(left)
            return True

    # -- the API ---------------------------------------------------------------------------

    def invoke(self, path: str, headers: Mapping[str, str], body: bytes) -> HttpAnswer:
        match = _INVOKE_PATH.match(path)
        assert match is not None
        name = match["function"]
        kind = headers.get("x-amz-invocation-type", "RequestResponse")
        if kind != "Event":
            return error_answer(
                "rest-json",
                400,
                "InvalidParameterValueException",
                f"only asynchronous invocations are modelled here, not {kind}",
            )
        if len(body) > PAYLOAD_LIMIT:
            return error_answer(
                "rest-json",
                413,
                "RequestTooLargeException",
                "Request must be smaller than 262144 bytes for the InvokeAsync operation",
            )
        with self._lock:
            function = self._functions.get(name) or next(
                (f for arn, f in self._functions.items() if arn.rsplit(":", 1)[-1] == name),
                None,
            )
            if function is None:
                return error_answer(
                    "rest-json", 404, "ResourceNotFoundException", f"Function not found: {name}"
                )
            copies = 2 if self._duplicates else 1
            self._duplicates = max(0, self._duplicates - 1)
            delay = self._delays.pop(0) if self._delays else 0.0
            generation = self._generation
            self._pending += copies
        event = json.loads(body or b"{}")
        for _ in range(copies):
            threading.Thread(
                target=self._deliver,
                args=(function, event, (delay, *RETRY_WAITS), 1, generation),
                daemon=True,
            ).start()
        return HttpAnswer(202, (("Content-Type", "application/json"),), b"")

    def submit(self, function: Deliverable, event: Mapping[str, Any]) -> None:
        """An asynchronous invocation made by another service (EventBridge's rule targets):
        delivered on its own thread, retried as Lambda retries one that failed."""
        with self._lock:
            generation = self._generation
            self._pending += 1
        threading.Thread(
            target=self._deliver,
            args=(function, dict(event), (0.0, *RETRY_WAITS), 1, generation),
            daemon=True,
        ).start()

    def retry(self, function: Deliverable, event: Mapping[str, Any]) -> None:
        """Lambda's retries of an asynchronous invocation whose first attempt failed (the
        caller made that attempt itself, as the local CloudFormation does): the second after
        about one minute, the third after two more, each only if the one before failed."""
        with self._lock:
            generation = self._generation
            self._pending += 1
        threading.Thread(
            target=self._deliver,
            args=(function, dict(event), RETRY_WAITS, 2, generation),
            daemon=True,
        ).start()

    def _deliver(
        self,
        function: Deliverable,
        event: Mapping[str, Any],
        waits: tuple[float, ...],
        first: int,
        generation: int,
    ) -> None:
        try:
            for attempt, wait in enumerate(waits, start=first):
                if not self._sleep(wait, generation):
                    return
                delivery = Delivery(function.arn, event, attempt)
                with self._lock:
                    self.deliveries.append(delivery)
                result = function.deliver(dict(event))
                delivery.ok = bool(getattr(result, "ok", True))
                if delivery.ok:
                    return
        finally:
            with self._lock:
                self._pending -= 1
                self._lock.notify_all()

    def _sleep(self, model_seconds: float, generation: int) -> bool:
        """Wait; False when the world was reset meanwhile (the event is dropped)."""
        end = time.monotonic() + model_seconds * self.time_scale
        with self._lock:
            while self._generation == generation:
                left = end - time.monotonic()
                if left <= 0:
                    return True
                self._lock.wait(left)
            return False
