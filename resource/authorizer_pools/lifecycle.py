"""Create, Update and Delete of one registration: properties → plan → AWS calls → answer.

Create and Update return the registration now in place (its physical id and ``Data`` are the
answer); every function raises :class:`ResourceError`, whose message becomes the FAILED reason.

Failures in the middle never pass silently:
- a Create that added the pool and then failed carries the deterministic physical id in its
  FAILED answer, so CloudFormation's rollback Delete (with a fresh time budget) removes it;
- an Update that added a new pool and then failed removes it again before answering, because
  CloudFormation's update rollback never deletes what a failed Update made;
- a Delete that removed the pool and then could not publish puts it back before answering, so
  that CloudFormation's retry of the deletion removes and publishes it again.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol, TypeVar

from botocore.exceptions import ClientError

from . import authorizer, logs, publishing, retries, validation
from .errors import AwsCallFailed, InvalidProperty, ResourceError
from .plan import Change
from .properties import (
    STAGE_NAMES,
    USER_POOL_ARN,
    RegistrationProperties,
    parse_properties,
    stage_names_of,
)
from .registration import Registration
from .settings import FunctionContext, Settings
from .timing import Deadline, LambdaContext

T = TypeVar("T")
Event = Mapping[str, Any]


class Context(FunctionContext, LambdaContext, Protocol):
    """What the function uses of Lambda's context object."""


def create(event: Event, context: Context) -> Registration:
    settings = Settings.load(context)
    props = parse_properties(event["ResourceProperties"], settings)
    return _register(event, props, settings, Deadline.from_context(context), undo_on_failure=False)


def update(event: Event, context: Context) -> Registration:
    settings = Settings.load(context)
    props = parse_properties(event["ResourceProperties"], settings)
    previous = Registration.from_physical_id(event["PhysicalResourceId"])
    replacing = previous != props.registration
    # A new API, authorizer or pool is a new registration with a new physical id; CloudFormation
    # deletes the old one in its cleanup. Otherwise (StageNames changed) the id stays.
    return _register(
        event, props, settings, Deadline.from_context(context), undo_on_failure=replacing
    )


def delete(event: Event, context: Context) -> None:
    registration = Registration.from_physical_id(str(event.get("PhysicalResourceId", "")))
    if registration is None:
        # crhelper invents "<stack>_<logical id>_<random>" for a Create that failed before it
        # changed anything; the rollback Delete carries that id. There is nothing to remove.
        logs.step(event, "delete", "not-a-registration-id")
        return
    deadline = Deadline.from_context(context)
    try:
        state = authorizer.read(registration.rest_api_id, registration.authorizer_id, deadline)
    except ClientError as error:
        if not publishing.is_not_found(error):
            raise _as_resource_error(error) from error
        logs.step(event, "remove-pool", "authorizer-gone", registration)
        return
    change = _translated(
        lambda: authorizer.remove_pool(state, str(registration.user_pool_arn), deadline)
    )
    if change is Change.KEEP_LAST_POOL:
        logs.step(
            event,
            "remove-pool",
            change.value,
            registration,
            level=logging.WARNING,
            remedy="API Gateway refuses an empty providerARNs: the pool stays trusted until "
            "another pool is added and this one removed. Keep a permanent operators' pool on "
            "the authorizer (see README, 'The last pool').",
        )
        return
    logs.step(event, "remove-pool", change.value, registration)
    if change is not Change.REMOVE:
        return
    wanted = _stages_for_delete(event, context, registration)
    existing = _translated(lambda: publishing.existing_stages(registration.rest_api_id, deadline))
    stages = [name for name in wanted if name in existing] if wanted else sorted(existing)
    # Should publishing fail, put the pool back: the authorizer then matches what the stages
    # serve, and CloudFormation's retry of the Delete removes and publishes it again. Left
    # removed, a retry would find nothing to remove and never publish the removal.
    _publish(event, registration, change, stages, deadline, undo_on_failure=True)


