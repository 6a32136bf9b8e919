"""What the function relies on of crhelper's internals (``crhelper_adapter``): each test here
breaks when crhelper's behaviour changes, before a tenant's stack does."""

from __future__ import annotations

import importlib
import inspect
import sys
import time
import uuid
from collections.abc import Iterator, Mapping
from typing import Any

import pytest
from conftest import World
from crhelper import CfnResource
from support.metrics import emitted

from authorizer_pools import metrics
from authorizer_pools.answer import FAILED, SUCCESS, Answer, Reply
from authorizer_pools.request import Request
from authorizer_pools.response_url import verify
from demo.world import REGISTRATION
from localaws.awslambda.runtime import make_context


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
    time.sleep(0.2)  # the answer is sent before serve returns; give the receiver a moment
    return world.receiver.answers(str(event["RequestId"]))


def reply(request: Request, answer: Answer) -> Reply:
    return Reply(answer, verify(request.response_url, region="us-east-1", partition="aws",
                                now=time.time()))  # fmt: skip


def test_building_the_helper_makes_no_client(adapter: Any) -> None:
    for name in ("_lambda_client", "_events_client", "_logs_client"):
        client = getattr(adapter.helper, name)
        assert type(client).__name__ == "_ClientOnFirstUse"
        assert client._client is None, f"crhelper made its {name} at import"


def test_crhelpers_send_takes_the_sender_it_is_given() -> None:
    parameters = inspect.signature(CfnResource._send).parameters  # type: ignore[attr-defined]
    assert list(parameters) == ["self", "status", "reason", "send_response"]


def test_no_answer_when_the_work_sends_none(world: World, adapter: Any) -> None:
    event = event_for(world)
    adapter.serve(event, make_context(timeout=30), lambda request, context: None)

    assert answers(world, event) == []
    # Nor did crhelper set up its polling: no EventBridge rule, no permission.
    assert {call.service for call in world.calls()} <= {"dynamodb", "apigateway"}


def test_an_answer_is_sent_with_its_id_and_data(world: World, adapter: Any) -> None:
    event = event_for(world)
    seen: list[Request] = []

    def work(request: Request, context: Any) -> Reply:
        seen.append(request)
        return reply(request, Answer(SUCCESS, "api:auth:pool", data={"UserPoolArn": "pool"}))

    adapter.serve(event, make_context(timeout=30), work)

    (answer,) = answers(world, event)
    assert (answer.status, answer.physical_resource_id) == ("SUCCESS", "api:auth:pool")
    assert answer.data == {"UserPoolArn": "pool"}
    assert seen[0].request_id == event["RequestId"]  # the work sees the typed request


def test_no_line_speaks_of_a_polling_schedule(
    world: World, adapter: Any, caplog: pytest.LogCaptureFixture
) -> None:
    event = event_for(world)
    with caplog.at_level("DEBUG"):
        adapter.serve(
            event,
            make_context(timeout=30),
            lambda request, context: reply(request, Answer(SUCCESS, "api:auth:pool")),
        )
    assert answers(world, event)
    # crhelper still says it on every answer of a poll: the filter keeps it out.
    assert adapter._NO_SCHEDULE in inspect.getsource(CfnResource._polling_init)  # type: ignore[attr-defined]
    assert not [r for r in caplog.records if "schedule" in r.getMessage()]


def test_a_failure_is_sent_with_its_id_and_reason(world: World, adapter: Any) -> None:
    event = event_for(world)
    failed = Answer(FAILED, "api:auth:pool", "StageNames 'qa' is not a stage")

    adapter.serve(event, make_context(timeout=30), lambda request, context: reply(request, failed))

    (answer,) = answers(world, event)
    assert (answer.status, answer.physical_resource_id) == ("FAILED", "api:auth:pool")
    assert answer.reason == "StageNames 'qa' is not a stage"


def test_crhelpers_timer_never_answers(world: World, adapter: Any) -> None:
    """crhelper's timer would answer FAILED "Execution timed out" 0.5 s before the deadline,
    an answer nobody recorded: an invocation that runs late is retried by Lambda instead."""
    event = event_for(world)

    def too_slow(request: Request, context: Any) -> None:
        time.sleep(1.5)

    adapter.serve(event, make_context(timeout=1.0), too_slow)

    assert answers(world, event) == []


def test_an_unexpected_error_sends_nothing_and_fails_the_invocation(
    world: World, adapter: Any
) -> None:
    event = event_for(world)

    def broken(request: Request, context: Any) -> None:
        raise RuntimeError("a bug")

    with pytest.raises(RuntimeError, match="a bug"):
        adapter.serve(event, make_context(timeout=30), broken)
    assert answers(world, event) == []  # crhelper's own FAILED (str(error)) is not sent


def test_an_answer_that_could_not_be_delivered_fails_the_invocation(
    world: World, adapter: Any
) -> None:
    event = event_for(world)
    world.receiver.clear()  # S3 answers 403 to a URL it did not issue: final, not retried

    def answered(request: Request, context: Any) -> Reply:
        return reply(request, Answer(SUCCESS, "api:auth:pool"))

    with pytest.raises(adapter.AnswerNotDelivered):
        adapter.serve(event, make_context(timeout=30), answered)
    assert [r.status for r in world.receiver.rejected()] == [403]


def test_an_event_that_is_not_a_request_never_reaches_crhelper(world: World, adapter: Any) -> None:
    """The Lambda console's default test event on a warm container: crhelper would answer
    FAILED to the URL of the request it served before."""
    event = event_for(world)
    adapter.serve(
        event,
        make_context(timeout=30),
        lambda request, context: reply(request, Answer(SUCCESS, "api:auth:pool")),
    )
    assert len(answers(world, event)) == 1

    adapter.serve({"key1": "value1"}, make_context(timeout=30), pytest.fail)

    assert len(answers(world, event)) == 1


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


def test_a_package_that_fails_to_start_answers_no_url_but_cloudformations(
    world: World, broken_package: Any
) -> None:
    stack = world.cloudformation.new_stack("tenant-acme")
    event = world.cloudformation.build_event(
        "Create", stack, REGISTRATION, world.registration(world.tenant_pool("acme"))
    )
    event["ResponseURL"] = f"https://localhost:{world.receiver.port}/{uuid.uuid4()}?Signature=x"

    broken_package.handler(event, make_context(timeout=30))

    assert answers(world, event) == []
    assert world.receiver.rejected() == []  # nothing was even tried


def test_a_misdeployed_registrar_answers_failed_and_counts_it_as_every_failed_answer(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A registrar deployed with more stages than the template grants fails every request, and
    FailedAnswersAlarm must see it: no answer goes uncounted."""
    monkeypatch.setenv("STAGE_NAMES", ",".join(f"stage{index}" for index in range(11)))
    pool = world.tenant_pool("acme")

    stack = world.create_tenant("tenant-acme", pool)

    create = stack.exchanges[0]
    assert create.status == "FAILED"
    assert "StageNames lists 11 stages" in create.reason
    assert emitted(create.logs) == {metrics.ANSWERS: 1}
    assert '"Status": "FAILED"' in create.logs
