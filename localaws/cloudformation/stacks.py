"""CloudFormation's side of the custom-resource protocol, played locally.

moto's CloudFormation runs custom resources only through Docker-backed Lambda, and only Create,
so this module plays the part itself, as the CloudFormation user guide describes it
("Custom resources", "Custom resource request objects", "Custom resource response objects"):

- events shaped like ``events/{create,update,delete}.json`` (beside this module): every
  scalar property a string, ``PhysicalResourceId`` on Update and Delete,
  ``OldResourceProperties`` on Update, a fresh ``RequestId`` and a pre-signed-looking
  ``ResponseURL`` per request;
- each event delivered to the function as Lambda delivers CloudFormation's asynchronous
  invocation: possibly more than once, and, when the invocation fails (raises, times out, is
  killed), retried twice by Lambda after about one and then two more minutes
  (``awslambda.async_invoke``);
- CloudFormation's own record of each stack and resource, phase by phase, for the function to
  check a request against (``cloudformation.records``): the resource in progress while its
  request is out, complete or failed once answered, the stack's status through creation,
  update, cleanup, rollback and deletion;
- the answer read back from the HTTPS ResponseURL, never from the function's return value; no
  answer within the service timeout means the stack hangs, which is reported as an error;
- stack-level semantics: a failed Create is rolled back with a Delete carrying the physical id
  the FAILED answer gave; an Update answered with a new physical id is a replacement, and the old
  id is deleted in the cleanup phase (with the *new* properties: which ones AWS sends is not
  documented, and the new ones are the harder case); a failed Update, or a later failure in the
  same stack update, rolls back with an Update to the old properties and then a Delete of the
  new id.

The same driver serves the tests and ``make demo``.
"""

from __future__ import annotations

import contextlib
import copy
import importlib
import json
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Protocol

from localaws.awslambda.async_invoke import AsyncInvocations
from localaws.awslambda.bootstrap import ScaledClock
from localaws.awslambda.runtime import (
    ClockSeam,
    ForkServer,
    FunctionConfig,
    InvocationResult,
    LambdaContainer,
    invoke_in_process,
)
from localaws.cloudformation.records import RECORDS
from localaws.cloudformation.response_receiver import ReceivedAnswer, ResponseReceiver

EVENTS = Path(__file__).resolve().parent / "events"
RequestType = Literal["Create", "Update", "Delete"]
Properties = Mapping[str, Any]


class StackHangs(Exception):
    """No answer reached the ResponseURL in time: CloudFormation would wait the whole
    ServiceTimeout (up to an hour) and then fail the stack."""


