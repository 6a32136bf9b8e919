"""CloudFormation's own record of the stacks the local driver runs, as its read APIs show it.

``cloudformation.stacks.LocalCloudFormation`` plays CloudFormation for its stacks; moto knows
nothing of them. This module keeps what CloudFormation itself would record of each stack and
its custom resources, phase by phase, and answers the reads a custom-resource provider can check
a request against (CloudFormation API reference, ``DescribeStackResource``, ``DescribeStacks``
and ``ListStackResources``; user guide, "Stack status codes" and "Resource status codes"):

- a stack's ``StackStatus`` and ``LastUpdatedTime`` (when its last update began);
- a resource's ``ResourceType``, ``ResourceStatus`` (``CREATE_IN_PROGRESS`` while its Create is
  out, ``CREATE_COMPLETE`` / ``CREATE_FAILED`` after the answer; ``UPDATE_*``, ``DELETE_*``
  likewise), its current ``PhysicalResourceId`` (none before a Create's answer) and
  ``LastUpdatedTimestamp`` (when its status last changed);
- during an update's cleanup, the Delete of a replaced physical id is sent while the resource
  shows its *new* id and ``UPDATE_COMPLETE``, and the stack ``UPDATE_COMPLETE_CLEANUP_IN_PROGRESS``
  (``UPDATE_ROLLBACK_COMPLETE_CLEANUP_IN_PROGRESS`` after a rollback);
- a deleted stack stays describable by its stack id (``DELETE_COMPLETE``), not by its name;
- a stack or resource it does not know is ``ValidationError`` ("Stack with id … does not
  exist", "Resource … does not exist for stack …"), as CloudFormation answers.

Stacks this module does not know (those made through moto's CreateStack) are left to moto.
"""

from __future__ import annotations

import datetime
import threading
from dataclasses import dataclass, field
from urllib.parse import parse_qs
from xml.sax.saxutils import escape

from localaws.wire import HttpAnswer, error_answer, new_request_id

_NAMESPACE = "http://cloudformation.amazonaws.com/doc/2010-05-15/"


@dataclass
class ResourceRecord:
    logical_id: str
    resource_type: str
    status: str
    physical_id: str | None = None
    last_updated: float = 0.0


@dataclass
class StackRecord:
    stack_id: str
    name: str
    status: str
    created: float
    resources: dict[str, ResourceRecord] = field(default_factory=dict)
    # When the stack's last update began (None: never updated).
    last_updated: float | None = None


