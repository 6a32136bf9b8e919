"""Create, Update and Delete of one registration: properties → plan → AWS calls → answer.

Each request records or forgets its owner in the registry, then settles: it waits until the
authorizer lists the pool exactly when someone owns it (or it was there before any
registration) and the named stages serve that, doing the work itself, for everyone, when
nobody else is (``convergence``).

Create and Update return the registration now in place (its physical id and ``Data`` are the
answer); every function raises :class:`ResourceError`, whose message becomes the FAILED reason.

Failures in the middle never pass silently:
- a Create that recorded its owner and then failed carries the deterministic physical id in its
  FAILED answer, so CloudFormation's rollback Delete (with a fresh time budget) undoes it;
- an Update that registered a new pool and then failed takes that registration back before
  answering, because CloudFormation's update rollback never deletes what a failed Update made;
- a Delete that could not publish leaves the removal recorded but unpublished: its retry, or
  `reconcile`, publishes it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol, TypeVar

from botocore.exceptions import ClientError

from . import convergence, logs, publishing, retries, validation
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
from .registry import Owner, PoolRecord, Registry
from .settings import FunctionContext, Settings
from .timing import Deadline, LambdaContext

T = TypeVar("T")
Event = Mapping[str, Any]


class Context(FunctionContext, LambdaContext, Protocol):
    """What the function uses of Lambda's context object."""

    @property
    def aws_request_id(self) -> str: ...


def create(event: Event, context: Context) -> Registration:
    settings = Settings.load(context)
    props = parse_properties(event["ResourceProperties"], settings)
    return _register(event, context, props, settings, undo_on_failure=False)


def update(event: Event, context: Context) -> Registration:
    settings = Settings.load(context)
    props = parse_properties(event["ResourceProperties"], settings)
    previous = Registration.from_physical_id(event["PhysicalResourceId"])
    replacing = previous != props.registration
    # A new API, authorizer or pool is a new registration with a new physical id; CloudFormation
    # deletes the old one in its cleanup. Otherwise (StageNames changed) the id stays.
    return _register(event, context, props, settings, undo_on_failure=replacing)


def delete(event: Event, context: Context) -> None:
    registration = Registration.from_physical_id(str(event.get("PhysicalResourceId", "")))
    if registration is None:
        # crhelper invents "<stack>_<logical id>_<random>" for a Create that failed before it
        # changed anything; the rollback Delete carries that id. There is nothing to remove.
        logs.step(event, "delete", "not-a-registration-id")
        return
    request = _Request(event, context, registration, Settings.load(context))
    removed = _translated(
        lambda: request.registry.remove_owner(request.arn, request.owner, str(event["RequestId"]))
    )
    if _translated(lambda: request.registry.pool(request.arn)) is None:
        # The registry never saw this pool: whatever put it on the authorizer, it was not a
        # registration, so it is not ours to remove.
        request.log("deregister", "not-registered")
        return
    request.log("deregister", "removed" if removed else "already-gone")
    try:
        # The worker publishes to the stages that still exist: one deleted since is neither
        # waited for nor created again by a deployment.
        wanted = _stages_for_delete(event, context, registration)
        if not wanted:
            existing = publishing.existing_stages(registration.rest_api_id, request.deadline)
            wanted = tuple(sorted(existing))
        request.settle(wanted)
    except convergence.NotYetLive as pending:
        pending.physical_id = registration.physical_id
        request.log("settle", "continues-in-a-later-invocation", reason=pending)
        raise
    except ClientError as error:
        if not publishing.is_not_found(error):
            raise _as_resource_error(error) from error
        request.log("settle", "api-or-authorizer-gone")


def _register(
    event: Event,
    context: Context,
    props: RegistrationProperties,
    settings: Settings,
    *,
    undo_on_failure: bool,
) -> Registration:
    request = _Request(event, context, props.registration, settings)
    _translated(lambda: validation.validate(props, settings, request.registry, request.deadline))
    try:
        added = request.registry.add_owner(request.arn, request.owner, str(event["RequestId"]))
        request.log("register", "added" if added else "already-registered")
        request.settle(props.stage_names)
    except convergence.NotYetLive as pending:
        pending.physical_id = props.registration.physical_id
        request.log("settle", "continues-in-a-later-invocation", reason=pending)
        raise
    except (ClientError, ResourceError) as error:
        failure = _as_resource_error(error)
        if undo_on_failure:
            failure = request.undo(failure)
        else:
            # The owner may be recorded: CloudFormation's rollback Delete must carry this id.
            failure.physical_id = props.registration.physical_id
        request.log("register", "failed", level=logging.ERROR, reason=failure)
        raise failure from error
    return props.registration


class _Request:
    """One request's work on one registration: its owner, its registry, its deadline."""

    def __init__(
        self, event: Event, context: Context, registration: Registration, settings: Settings
    ) -> None:
        self.event = event
        self.registration = registration
        self.arn = str(registration.user_pool_arn)
        self.owner = Owner(str(event["StackId"]), str(event["LogicalResourceId"]))
        # Who holds the worker's lease: this CloudFormation request (a Lambda retry of it may
        # take the lease back at once), and this invocation of it.
        self.holder = f"{event['RequestId']}/{context.aws_request_id}"
        self.deadline = Deadline.from_context(context)
        self.registry = Registry(
            settings.require_registry_table(),
            registration.rest_api_id,
            registration.authorizer_id,
            self.deadline,
        )

    def log(self, step: str, outcome: str, **details: Any) -> None:
        logs.step(self.event, step, outcome, self.registration, **details)

    def settle(self, stage_names: Sequence[str]) -> PoolRecord:
        """Wait until the owner change is on the authorizer and served on ``stage_names``,
        doing the work for everyone when nobody else is."""
        try:
            settled = convergence.settle(
                self.registry,
                self.arn,
                version=None,
                stage_names=stage_names,
                holder=self.holder,
                deadline=self.deadline,
            )
        except convergence.Refused as refused:
            raise InvalidProperty(
                USER_POOL_ARN, self.arn, f"refused by API Gateway: {refused}"
            ) from None
        change = settled.last_change or "none"
        if change == Change.KEEP_LAST_POOL.value:
            self.log(
                "settle",
                change,
                level=logging.WARNING,
                remedy="API Gateway refuses an empty providerARNs: the pool stays trusted until "
                "another pool is added and `reconcile` runs. Keep a permanent operators' pool "
                "on the authorizer (see README, 'The last pool').",
            )
        else:
            self.log("settle", change, stages=",".join(stage_names), seq=settled.changed_seq)
        return settled

    def undo(self, failure: ResourceError) -> ResourceError:
        """Take back the registration this failed Update made. If publishing is what failed,
        the removal may stay unpublished: the next deployment, or `reconcile`, publishes it."""
        try:
            self.registry.remove_owner(self.arn, self.owner, f"undo:{self.holder}")
            self.settle(())
        except (ClientError, ResourceError) as error:
            record = self.registry.pool(self.arn)
            if record is None or record.changing or record.applied < record.version:
                self.log("undo", "failed", level=logging.ERROR, reason=error)
                return ResourceError(
                    f"{failure}; taking the new registration back failed too ({error}): "
                    "run `reconcile`"
                )
        self.log("undo", "taken-back")
        return ResourceError(f"{failure} (the new registration was taken back)")


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