def _register(
    event: Event,
    props: RegistrationProperties,
    settings: Settings,
    deadline: Deadline,
    *,
    undo_on_failure: bool,
) -> Registration:
    state = _translated(lambda: validation.validate(props, settings, deadline))
    registration = props.registration
    arn = str(registration.user_pool_arn)
    try:
        change = authorizer.add_pool(state, arn, deadline)
    except ClientError as error:
        code, message = retries.describe(error)
        if code == "BadRequestException":
            # Nothing was changed: API Gateway refused the pool itself.
            raise InvalidProperty(
                USER_POOL_ARN, arn, f"refused by API Gateway: {message}"
            ) from None
        raise _as_resource_error(error) from error
    logs.step(event, "add-pool", change.value, registration)
    try:
        # Published even when the pool was there already: a replayed Create may follow one
        # that added it and then stopped before the stages served it.
        _publish(
            event,
            registration,
            change,
            props.stage_names,
            deadline,
            undo_on_failure=undo_on_failure,
        )
    except ResourceError as failure:
        if change is Change.ADD and not undo_on_failure:
            failure.physical_id = registration.physical_id
        raise
    return registration


def _publish(
    event: Event,
    registration: Registration,
    change: Change,
    stage_names: Sequence[str],
    deadline: Deadline,
    *,
    undo_on_failure: bool,
) -> None:
    """Deploy and flush each stage. On failure, optionally undo ``change`` (and republish the
    stages that already got it) before raising."""
    published: list[publishing.PublishedStage] = []
    try:
        for stage_name in stage_names:
            published += publishing.publish(
                registration.rest_api_id,
                [stage_name],
                _description(event, change, registration),
                deadline,
            )
    except (ClientError, ResourceError) as error:
        failure = _as_resource_error(error)
        if undo_on_failure and change.changes_authorizer:
            failure = _undo(
                event,
                registration,
                change,
                published=published,
                failure=failure,
                deadline=deadline,
            )
        logs.step(event, "publish", "failed", registration, level=logging.ERROR, reason=failure)
        raise failure from error
    logs.step(event, "publish", "published", registration, stages=_stage_list(published))


def _undo(
    event: Event,
    registration: Registration,
    change: Change,
    *,
    published: Sequence[publishing.PublishedStage],
    failure: ResourceError,
    deadline: Deadline,
) -> ResourceError:
    """Reverse the pool change this request made and republish the stages that served it."""
    arn = str(registration.user_pool_arn)
    reverse = authorizer.remove_pool if change is Change.ADD else authorizer.add_pool
    try:
        state = authorizer.read(registration.rest_api_id, registration.authorizer_id, deadline)
        undone = reverse(state, arn, deadline)
        publishing.publish(
            registration.rest_api_id,
            [stage.stage_name for stage in published],
            _description(event, undone, registration),
            deadline,
        )
    except (ClientError, ResourceError) as error:
        logs.step(event, "undo", "failed", registration, level=logging.ERROR, reason=error)
        return ResourceError(f"{failure}; undoing the {change.value} failed too: {error}")
    logs.step(event, "undo", undone.value, registration)
    return ResourceError(f"{failure} (the {change.value} was undone)")


def _stages_for_delete(
    event: Event, context: Context, registration: Registration
) -> tuple[str, ...]:
    """The stages to republish after a removal: the registration's own StageNames when the
    properties are about the same API, else the function's default stages; empty means every
    stage of the API. Never fails: a Delete must not be blocked by properties it does not need.
    """
    try:
        settings = Settings.load(context)
    except ResourceError:
        return ()
    properties = event.get("ResourceProperties") or {}
    same_api = properties.get("RestApiId", settings.default_rest_api_id)
    try:
        if same_api == registration.rest_api_id:
            return stage_names_of(properties.get(STAGE_NAMES), settings.default_stage_names)
        if settings.default_rest_api_id == registration.rest_api_id:
            return settings.default_stage_names
    except ResourceError:
        pass
    return ()


def _translated(action: Callable[[], T]) -> T:
    try:
        return action()
    except ClientError as error:
        raise _as_resource_error(error) from error


def _as_resource_error(error: Exception) -> ResourceError:
    if isinstance(error, ResourceError):
        return error
    if isinstance(error, ClientError):
        code, message = retries.describe(error)
        return AwsCallFailed(error.operation_name, code, message)
    return ResourceError(f"{type(error).__name__}: {error}")


def _description(event: Event, change: Change, registration: Registration) -> str:
    owner = f"{logs.stack_name(str(event.get('StackId', '')))}/{event.get('LogicalResourceId')}"
    return f"authorizer-pools: {change.value} {registration.user_pool_arn.pool_id} ({owner})"


def _stage_list(published: Sequence[publishing.PublishedStage]) -> str:
    return ",".join(f"{stage.stage_name}={stage.deployment_id}" for stage in published)
