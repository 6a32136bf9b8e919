"""One CloudFormation request, read from the raw event once: nothing below indexes the event.

The event is a custom-resource request object (CloudFormation user guide, "Custom resource
request objects"): ``RequestType``, ``ResponseURL``, ``StackId``, ``RequestId``,
``LogicalResourceId`` and ``ResourceType`` always; ``PhysicalResourceId`` on Update and Delete;
``ResourceProperties``, and ``OldResourceProperties`` on Update. Anything else (the Lambda
console's test event, a repair rule's event sent to the wrong place, a typo) is
:class:`NotARequest`: it is refused before crhelper sees it, so that no answer ever goes to the
URL of a request this container served before.

A continuation of a request (``continuation``) is the same event with a marker the function
adds when it invokes itself: its number and the nonce the request's record holds for it.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

RequestType = Literal["Create", "Update", "Delete"]
REQUEST_TYPES: tuple[RequestType, ...] = ("Create", "Update", "Delete")
CONTINUATION_MARKER = "AuthorizerPoolsContinuation"
_REQUIRED = ("RequestType", "ResponseURL", "StackId", "RequestId", "LogicalResourceId")
# CloudFormation's request ids are UUIDs; logical ids are alphanumeric, at most 255 characters.
_REQUEST_ID = re.compile(r"[A-Za-z0-9-]{1,128}")
_LOGICAL_ID = re.compile(r"[A-Za-z0-9]{1,255}")
_STACK_ARN = re.compile(
    r"arn:(?P<partition>aws[a-z-]*):cloudformation:(?P<region>[a-z0-9-]+):(?P<account>\d{12}):"
    r"stack/(?P<name>[A-Za-z][A-Za-z0-9-]{0,127})/(?P<uuid>[A-Za-z0-9-]{1,128})"
)
_LIMIT = 2048


class NotARequest(Exception):
    """The event is not a CloudFormation custom-resource request; the message says why."""


@dataclass(frozen=True)
class StackArn:
    partition: str
    region: str
    account: str
    name: str

    @classmethod
    def parse(cls, text: str) -> StackArn | None:
        match = _STACK_ARN.fullmatch(text)
        if match is None:
            return None
        return cls(match["partition"], match["region"], match["account"], match["name"])


@dataclass(frozen=True)
class Continuation:
    """Which invocation of the function's chain carries the request on (1, 2, …)."""

    attempt: int
    nonce: str

    def as_marker(self) -> dict[str, object]:
        return {"attempt": self.attempt, "nonce": self.nonce}


@dataclass(frozen=True)
class Request:
    type: RequestType
    request_id: str
    stack_id: str
    # None when StackId is not a CloudFormation stack ARN (refused by the caller's check).
    stack: StackArn | None
    logical_id: str
    resource_type: str
    physical_id: str | None
    response_url: str = field(repr=False)
    properties: Mapping[str, object] = field(default_factory=dict)
    old_properties: Mapping[str, object] | None = None
    continuation: Continuation | None = None
    # The event as CloudFormation sent it (without the continuation's marker): what a
    # continuation carries on. Only ``continuation.start`` reads it.
    event: Mapping[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @property
    def digest(self) -> str:
        """What the event says, in short: CloudFormation's deliveries of one request (and the
        function's continuations of it) all carry this same event."""
        canonical = json.dumps(self.event, sort_keys=True, separators=(",", ":"), default=str)
        return hashlib.sha256(canonical.encode()).hexdigest()[:32]

    @property
    def attempt(self) -> int:
        """0 for CloudFormation's own delivery (and Lambda's retries of it)."""
        return self.continuation.attempt if self.continuation else 0

    @property
    def stack_name(self) -> str:
        """``arn:aws:cloudformation:REGION:ACCOUNT:stack/NAME/UUID`` → NAME."""
        parts = self.stack_id.split("/")
        return parts[1] if len(parts) >= 3 else self.stack_id

    def log_fields(self) -> dict[str, object]:
        return {
            "requestType": self.type,
            "stack": self.stack_name,
            "logicalId": self.logical_id,
        }


# What EventBridge delivers from template.yaml's repair rules: (source, detail-type) → trigger.
REPAIR_TRIGGERS = {
    ("aws.events", "Scheduled Event"): "schedule",
    ("aws.cloudformation", "CloudFormation Stack Status Change"): "shared-api-stack",
    ("aws.apigateway", "AWS API Call via CloudTrail"): "api-change",
}


def repair_trigger(event: Mapping[str, Any]) -> str | None:
    """Which repair rule's event ``event`` is (not a request), or None."""
    if not isinstance(event, Mapping):
        return None
    return REPAIR_TRIGGERS.get((str(event.get("source")), str(event.get("detail-type"))))


def parse(event: Mapping[str, Any]) -> Request:
    """The request ``event`` is, or :class:`NotARequest`."""
    if not isinstance(event, Mapping):
        raise NotARequest("the event is not an object")
    missing = [key for key in _REQUIRED if not isinstance(event.get(key), str) or not event[key]]
    if missing:
        raise NotARequest(f"not a CloudFormation request: no {', '.join(missing)}")
    request_type = str(event["RequestType"])
    if request_type not in REQUEST_TYPES:
        raise NotARequest(f"RequestType {_shown(request_type)} is not Create, Update or Delete")
    request_id, logical_id = str(event["RequestId"]), str(event["LogicalResourceId"])
    if not _REQUEST_ID.fullmatch(request_id) or not _LOGICAL_ID.fullmatch(logical_id):
        raise NotARequest("RequestId or LogicalResourceId is not shaped as CloudFormation's")
    stack_id = str(event["StackId"])
    if len(stack_id) > _LIMIT:
        raise NotARequest("StackId is longer than a stack ARN can be")
    physical_id = event.get("PhysicalResourceId")
    if request_type == "Create":
        if physical_id is not None:
            raise NotARequest("a Create carries no PhysicalResourceId")
    elif not isinstance(physical_id, str) or not physical_id or len(physical_id) > 1024:
        raise NotARequest(f"an {request_type} carries a PhysicalResourceId of at most 1 KB")
    properties = event.get("ResourceProperties", {})
    old = event.get("OldResourceProperties")
    if not isinstance(properties, Mapping) or (old is not None and not isinstance(old, Mapping)):
        raise NotARequest("ResourceProperties and OldResourceProperties must be objects")
    resource_type = event.get("ResourceType", "")
    if not isinstance(resource_type, str):
        raise NotARequest("ResourceType must be a string")
    original = {key: value for key, value in event.items() if key != CONTINUATION_MARKER}
    return Request(
        type=request_type,
        request_id=request_id,
        stack_id=stack_id,
        stack=StackArn.parse(stack_id),
        logical_id=logical_id,
        resource_type=resource_type,
        physical_id=physical_id,
        response_url=str(event["ResponseURL"]),
        properties=properties,
        old_properties=old,
        continuation=_continuation(event.get(CONTINUATION_MARKER)),
        event=original,
    )


def _continuation(marker: object) -> Continuation | None:
    if marker is None:
        return None
    if not isinstance(marker, Mapping):
        raise NotARequest("the continuation marker is not an object")
    attempt, nonce = marker.get("attempt"), marker.get("nonce")
    if not isinstance(attempt, int) or attempt < 1 or not isinstance(nonce, str) or not nonce:
        raise NotARequest("the continuation marker has no attempt and nonce")
    return Continuation(attempt, nonce)


def _shown(value: str) -> str:
    return repr(value if len(value) <= 40 else value[:39] + "…")
