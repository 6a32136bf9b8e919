"""Create, Update and Delete of one registration: properties → checks → owner → live → answer.

Each request records or forgets its owner in the registry, then waits until a pass of the
authorizer's worker that read the registry after that change has seen every named stage serve
the result (``convergence``), doing the work itself, for everyone, when nobody else is.

Create and Update return the registration now in place (its physical id and ``Data`` are the
answer); every function raises :class:`ResourceError`, whose message becomes the FAILED reason,
or :class:`convergence.NotYetLive` when the invocation's time ran out first (``answering`` then
goes on in a new invocation, which runs the same function again on the same event: every step
here is safe to repeat).

Failures never pass silently, on any invocation of a request:
- a Create or Update that failed takes back the owner *this request* made live before it
  answers (``take_back``): an owner that was live before the request (a StageNames change, an
  update rolled back to it) stays. The next pass removes the pool, whoever makes it;
- a Delete that could not wait for its change to go live leaves the owner gone: its retry, the
  scheduled run or any other request's pass publishes the removal.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol, TypeVar

from botocore.exceptions import ClientError

from . import authorizer, convergence, logs, publishing, retries, validation
from .errors import AwsCallFailed, InvalidProperty, ResourceError
from .properties import STAGE_NAMES, USER_POOL_ARN, RegistrationProperties, parse_properties
from .registration import Registration
from .registry import Owner, Registry
from .settings import FunctionContext, Settings
from .timing import Deadline, LambdaContext

T = TypeVar("T")
Event = Mapping[str, Any]

CANARY_PROBLEM = (
    "has a canary release serving another deployment, whose share of the traffic keeps its own "
    "pool list: promote or delete the canary, then retry"
)
KEEP_ONE_POOL = (
    "the pool stays trusted until another pool is on the authorizer: keep a permanent "
    "operators' pool on it (see docs/design.md, 'The last pool')"
)


class Context(FunctionContext, LambdaContext, Protocol):
    """What the function uses of Lambda's context object."""

    @property
    def aws_request_id(self) -> str: ...


def create(event: Event, context: Context) -> Registration:
    settings = Settings.load(context)
    props = parse_properties(event["ResourceProperties"], settings)
    return _register(event, context, props, settings)


def update(event: Event, context: Context) -> Registration:
    settings = Settings.load(context)
    props = parse_properties(event["ResourceProperties"], settings)
    # A new API, authorizer or pool is a new registration with a new physical id; CloudFormation
    # deletes the old one in its cleanup. Otherwise (StageNames changed) the id stays.
    return _register(event, context, props, settings)


def take_back(event: Event, context: Context) -> bool:
    """Take back the owner this Create or Update made live, on any of its invocations, once its
    FAILED answer is decided. False when it made none: an owner live before the request stays,
    and a Delete, or properties that name no registration, have nothing to take back."""
    if event["RequestType"] == "Delete":
        return False
    settings = Settings.load(context)
    try:
        props = parse_properties(event["ResourceProperties"], settings)
    except ResourceError:
        return False
    request = _Request(event, context, props.registration, settings)
    taken = _translated(request.take_back)
    request.log("undo", "taken-back" if taken else "nothing-to-take-back")
    if taken:
        request.settle_take_back()
    return taken


def delete(event: Event, context: Context) -> None:
    registration = Registration.from_physical_id(str(event.get("PhysicalResourceId", "")))
    if registration is None:
        # crhelper invents "<stack>_<logical id>_<random>" for a Create that failed before it
        # changed anything; the rollback Delete carries that id. There is nothing to remove.
        logs.step(event, "delete", "not-a-registration-id")
        return
    settings = Settings.load(context)
    if not settings.serves(registration.rest_api_id, registration.authorizer_id):
        # Registered when the registrar served another API or authorizer: this one may not
        # touch it (its role and its registry are this API's), and a stack's deletion must
        # never be blocked. The pool may still be listed there.
        logs.step(
            event,
            "deregister",
            "another-registrars",
            registration,
            level=logging.WARNING,
            remedy=f"if no other stack registers it, remove {registration.user_pool_arn} from "
            f"authorizer {registration.authorizer_id} of REST API {registration.rest_api_id} "
            "by hand, then redeploy that API's stages",
        )
        return
    request = _Request(event, context, registration, settings)
    removed = _translated(lambda: request.registry.owners.remove(*request.owner_change))
    pool = _translated(lambda: request.registry.ledger.pool(request.arn))
    if pool is None:
        # No registration ever named this pool: whatever put it on the authorizer, it is not
        # ours to remove.
        request.log("deregister", "not-registered")
        return
    request.log("deregister", "removed" if removed else "already-gone")
    try:
        # Every stage, not only the registration's: each serves the authorizer's whole list.
        live = request.await_live(settings.stage_names)
    except convergence.NotYetLive as pending:
        request.log("settle", "not-yet-live", reason=pending)
        raise
    except ClientError as error:
        if not publishing.is_not_found(error) or not _authorizer_gone(request):
            raise _as_resource_error(error) from error
        request.log("settle", "api-or-authorizer-gone")
        return
    request.warn_of_canaries(live)
    pool = _translated(lambda: request.registry.ledger.pool(request.arn))
    if pool is not None and pool.present and pool.kept:
        request.log(
            "settle",
            pool.last_change or "kept",
            level=logging.WARNING,
            kept=pool.kept,
            remedy=KEEP_ONE_POOL,
        )


