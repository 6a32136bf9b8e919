"""Who is asking: a request is what CloudFormation says it is, checked with CloudFormation.

Anyone allowed ``lambda:InvokeFunction`` on the ServiceToken can send an event shaped like
CloudFormation's, naming any stack; AWS documents no signature on it. So before anything
changes, CloudFormation's own record of the resource the event names is read
(``DescribeStackResource``; ``DescribeStacks`` where the stack's phase matters: CloudFormation
API reference) and the event must match it:

- the stack is in the function's partition, Region and account;
- CloudFormation knows the stack and the resource, and the resource's type is the event's;
- the resource is in progress for this request's type, and for Update and Delete its physical
  id is the event's:

  ======  =================================================================================
  Create  ``CREATE_IN_PROGRESS``
  Update  ``UPDATE_IN_PROGRESS`` with the same physical id (during ``UPDATE_ROLLBACK_IN_PROGRESS``,
          the rollback, also ``UPDATE_FAILED`` or ``UPDATE_COMPLETE``, when the resource
          changed since the stack's update began: one the update touched)
  Delete  ``DELETE_IN_PROGRESS`` with the same physical id; ``CREATE_FAILED`` with it while the
          stack rolls back or is deleted (a Delete after a failed Create); or, while the stack
          cleans up after an update (``UPDATE_COMPLETE_CLEANUP_IN_PROGRESS``,
          ``UPDATE_ROLLBACK_COMPLETE_CLEANUP_IN_PROGRESS``), a physical id other than the
          resource's current one: the replaced registration
  ======  =================================================================================

AWS does not document every status in every phase, so only what certainly does not match is
refused, and a status that does not match yet is read again twice over a few seconds
(CloudFormation may record a change a moment after it sends the request). A stack already
deleted is still described by its stack id (``DELETE_COMPLETE``): a Delete delivered again
after the stack is gone does not match, and changes nothing.

What this cannot tell: while a tenant's resource is in progress, an event naming it with other
properties would match too (CloudFormation's record holds no properties). README, "Threat
model", says what bounds that.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from . import aws, retries, timing
from .aws_errors import NotFound
from .errors import AwsCallFailed
from .request import Request
from .settings import Settings
from .timing import Deadline

ROLLBACK = "UPDATE_ROLLBACK_IN_PROGRESS"
CLEANUP = frozenset(
    {"UPDATE_COMPLETE_CLEANUP_IN_PROGRESS", "UPDATE_ROLLBACK_COMPLETE_CLEANUP_IN_PROGRESS"}
)
_FAILED_CREATE_PHASES = frozenset({"ROLLBACK_IN_PROGRESS", "DELETE_IN_PROGRESS"})
_READS = 3
_PAUSE_SECONDS = 1.5


class Unverifiable(Exception):
    """CloudFormation could not be asked (throttled past the deadline, access denied, an
    outage): nothing may change, and no answer may be sent."""


@dataclass(frozen=True)
class Verdict:
    """What CloudFormation says of a request."""

    # None when the request matches; else what did not match, for the log.
    mismatch: str | None
    # The stack's status, when it was read: ``UPDATE_ROLLBACK_IN_PROGRESS`` is a rollback.
    stack_status: str | None = None
    # When CloudFormation last changed the resource's status (seconds since the epoch): no
    # later than when it sent this request.
    began_at: float | None = None
    # The resource's type as CloudFormation records it.
    resource_type: str = ""

    @property
    def matches(self) -> bool:
        return self.mismatch is None

    @property
    def rollback(self) -> bool:
        return self.stack_status == ROLLBACK


@dataclass(frozen=True)
class StackResource:
    resource_type: str
    status: str
    physical_id: str | None
    last_updated: float | None


def verify(request: Request, settings: Settings, deadline: Deadline) -> Verdict:
    """CloudFormation's verdict on ``request``; :class:`Unverifiable` when it cannot be asked."""
    refused = _never_ours(request, settings)
    if refused is not None:
        return Verdict(refused)
    verdict = Verdict("not read")
    for read in range(_READS):
        if read:
            if not deadline.allows(_PAUSE_SECONDS + 2.0):
                break
            timing.clock.sleep(_PAUSE_SECONDS)
        resource = describe_resource(request.stack_id, request.logical_id, deadline)
        if resource is None:
            return Verdict("CloudFormation knows no such stack or resource")
        if resource.resource_type != request.resource_type:
            return Verdict(
                f"the resource is a {resource.resource_type}, not a {request.resource_type}"
            )
        verdict = _judge(request, resource, deadline)
        if verdict.matches:
            return verdict
    return verdict


