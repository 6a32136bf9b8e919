"""What the function relies on of crhelper's internals (``crhelper_adapter``): each test here
breaks when crhelper's behaviour changes, before a tenant's stack does."""

from __future__ import annotations

import importlib
import sys
import time
from collections.abc import Iterator, Mapping
from typing import Any

import pytest
from conftest import REGISTRATION, World

from localaws.lambda_runtime import make_context


@pytest.fixture
def adapter(world: World) -> Any:
    from authorizer_pools import crhelper_adapter  # noqa: PLC0415 (after the environment)

    return crhelper_adapter


def event_for(world: World) -> dict[str, Any]:
    stack = world.cloudformation.new_stack("tenant-acme")
    return world.cloudformation.build_event(
        "Create", stack, REGISTRATION, world.registration(world.tenant_pool("acme"))
    )


def answers(world: World, event: Mapping[str, Any]) -> list[Any]:
    time.sleep(0.2)  # crhelper answers before it returns; give the receiver a moment
    return world.receiver.answers(str(event["RequestId"]))


def test_building_the_helper_makes_no_client(adapter: Any) -> None:
    for name in ("_lambda_client", "_events_client", "_logs_client"):
        client = getattr(adapter.helper, name)
        assert type(client).__name__ == "_ClientOnFirstUse"
        assert client._client is None, f"crhelper made its {name} at import"


def test_no_answer_while_a_continuation_goes_on(world: World, adapter: Any) -> None:
    event = event_for(world)
    adapter.serve(event, make_context(timeout=30), lambda e, c: None)

    assert answers(world, event) == []
    # Nor did crhelper set up its polling: no EventBridge rule, no permission.
    assert {call.service for call in world.calls()} <= {"dynamodb", "apigateway"}


def test_an_answer_is_sent_with_its_id_and_data(world: World, adapter: Any) -> None:
    event = event_for(world)
    seen: list[Mapping[str, Any]] = []

    def work(given: Mapping[str, Any], context: Any) -> Any:
        seen.append(given)
        return adapter.Answer(adapter.SUCCESS, "api:auth:pool", data={"UserPoolArn": "pool"})

    adapter.serve(event, make_context(timeout=30), work)

    (answer,) = answers(world, event)
    assert (answer.status, answer.physical_resource_id) == ("SUCCESS", "api:auth:pool")
    assert answer.data == {"UserPoolArn": "pool"}
    assert adapter.POLL_KEY not in seen[0]  # the work sees CloudFormation's event


def test_no_line_speaks_of_a_polling_schedule(
    world: World, adapter: Any, caplog: pytest.LogCaptureFixture
) -> None:
    event = event_for(world)
    answer = adapter.Answer(adapter.SUCCESS, "api:auth:pool")
    with caplog.at_level("DEBUG"):
        adapter.serve(event, make_context(timeout=30), lambda e, c: answer)
    assert answers(world, event)
    assert "crhelper.utils" in {r.name for r in caplog.records}  # crhelper's lines are seen
    assert not [r for r in caplog.records if "schedule" in r.getMessage()]


def test_a_failure_is_sent_with_its_id_and_reason(world: World, adapter: Any) -> None:
    event = event_for(world)
    failed = adapter.Answer(adapter.FAILED, "api:auth:pool", "StageNames 'qa' is not a stage")

    adapter.serve(event, make_context(timeout=30), lambda e, c: failed)

    (answer,) = answers(world, event)
    assert (answer.status, answer.physical_resource_id) == ("FAILED", "api:auth:pool")
    assert answer.reason == "StageNames 'qa' is not a stage"


def test_crhelpers_timer_answers_failed_before_the_deadline(world: World, adapter: Any) -> None:
    event = event_for(world)

    def too_slow(given: Mapping[str, Any], context: Any) -> None:
        time.sleep(2.0)

    adapter.serve(event, make_context(timeout=1.0), too_slow)

    (answer,) = answers(world, event)
    assert (answer.status, answer.reason) == ("FAILED", "Execution timed out")


@pytest.fixture
def broken_package(world: World) -> Iterator[Any]:
    """The handler imported while a module after the helper fails to import."""
    import authorizer_pools.handler  # noqa: PLC0415

    saved = sys.modules["authorizer_pools.answering"]
    sys.modules["authorizer_pools.answering"] = None  # type: ignore[assignment]
    delattr(authorizer_pools, "answering")
    try:
        yield importlib.reload(authorizer_pools.handler)
    finally:
        sys.modules["authorizer_pools.answering"] = saved
        authorizer_pools.answering = saved
        importlib.reload(authorizer_pools.handler)


def test_a_package_that_fails_to_start_still_answers_failed_at_once(
    world: World, broken_package: Any
) -> None:
    stack = world.cloudformation.new_stack("tenant-acme")
    pool = world.tenant_pool("acme")
    physical = f"{world.api.rest_api_id}:{world.api.authorizer_id}:{pool}"
    event = world.cloudformation.build_event(
        "Delete", stack, REGISTRATION, world.registration(pool), physical_id=physical
    )

    broken_package.handler(event, make_context(timeout=30))

    (answer,) = answers(world, event)
    assert answer.status == "FAILED"
    assert answer.physical_resource_id == physical  # never the empty id CloudFormation rejects
    assert answer.reason.startswith("the registrar failed to start")