def _register(
    event: Event, context: Context, props: RegistrationProperties, settings: Settings
) -> Registration:
    request = _Request(event, context, props.registration, settings)
    try:
        # A registration in place before this request (a replay, a rollback to it, a StageNames
        # change) was live before any canary started: a canary never refuses it.
        earlier = request.registered_earlier()
        validation.validate(
            props, settings, request.registry, request.deadline, refuse_canary=not earlier
        )
        added = request.registry.owners.add(*request.owner_change)
        request.log("register", "added" if added else "already-registered")
        live = request.await_live(props.stage_names)
        request.confirm(live, refuse_canary=not earlier)
    except convergence.NotYetLive as pending:
        request.log("settle", "not-yet-live", reason=pending)
        raise
    except (ClientError, ResourceError) as error:
        if _transient(error):
            # Throttled or out of time: not a failure of the request; a later invocation goes on.
            raise convergence.NotYetLive(str(error)) from error
        # ``answering`` records the FAILED answer, then takes back what this request (on any
        # of its invocations) made live: never before the answer is decided.
        failure = _as_resource_error(error)
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
        self.request_id = str(event["RequestId"])
        # Who holds the worker's lease: this CloudFormation request (a Lambda retry of it may
        # take the lease back at once), and this invocation of it.
        self.holder = f"{self.request_id}/{context.aws_request_id}"
        self.deadline = Deadline.from_context(context)
        self.all_stages = settings.stage_names
        self.registry = Registry(
            settings.require_registry_table(),
            registration.rest_api_id,
            registration.authorizer_id,
            self.deadline,
        )

    @property
    def owner_change(self) -> tuple[str, Owner, str]:
        return self.arn, self.owner, self.request_id

    def log(self, step: str, outcome: str, **details: Any) -> None:
        logs.step(self.event, step, outcome, self.registration, **details)

    def registered_earlier(self) -> bool:
        """Whether this owner was made live (and not refused) by an earlier request."""
        owner = self.registry.owners.get(self.arn, self.owner)
        return (
            owner.get("live") is True
            and not owner.get("refused")
            and owner.get("request_id") != self.request_id
        )

    def take_back(self) -> bool:
        return self.registry.owners.take_back(self.arn, self.owner, self.request_id)

    def await_live(self, stage_names: Sequence[str]) -> convergence.Live:
        live = convergence.await_live(
            self.registry,
            stage_names=stage_names,
            all_stages=self.all_stages,
            holder=self.holder,
            deadline=self.deadline,
        )
        self.log("settle", "live", stages=",".join(stage_names) or "all", epoch=live.epoch)
        return live

    def confirm(self, live: convergence.Live, *, refuse_canary: bool) -> None:
        """A new registration is done only if its pool is trusted on every named stage."""
        owner = self.registry.owners.get(self.arn, self.owner)
        refused = owner.get("refused") if owner.get("request_id") == self.request_id else None
        if refused:
            raise InvalidProperty(USER_POOL_ARN, self.arn, f"was refused by API Gateway: {refused}")
        if live.canary_stages and refuse_canary:
            raise InvalidProperty(STAGE_NAMES, live.canary_stages[0], CANARY_PROBLEM)
        self.warn_of_canaries(live)

    def warn_of_canaries(self, live: convergence.Live) -> None:
        if live.canary_stages:
            self.log(
                "settle",
                "canary-keeps-its-list",
                level=logging.WARNING,
                stages=",".join(live.canary_stages),
                remedy="the canary's share of the traffic keeps the pool list it was deployed "
                "with until the canary is promoted (the next pass then publishes the stage) "
                "or deleted",
            )

    def settle_take_back(self) -> None:
        """Wait, while there is time, for a pass to remove what was taken back; else the next
        pass removes it (the scheduled run at the latest)."""
        try:
            self.await_live(self.all_stages)
        except (ClientError, ResourceError, convergence.NotYetLive) as error:
            self.log("undo", "taken-back-not-yet-live", level=logging.WARNING, reason=error)


def _authorizer_gone(request: _Request) -> bool:
    """Whether the API or its authorizer no longer exists (a stage missing is not that)."""
    try:
        authorizer.read(
            request.registration.rest_api_id, request.registration.authorizer_id, request.deadline
        )
    except ClientError as error:
        return publishing.is_not_found(error)
    return False


def _transient(error: Exception) -> bool:
    return isinstance(error, AwsCallFailed) and error.transient


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