def _judge(request: Request, resource: StackResource, deadline: Deadline) -> Verdict:
    status = resource.status
    # CloudFormation may hold no physical id for a resource whose Create never answered (it
    # timed out): a Delete of it can only reach this stack's and logical id's own owners.
    same_id = resource.physical_id == request.physical_id or (
        request.type == "Delete" and not resource.physical_id
    )

    def verdict(mismatch: str | None, stack_status: str | None = None) -> Verdict:
        return Verdict(mismatch, stack_status, resource.last_updated, resource.resource_type)

    shown = f"{status} with {'this' if same_id else 'another'} physical id"
    if request.type == "Create":
        return verdict(None if status == "CREATE_IN_PROGRESS" else f"the resource is {status}")
    stack = describe_stack(request.stack_id, deadline)
    phase = f"the resource is {shown}, the stack {stack.status}"
    if request.type == "Update":
        # In a rollback, CloudFormation may not have marked the resource in progress yet; one
        # the failed update touched changed after that update began, one it did not, before.
        touched = (
            resource.last_updated is not None
            and stack.update_began is not None
            and resource.last_updated >= stack.update_began
        )
        in_rollback = (
            stack.status == ROLLBACK and status in ("UPDATE_FAILED", "UPDATE_COMPLETE") and touched
        )
        matches = same_id and (status == "UPDATE_IN_PROGRESS" or in_rollback)
        return verdict(None if matches else phase, stack.status)
    stack_status = stack.status
    deleting = same_id and status == "DELETE_IN_PROGRESS"
    after_failed_create = (
        same_id and status == "CREATE_FAILED" and stack_status in _FAILED_CREATE_PHASES
    )
    replaced = stack_status in CLEANUP and not same_id
    matches = deleting or after_failed_create or replaced
    return verdict(None if matches else phase, stack_status)


def describe_resource(stack_id: str, logical_id: str, deadline: Deadline) -> StackResource | None:
    """CloudFormation's record of a stack's resource; None when it knows no such stack or
    resource. :class:`Unverifiable` when it cannot be asked."""
    try:
        found = retries.call(
            "DescribeStackResource",
            lambda: aws.cloudformation().describe_stack_resource(
                StackName=stack_id, LogicalResourceId=logical_id
            ),
            deadline,
        )
    except NotFound:
        return None  # "Stack ... does not exist", "Resource ... does not exist for stack"
    except AwsCallFailed as error:
        raise Unverifiable(str(error)) from error
    detail = found["StackResourceDetail"]
    updated = detail.get("LastUpdatedTimestamp")
    return StackResource(
        resource_type=detail.get("ResourceType", ""),
        status=detail.get("ResourceStatus", ""),
        physical_id=detail.get("PhysicalResourceId"),
        last_updated=updated.timestamp() if isinstance(updated, datetime) else None,
    )


@dataclass(frozen=True)
class StackPhase:
    status: str
    # When its last update began (DescribeStacks' LastUpdatedTime), if it was ever updated.
    update_began: float | None


def describe_stack(stack_id: str, deadline: Deadline) -> StackPhase:
    """A stack's phase as CloudFormation records it. :class:`Unverifiable` when it cannot be
    asked."""
    try:
        found = retries.call(
            "DescribeStacks",
            lambda: aws.cloudformation().describe_stacks(StackName=stack_id),
            deadline,
        )
    except AwsCallFailed as error:
        raise Unverifiable(str(error)) from error
    stacks = found.get("Stacks", [])
    if not stacks:
        return StackPhase("", None)
    updated = stacks[0].get("LastUpdatedTime")
    return StackPhase(
        str(stacks[0].get("StackStatus", "")),
        updated.timestamp() if isinstance(updated, datetime) else None,
    )


def _never_ours(request: Request, settings: Settings) -> str | None:
    """Why the event cannot be a request for this registrar, before CloudFormation is asked."""
    stack = request.stack
    if stack is None:
        return "StackId is not a CloudFormation stack ARN"
    here = (settings.partition, settings.region, settings.account_id)
    if (stack.partition, stack.region, stack.account) != here:
        return "the stack is not in the function's partition, Region and account"
    if not _is_custom_resource(request.resource_type):
        # CloudFormation sends a ServiceToken requests only for custom resources; a resource of
        # any other type (a WaitCondition stays in progress for hours) is never this registrar's.
        return f"the resource type {request.resource_type!r} is not a custom resource"
    return None


def _is_custom_resource(resource_type: str) -> bool:
    """CloudFormation's custom resource types: ``AWS::CloudFormation::CustomResource`` and
    ``Custom::<name>`` (AWS CloudFormation User Guide, "Custom resources")."""
    return resource_type == "AWS::CloudFormation::CustomResource" or (
        resource_type.startswith("Custom::") and len(resource_type) > len("Custom::")
    )