def as_cloudformation_sends(value: Any) -> Any:
    """CloudFormation sends every scalar property as a string (lists and maps keep shape)."""
    if isinstance(value, Mapping):
        return {key: as_cloudformation_sends(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [as_cloudformation_sends(item) for item in value]
    if isinstance(value, bool):
        return "true" if value else "false"
    return value if isinstance(value, str) else str(value)


def event_template(request_type: RequestType) -> dict[str, Any]:
    """The fixture for a request type, as CloudFormation sends it."""
    loaded: dict[str, Any] = json.loads(
        (EVENTS / f"{request_type.lower()}.json").read_text(encoding="utf-8")
    )
    return loaded


class Function(Protocol):
    """Where CloudFormation's events go: the function behind the ServiceToken."""

    arn: str

    def deliver(self, event: Mapping[str, Any]) -> InvocationResult: ...


class InProcessFunction:
    """The handler called in this process (fast; one invocation at a time, as crhelper's module
    level helper holds per-invocation state).

    With ``time_scale`` and ``clock``, time is compressed as in ``FunctionConfig``: the
    function's injectable clock is a scaled one during each delivery, and ``timeout`` is in
    model seconds."""

    def __init__(
        self,
        handler: Callable[[Any, Any], Any],
        *,
        timeout: float,
        function_name: str = "localaws-function",
        region: str = "us-east-1",
        account_id: str = "123456789012",
        time_scale: float = 1.0,
        clock: ClockSeam | None = None,
    ) -> None:
        self.handler = handler
        self.timeout = timeout
        self.time_scale = time_scale
        # Imported now, as a Lambda-like process imports it at init: a seam that names no
        # module or no clock fails here, not on a delivery (a continuation's, on its own thread).
        self._clock_holder = importlib.import_module(clock.module) if clock else None
        if clock is not None and not hasattr(self._clock_holder, clock.attribute):
            raise ValueError(f"{clock.module} has no {clock.attribute!r} to replace")
        self.clock = clock
        self.function_name = function_name
        self.region = region
        self.account_id = account_id
        self.arn = f"arn:aws:lambda:{region}:{account_id}:function:{function_name}"
        self._lock = threading.Lock()

    def deliver(
        self, event: Mapping[str, Any], *, qualifier: str | None = None
    ) -> InvocationResult:
        """One invocation; ``qualifier``: through that alias (its ARN in the context)."""
        with self._lock, self._on_scaled_clock():
            return invoke_in_process(
                self.handler,
                dict(event),
                self.timeout,
                function_name=self.function_name,
                region=self.region,
                account_id=self.account_id,
                time_scale=self.time_scale,
                qualifier=qualifier,
            )

    @contextlib.contextmanager
    def _on_scaled_clock(self) -> Iterator[None]:
        """The function's clock scaled for one delivery, then put back."""
        if self.clock is None:
            yield
            return
        saved = getattr(self._clock_holder, self.clock.attribute)
        setattr(self._clock_holder, self.clock.attribute, ScaledClock(self.time_scale))
        try:
            yield
        finally:
            setattr(self._clock_holder, self.clock.attribute, saved)


class LambdaService:
    """Lambda scaling out: each concurrent delivery runs in its own execution environment (a
    process), and environments are reused warm once free, as Lambda does."""

    def __init__(self, config: FunctionConfig, *, forked: bool = False) -> None:
        """``forked``: every environment is forked from one that ran init once
        (``ForkServer``), so that a thousand fit in memory; otherwise each starts on its own."""
        self.config = config
        self.arn = config.function_arn
        self._fork_server = ForkServer(config) if forked else None
        self._idle: list[LambdaContainer] = []
        self._all: list[LambdaContainer] = []
        self._busy: dict[LambdaContainer, Mapping[str, Any]] = {}
        self._lock = threading.Lock()

    def deliver(
        self, event: Mapping[str, Any], *, qualifier: str | None = None
    ) -> InvocationResult:
        """One invocation in a free environment; ``qualifier``: through that alias."""
        with self._lock:
            container = self._idle.pop() if self._idle else None
            if container is None:
                container = LambdaContainer(self.config, fork_server=self._fork_server)
                self._all.append(container)
            self._busy[container] = event
        try:
            return container.invoke(dict(event), qualifier=qualifier)
        finally:
            with self._lock:
                del self._busy[container]
                self._idle.append(container)

    def pids(self) -> list[int]:
        """The processes of the environments alive now."""
        with self._lock:
            return [pid for container in self._all if (pid := container.pid) is not None]

    def busy(self) -> list[LambdaContainer]:
        """The environments working on an invocation now."""
        with self._lock:
            return list(self._busy)

    def prewarm(self, count: int) -> None:
        """Start ``count`` execution environments now (in parallel), idle and ready."""
        containers = [
            LambdaContainer(self.config, fork_server=self._fork_server) for _ in range(count)
        ]
        with ThreadPoolExecutor(max_workers=min(count, 16) or 1) as pool:
            list(pool.map(LambdaContainer.start, containers))
        with self._lock:
            self._all += containers
            self._idle += containers

    @property
    def environments(self) -> int:
        """How many execution environments ever ran (the peak concurrency)."""
        with self._lock:
            return len(self._all)

    def stop(self) -> None:
        with self._lock:
            containers, self._all, self._idle = self._all, [], []
        for container in containers:
            container.stop()
        if self._fork_server is not None:
            self._fork_server.stop()

    def __enter__(self) -> LambdaService:
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()


@dataclass(frozen=True)
class Exchange:
    """One request CloudFormation sent and the first answer it got."""

    request_type: RequestType
    stack_name: str
    logical_id: str
    event: Mapping[str, Any]
    status: str
    reason: str
    physical_id: str
    data: Mapping[str, Any]
    deliveries: tuple[InvocationResult, ...]
    answers: int
    seconds: float

    @property
    def succeeded(self) -> bool:
        return self.status == "SUCCESS"

    @property
    def logs(self) -> str:
        return "".join(delivery.logs for delivery in self.deliveries)


@dataclass
class ResourceState:
    properties: dict[str, Any]
    physical_id: str


@dataclass
class Stack:
    name: str
    stack_id: str
    resources: dict[str, ResourceState] = field(default_factory=dict)
    status: str = "CREATE_IN_PROGRESS"
    exchanges: list[Exchange] = field(default_factory=list)


class LocalCloudFormation:
    """Sends CloudFormation's requests to a function and reads its answers back over HTTPS."""

    def __init__(
        self,
        function: Function,
        receiver: ResponseReceiver,
        *,
        service_timeout: float = 60.0,
        region: str = "us-east-1",
        account_id: str = "123456789012",
        on_exchange: Callable[[Exchange], None] | None = None,
        lambda_async: AsyncInvocations | None = None,
        resource_type: str,
        pool_property: str | None = None,
    ) -> None:
        self.function = function
        self.receiver = receiver
        self.service_timeout = service_timeout
        self.region = region
        self.account_id = account_id
        self.on_exchange = on_exchange
        # Lambda's retries of a failed invocation of CloudFormation's (none when not given).
        self.lambda_async = lambda_async
        # The type the stacks' templates give the custom resource.
        self.resource_type = resource_type
        # The property naming a Cognito user pool (by ARN) that a stack declares beside the
        # resource, when no stack holds that pool yet (CloudFormation creates it first: the
        # resource refers to it); None: pools are whatever stacks already hold.
        self.pool_property = pool_property
        self.stacks: dict[str, Stack] = {}
        self._lock = threading.Lock()

    # -- one request ---------------------------------------------------------------------

    def new_stack(self, name: str) -> Stack:
        stack_id = (
            f"arn:aws:cloudformation:{self.region}:{self.account_id}:stack/{name}/{uuid.uuid4()}"
        )
        stack = Stack(name, stack_id)
        RECORDS.add_stack(stack_id, name, stack.status, time.time())
        with self._lock:
            self.stacks[name] = stack
        return stack

    @staticmethod
    def phase(stack: Stack, status: str) -> None:
        """The stack's status, as CloudFormation records it."""
        stack.status = status
        RECORDS.stack_status(stack.stack_id, status, time.time())

    def begin(self, event: Mapping[str, Any]) -> None:
        """CloudFormation's record as it sends ``event``: its resource in progress (a Delete of
        a replaced physical id leaves the resource as it is: it shows the new id)."""
        stack_id, logical_id = str(event["StackId"]), str(event["LogicalResourceId"])
        kind = str(event["RequestType"])
        if kind != "Delete" and self.pool_property is not None:
            properties = event.get("ResourceProperties") or {}
            self._declare_pool(stack_id, logical_id, str(properties.get(self.pool_property, "")))
        current = RECORDS.get(stack_id, logical_id)
        if (
            kind == "Delete"
            and current is not None
            and current.physical_id != event["PhysicalResourceId"]
        ):
            return
        RECORDS.resource(
            stack_id,
            logical_id,
            f"{kind.upper()}_IN_PROGRESS",
            time.time(),
            resource_type=str(event["ResourceType"]),
            # A request a test sends for a resource it never created: CloudFormation would
            # hold the physical id the request carries.
            physical_id=event.get("PhysicalResourceId") if current is None else None,
        )

    @staticmethod
    def _declare_pool(stack_id: str, logical_id: str, arn: str) -> None:
        pool_id = arn.rsplit("/", 1)[-1] if ":userpool/" in arn else ""
        if pool_id and RECORDS.holder_of(pool_id) is None:
            RECORDS.resource(
                stack_id,
                f"{logical_id}Pool{pool_id.rsplit('_', 1)[-1][:8]}",
                "CREATE_COMPLETE",
                time.time(),
                resource_type="AWS::Cognito::UserPool",
                physical_id=pool_id,
            )

    def end(self, event: Mapping[str, Any], exchange: Exchange) -> None:
        """CloudFormation's record once it heard the answer to ``event``."""
        stack_id, logical_id = str(event["StackId"]), str(event["LogicalResourceId"])
        kind = str(event["RequestType"])
        current = RECORDS.get(stack_id, logical_id)
        if kind == "Delete" and (current is None or current.status != "DELETE_IN_PROGRESS"):
            return  # a replaced id's Delete: the resource shows the new one
        outcome = "COMPLETE" if exchange.succeeded else "FAILED"
        physical_id = exchange.physical_id or None
        if kind == "Update" and not exchange.succeeded:
            physical_id = None  # a failed Update leaves the recorded physical id as it was
        RECORDS.resource(
            stack_id, logical_id, f"{kind.upper()}_{outcome}", time.time(), physical_id=physical_id
        )

    def build_event(
        self,
        request_type: RequestType,
        stack: Stack,
        logical_id: str,
        properties: Properties,
        *,
        physical_id: str | None = None,
        old_properties: Properties | None = None,
    ) -> dict[str, Any]:
        event = event_template(request_type)
        request_id = str(uuid.uuid4())
        resource_properties = {"ServiceToken": self.function.arn, **properties}
        event.update(
            {
                "ServiceToken": self.function.arn,
                "ResponseURL": self.receiver.response_url(
                    request_id, stack_id=stack.stack_id, logical_resource_id=logical_id
                ),
                "StackId": stack.stack_id,
                "RequestId": request_id,
                "LogicalResourceId": logical_id,
                "ResourceType": self.resource_type,
                "ResourceProperties": as_cloudformation_sends(resource_properties),
            }
        )
        if request_type == "Create":
            event.pop("PhysicalResourceId", None)
        else:
            assert physical_id, f"{request_type} needs a physical id"
            event["PhysicalResourceId"] = physical_id
        if request_type == "Update":
            assert old_properties is not None, "Update needs the old properties"
            event["OldResourceProperties"] = as_cloudformation_sends(
                {"ServiceToken": self.function.arn, **old_properties}
            )
        else:
            event.pop("OldResourceProperties", None)
        return event

    def send(
        self,
        request_type: RequestType,
        stack: Stack,
        logical_id: str,
        properties: Properties,
        *,
        physical_id: str | None = None,
        old_properties: Properties | None = None,
        deliveries: int = 1,
    ) -> Exchange:
        """Send one request and wait for its answer. ``deliveries > 1`` replays the same event,
        as Lambda's retries of an asynchronous invocation do."""
        event = self.build_event(
            request_type,
            stack,
            logical_id,
            properties,
            physical_id=physical_id,
            old_properties=old_properties,
        )
        self.begin(event)
        exchange = self.deliver(event, stack, deliveries=deliveries)
        self.end(event, exchange)
        return exchange

    def deliver(self, event: Mapping[str, Any], stack: Stack, *, deliveries: int = 1) -> Exchange:
        """Deliver ``event`` and return the first answer it produces. Delivering an event
        answered before (a replay) returns the replay's own answer, not the earlier one."""
        started = time.monotonic()
        request_id = str(event["RequestId"])
        answered_before = len(self.receiver.answers(request_id))
        results = tuple(
            self.function.deliver(copy.deepcopy(dict(event))) for _ in range(deliveries)
        )
        for result in results:
            if not result.ok and self.lambda_async is not None:
                self.lambda_async.retry(self.function, copy.deepcopy(dict(event)))
        try:
            answer = self._next_answer(request_id, answered_before)
        except TimeoutError as error:
            logs = "".join(result.logs for result in results)
            raise StackHangs(
                f"{event['RequestType']} of {event['LogicalResourceId']} in stack {stack.name}: "
                f"no answer within {self.service_timeout} s. Function logs:\n{logs[-4000:]}"
            ) from error
        problems = "; ".join(answer.problems)
        exchange = Exchange(
            request_type=event["RequestType"],
            stack_name=stack.name,
            logical_id=str(event["LogicalResourceId"]),
            event=event,
            status="INVALID" if not answer.valid else str(answer.status),
            reason=problems if not answer.valid else str(answer.reason or ""),
            physical_id=str(answer.physical_resource_id or ""),
            data=dict(answer.data or {}),
            deliveries=results,
            answers=len(self.receiver.answers(request_id)),
            seconds=time.monotonic() - started,
        )
        stack.exchanges.append(exchange)
        if self.on_exchange is not None:
            self.on_exchange(exchange)
        return exchange

    def _next_answer(self, request_id: str, answered_before: int) -> ReceivedAnswer:
        if answered_before == 0:
            return self.receiver.wait_for(request_id, self.service_timeout)
        deadline = time.monotonic() + self.service_timeout
        while len(answers := self.receiver.answers(request_id)) <= answered_before:
            if time.monotonic() > deadline:
                raise TimeoutError(f"no new answer for request id {request_id!r}")
            time.sleep(0.01)
        return answers[answered_before]

    # -- stack operations ----------------------------------------------------------------

    def create_stack(self, name: str, resources: Mapping[str, Properties]) -> Stack:
        """CREATE_COMPLETE, or ROLLBACK_COMPLETE after deleting what was created."""
        stack = self.new_stack(name)
        for logical_id, properties in resources.items():
            exchange = self.send("Create", stack, logical_id, properties)
            if exchange.physical_id:
                stack.resources[logical_id] = ResourceState(dict(properties), exchange.physical_id)
            if not exchange.succeeded:
                self.phase(stack, "ROLLBACK_IN_PROGRESS")
                self._delete_all(stack, "ROLLBACK_COMPLETE", "ROLLBACK_FAILED")
                return stack
        self.phase(stack, "CREATE_COMPLETE")
        return stack

    def update_stack(
        self,
        name: str,
        resources: Mapping[str, Properties],
        *,
        fail_after_resources: bool = False,
    ) -> Stack:
        """Update the stack to ``resources``: new logical ids are created, changed ones updated,
        and, in the cleanup phase, replaced physical ids and removed logical ids deleted.
        ``fail_after_resources`` makes a later resource of the same stack fail, so
        CloudFormation rolls the whole update back."""
        stack = self.stacks[name]
        self.phase(stack, "UPDATE_IN_PROGRESS")
        updated: dict[str, ResourceState] = {}  # logical id -> state before the update
        created: list[str] = []
        for logical_id, properties in resources.items():
            before = stack.resources.get(logical_id)
            if before is None:
                exchange = self.send("Create", stack, logical_id, properties)
                if exchange.physical_id and exchange.succeeded:
                    stack.resources[logical_id] = ResourceState(
                        dict(properties), exchange.physical_id
                    )
                    created.append(logical_id)
                    continue
                return self._roll_back_update(stack, updated, created)
            if dict(properties) == before.properties:
                continue
            exchange = self.send(
                "Update",
                stack,
                logical_id,
                properties,
                physical_id=before.physical_id,
                old_properties=before.properties,
            )
            if not exchange.succeeded:
                # A failed Update leaves the recorded physical id as it was; the rollback
                # Update carries the attempted properties as its old ones.
                updated[logical_id] = before
                stack.resources[logical_id] = ResourceState(dict(properties), before.physical_id)
                return self._roll_back_update(stack, updated, created)
            updated[logical_id] = before
            stack.resources[logical_id] = ResourceState(dict(properties), exchange.physical_id)
        if fail_after_resources:
            return self._roll_back_update(stack, updated, created)
        self.phase(stack, "UPDATE_COMPLETE_CLEANUP_IN_PROGRESS")
        for logical_id, before in updated.items():
            now = stack.resources[logical_id]
            if now.physical_id != before.physical_id:
                self.send(
                    "Delete", stack, logical_id, now.properties, physical_id=before.physical_id
                )
        for logical_id in [name for name in stack.resources if name not in resources]:
            removed = stack.resources.pop(logical_id)
            self.send(
                "Delete", stack, logical_id, removed.properties, physical_id=removed.physical_id
            )
        self.phase(stack, "UPDATE_COMPLETE")
        return stack

    def _roll_back_update(
        self, stack: Stack, updated: Mapping[str, ResourceState], created: Sequence[str] = ()
    ) -> Stack:
        self.phase(stack, "UPDATE_ROLLBACK_IN_PROGRESS")
        failed = False
        replaced: dict[str, ResourceState] = {}
        for logical_id, before in updated.items():
            now = stack.resources[logical_id]
            exchange = self.send(
                "Update",
                stack,
                logical_id,
                before.properties,
                physical_id=now.physical_id,
                old_properties=now.properties,
            )
            failed |= not exchange.succeeded
            if now.physical_id != before.physical_id:
                replaced[logical_id] = now
            stack.resources[logical_id] = before
        self.phase(stack, "UPDATE_ROLLBACK_COMPLETE_CLEANUP_IN_PROGRESS")
        for logical_id in created:
            new = stack.resources.pop(logical_id)
            exchange = self.send(
                "Delete", stack, logical_id, new.properties, physical_id=new.physical_id
            )
            failed |= not exchange.succeeded
        for logical_id, new in replaced.items():
            exchange = self.send(
                "Delete", stack, logical_id, new.properties, physical_id=new.physical_id
            )
            failed |= not exchange.succeeded
        self.phase(stack, "UPDATE_ROLLBACK_FAILED" if failed else "UPDATE_ROLLBACK_COMPLETE")
        return stack

    def delete_stack(self, name: str) -> Stack:
        """DELETE_COMPLETE, or DELETE_FAILED when a Delete was answered FAILED."""
        stack = self.stacks[name]
        self.phase(stack, "DELETE_IN_PROGRESS")
        self._delete_all(stack, "DELETE_COMPLETE", "DELETE_FAILED")
        return stack

    def _delete_all(self, stack: Stack, done: str, failed: str) -> None:
        outcome = done
        for logical_id, state in reversed(list(stack.resources.items())):
            exchange = self.send(
                "Delete", stack, logical_id, state.properties, physical_id=state.physical_id
            )
            if exchange.succeeded:
                del stack.resources[logical_id]
            else:
                outcome = failed
        self.phase(stack, outcome)
