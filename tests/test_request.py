"""The event, read once into one typed request; anything that is not a CloudFormation
custom-resource request is refused, saying what is missing."""

from __future__ import annotations

import json
from typing import Any

import pytest

from authorizer_pools.request import CONTINUATION_MARKER, NotARequest, StackArn, parse
from localaws.cloudformation.stacks import EVENTS

# The fast tier (make test-fast): no local AWS, seconds in all.
pytestmark = pytest.mark.fast


def fixture(kind: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((EVENTS / f"{kind}.json").read_text())
    return loaded


@pytest.mark.parametrize("kind", ["create", "update", "delete"])
def test_cloudformations_requests_are_read_whole(kind: str) -> None:
    event = fixture(kind)
    request = parse(event)
    assert request.type == event["RequestType"]
    assert request.request_id == event["RequestId"]
    assert request.stack_id == event["StackId"]
    assert request.logical_id == event["LogicalResourceId"]
    assert request.resource_type == event["ResourceType"]
    assert request.physical_id == event.get("PhysicalResourceId")
    assert request.properties == event["ResourceProperties"]
    assert request.old_properties == event.get("OldResourceProperties")
    assert request.attempt == 0
    assert request.stack is not None
    assert request.stack_name == request.stack.name
    assert event["ResponseURL"] not in repr(request)


def test_a_continuation_carries_its_number_and_nonce_and_the_original_event() -> None:
    event = {**fixture("create"), CONTINUATION_MARKER: {"attempt": 2, "nonce": "n0nce"}}
    request = parse(event)
    assert request.attempt == 2
    assert request.continuation is not None
    assert request.continuation.nonce == "n0nce"
    assert CONTINUATION_MARKER not in request.event


@pytest.mark.parametrize(
    ("change", "why"),
    [
        ({"RequestType": None}, "no RequestType"),
        ({"ResponseURL": None, "StackId": None}, "no ResponseURL, StackId"),
        ({"RequestId": ""}, "no RequestId"),
        ({"LogicalResourceId": 7}, "no LogicalResourceId"),
        ({"RequestType": "Poll"}, "'Poll' is not Create, Update or Delete"),
        ({"PhysicalResourceId": "x"}, "a Create carries no PhysicalResourceId"),
        ({"ResourceProperties": ["a"]}, "must be objects"),
        ({"RequestId": "a b"}, "not shaped as CloudFormation's"),
        ({CONTINUATION_MARKER: {"attempt": 1}}, "no attempt and nonce"),
        ({CONTINUATION_MARKER: {"attempt": 0, "nonce": "n"}}, "no attempt and nonce"),
        ({CONTINUATION_MARKER: "1"}, "not an object"),
    ],
)
def test_an_event_that_is_not_a_request_is_refused_saying_why(
    change: dict[str, Any], why: str
) -> None:
    event = {**fixture("create"), **change}
    event = {key: value for key, value in event.items() if value is not None}
    with pytest.raises(NotARequest, match=why):
        parse(event)


def test_the_lambda_consoles_test_event_is_not_a_request() -> None:
    with pytest.raises(NotARequest, match="not a CloudFormation request"):
        parse({"key1": "value1", "key2": "value2", "key3": "value3"})


def test_an_update_or_delete_must_name_its_physical_id() -> None:
    event = fixture("delete")
    del event["PhysicalResourceId"]
    with pytest.raises(NotARequest, match="PhysicalResourceId"):
        parse(event)


def test_a_stack_arn_is_read_into_its_parts_and_anything_else_is_none() -> None:
    arn = "arn:aws:cloudformation:eu-west-1:111122223333:stack/tenant-acme/5b9c-11eb"
    assert StackArn.parse(arn) == StackArn("aws", "eu-west-1", "111122223333", "tenant-acme")
    assert StackArn.parse("tenant-acme") is None
    assert StackArn.parse(arn.replace(":stack/", ":changeSet/")) is None