class Records:
    """Every stack the local driver runs, by stack id. Thread-safe: the function's reads come
    from server threads while the driver moves stacks through their phases."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._stacks: dict[str, StackRecord] = {}

    def add_stack(self, stack_id: str, name: str, status: str, now: float) -> None:
        with self._lock:
            self._stacks[stack_id] = StackRecord(stack_id, name, status, now)

    def stack_status(self, stack_id: str, status: str, now: float) -> None:
        with self._lock:
            stack = self._stacks[stack_id]
            stack.status = status
            if status == "UPDATE_IN_PROGRESS":
                stack.last_updated = now

    def resource(
        self,
        stack_id: str,
        logical_id: str,
        status: str,
        now: float,
        *,
        resource_type: str | None = None,
        physical_id: str | None = None,
    ) -> None:
        """Set a resource's status (and type, physical id when given), stamped ``now``."""
        with self._lock:
            stack = self._stacks[stack_id]
            record = stack.resources.get(logical_id)
            if record is None:
                record = ResourceRecord(logical_id, resource_type or "", status)
                stack.resources[logical_id] = record
            record.status = status
            record.last_updated = now
            if resource_type is not None:
                record.resource_type = resource_type
            if physical_id is not None:
                record.physical_id = physical_id

    def holder_of(self, physical_id: str) -> str | None:
        """The stack whose resource has this physical id, if any. A deleted stack holds nothing,
        nor does one whose creation rolled back: CloudFormation deleted what it had made ("Stack
        status codes": ROLLBACK_COMPLETE)."""
        with self._lock:
            for stack in self._stacks.values():
                if stack.status in ("DELETE_COMPLETE", "ROLLBACK_COMPLETE"):
                    continue
                if any(r.physical_id == physical_id for r in stack.resources.values()):
                    return stack.stack_id
            return None

    def retain(self, physical_id: str) -> None:
        """The resource leaves the stack that holds it and goes on existing, as a resource
        removed from its template with ``DeletionPolicy: Retain`` does: another stack may then
        import it (the documented way to move a resource between stacks)."""
        with self._lock:
            for stack in self._stacks.values():
                for logical_id, record in list(stack.resources.items()):
                    if record.physical_id == physical_id:
                        del stack.resources[logical_id]

    def get(self, stack_id: str, logical_id: str) -> ResourceRecord | None:
        with self._lock:
            stack = self._stacks.get(stack_id)
            record = stack.resources.get(logical_id) if stack else None
            return None if record is None else ResourceRecord(**vars(record))

    def clear(self) -> None:
        with self._lock:
            self._stacks.clear()

    # -- the API -------------------------------------------------------------------------

    def describe_stack_resource(self, body: bytes) -> HttpAnswer | None:
        form = _form(body)
        with self._lock:
            stack = self._find(form.get("StackName", ""))
            if stack is None:
                return None
            logical_id = form.get("LogicalResourceId", "")
            record = stack.resources.get(logical_id)
            if record is None:
                return _validation(
                    f"Resource {logical_id} does not exist for stack {form.get('StackName')}"
                )
            fields = [
                ("StackId", stack.stack_id),
                ("StackName", stack.name),
                ("LogicalResourceId", record.logical_id),
                ("PhysicalResourceId", record.physical_id),
                ("ResourceType", record.resource_type),
                ("LastUpdatedTimestamp", _timestamp(record.last_updated)),
                ("ResourceStatus", record.status),
            ]
        detail = "".join(_element(name, value) for name, value in fields)
        return _answer(
            "DescribeStackResource", f"<StackResourceDetail>{detail}</StackResourceDetail>"
        )

    def list_stack_resources(self, body: bytes) -> HttpAnswer | None:
        form = _form(body)
        with self._lock:
            stack = self._find(form.get("StackName", ""))
            if stack is None:
                return None
            members = "".join(
                "<member>"
                + "".join(
                    _element(name, value)
                    for name, value in (
                        ("LogicalResourceId", record.logical_id),
                        ("PhysicalResourceId", record.physical_id),
                        ("ResourceType", record.resource_type),
                        ("LastUpdatedTimestamp", _timestamp(record.last_updated)),
                        ("ResourceStatus", record.status),
                    )
                )
                + "</member>"
                for record in stack.resources.values()
                if record.status != "DELETE_COMPLETE"
            )
        return _answer(
            "ListStackResources", f"<StackResourceSummaries>{members}</StackResourceSummaries>"
        )

    def describe_stacks(self, body: bytes) -> HttpAnswer | None:
        form = _form(body)
        with self._lock:
            stack = self._find(form.get("StackName", ""))
            if stack is None:
                return None
            fields = [
                ("StackId", stack.stack_id),
                ("StackName", stack.name),
                ("CreationTime", _timestamp(stack.created)),
                (
                    "LastUpdatedTime",
                    None if stack.last_updated is None else _timestamp(stack.last_updated),
                ),
                ("StackStatus", stack.status),
            ]
        member = "".join(_element(name, value) for name, value in fields)
        return _answer("DescribeStacks", f"<Stacks><member>{member}</member></Stacks>")

    def _find(self, name: str) -> StackRecord | None:
        stack = self._stacks.get(name)
        if stack is not None:
            return stack
        # By name: only a stack that is not deleted (CloudFormation's own rule).
        live = [
            s for s in self._stacks.values() if s.name == name and s.status != "DELETE_COMPLETE"
        ]
        return live[-1] if live else None


RECORDS = Records()


def answer(operation: str, body: bytes) -> HttpAnswer | None:
    """The answer to a CloudFormation read about a stack the local driver runs; None for any
    other stack or call (moto answers those, with ValidationError for a stack nobody made)."""
    if operation == "DescribeStackResource":
        return RECORDS.describe_stack_resource(body)
    if operation == "DescribeStacks":
        return RECORDS.describe_stacks(body)
    if operation == "ListStackResources":
        return RECORDS.list_stack_resources(body)
    return None


def _form(body: bytes) -> dict[str, str]:
    return {key: values[0] for key, values in parse_qs(body.decode()).items()}


def _element(name: str, value: str | None) -> str:
    return "" if value is None else f"<{name}>{escape(value)}</{name}>"


def _timestamp(seconds: float) -> str:
    moment = datetime.datetime.fromtimestamp(seconds, datetime.UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _answer(operation: str, result: str) -> HttpAnswer:
    body = (
        f'<{operation}Response xmlns="{_NAMESPACE}"><{operation}Result>{result}'
        f"</{operation}Result><ResponseMetadata><RequestId>{new_request_id()}</RequestId>"
        f"</ResponseMetadata></{operation}Response>"
    ).encode()
    headers = (("Content-Type", "text/xml"), ("Content-Length", str(len(body))))
    return HttpAnswer(200, headers, body)


def _validation(message: str) -> HttpAnswer:
    return error_answer("query", 400, "ValidationError", message)
