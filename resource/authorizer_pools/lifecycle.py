"""Create, Update and Delete of one registration: properties → checks → owner → live.

Each request records or forgets its owner in the registry, then waits until a pass of the
authorizer's worker that read the registry after that change has seen every named stage serve
the result (``convergence``), doing the work itself, for everyone, when nobody else is.

:func:`run` returns an outcome, never raises for control flow: :class:`Done` (the registration
now in place, whose physical id and ``Data`` are the answer; none for a Delete),
``worker.Pending`` (recorded, not yet live when the deadline came: a later invocation runs
the same request again, and every step here is safe to repeat), or :class:`Failed` (the reason
CloudFormation is told). A failed Create or Update's owner is taken back by the FAILED answer
itself (``answering``), never before that answer is recorded.

A rollback (CloudFormation's stack is ``UPDATE_ROLLBACK_IN_PROGRESS``) asks for properties the
owner had: bounds that changed since (a stage retired, a pool narrowed out of
AllowedUserPoolArns or protected) never refuse it, a WARNING names them. A Delete is decided
from the physical id alone and is never refused for the properties it carries.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from . import authority, convergence, logs, plan, validation
from .api_gateway import ApiGateway
from .aws_errors import NotFound
from .errors import AwsCallFailed, InvalidProperty, ResourceError
from .properties import STAGE_NAMES, USER_POOL_ARN, Parsed, RegistrationProperties
from .registration import Registration
from .registry import Owner, Registry
from .request import Request
from .settings import Settings
from .timing import Deadline
from .worker import Pending

CANARY_PROBLEM = (
    "has a canary release serving another deployment, whose share of the traffic keeps its own "
    "pool list: promote or delete the canary, then retry"
)
KEEP_ONE_POOL = (
    "the pool stays trusted until another pool is on the authorizer: keep a permanent "
    "operators' pool on it (see docs/design.md, 'The last pool')"
)


@dataclass(frozen=True)
class Done:
    """The request's change is live: for a Create or Update, the registration in place."""

    registration: Registration | None = None


@dataclass(frozen=True)
class Failed:
    error: ResourceError


Outcome = Done | Pending | Failed


@dataclass(frozen=True)
class Job:
    """One invocation's work on one request."""

    request: Request
    # The request's properties, parsed once (or why they were refused).
    parsed: Parsed | ResourceError
    settings: Settings
    # Who holds the worker's lease when this invocation works: the request and the invocation.
    holder: str
    deadline: Deadline
    # CloudFormation is rolling the stack back: the properties are ones the owner had.
    rollback: bool = False


def run(job: Job) -> Outcome:
    try:
        return _delete(job) if job.request.type == "Delete" else _register(job)
    except ResourceError as error:
        if isinstance(error, AwsCallFailed) and error.transient:
            # Throttled or out of time: not a failure of the request; a later invocation goes on.
            return Pending(str(error))
        logs.step(job.request, "work", "failed", level=logging.ERROR, reason=error)
        return Failed(error)


def settle(job: Job, registration: Registration) -> None:
    """Wait, while there is time, for a pass to publish what a FAILED answer took back; else
    the next pass does (the scheduled run at the latest). Only after that answer was sent."""
    work = _Work(job, registration)
    try:
        outcome = work.await_live(job.settings.stage_names)
    except ResourceError as error:
        outcome = Pending(str(error))
    if isinstance(outcome, Pending):
        work.log("undo", "taken-back-not-yet-live", level=logging.WARNING, reason=outcome.reason)


def _register(job: Job) -> Outcome:
    parsed = job.parsed
    if isinstance(parsed, ResourceError):
        return Failed(parsed)
    if not job.rollback:
        props = parsed.strict()
    elif not parsed.out_of_bounds:
        props = parsed.properties
    else:
        for problem in parsed.out_of_bounds:
            logs.step(
                job.request, "rollback", "out-of-bounds", level=logging.WARNING, reason=problem
            )
        if parsed.pool_out_of_bounds:
            # Rolled back to a pool the registrar may no longer name: it is not registered
            # again (its owner, if still live, stays as it is), and the stack's rollback goes on.
            return Done(parsed.properties.registration)
        props = _published_stages_only(parsed.properties, job.settings.stage_names)
    work = _Work(job, props.registration)
    # A registration in place before this request (a replay, a rollback to it, a StageNames
    # change) was live before any canary started: a canary never refuses it.
    earlier = work.registered_earlier()
    claim_from = None
    if not (job.rollback and earlier):
        # Only a pool the stack may speak for (``authority``). A rollback is lenient about bounds
        # narrowed since, never about authority: it skips the check only going back to a pool
        # this owner had live (an invoker could otherwise name any pool while the stack rolls
        # back).
        claim_from = authority.check(
            props.user_pool_arn, job.request.stack_id, job.settings, work.registry, job.deadline
        )
    validation.validate(props, job.settings, work.registry, job.deadline, refuse_canary=not earlier)
    added = work.registry.register(
        work.arn, work.owner, job.request.request_id, claim_from=claim_from
    )
    work.log("register", "added" if added else "already-registered")
    live = work.await_live(props.stage_names)
    if isinstance(live, Pending):
        return live
    work.confirm(live, refuse_canary=not earlier)
    return Done(props.registration)


def _delete(job: Job) -> Outcome:
    request, settings = job.request, job.settings
    registration = Registration.from_physical_id(request.physical_id or "")
    if registration is None:
        # crhelper invents "<stack>_<logical id>_<random>" for a Create that failed before it
        # changed anything; the rollback Delete carries that id. There is nothing to remove.
        logs.step(request, "delete", "not-a-registration-id")
        return Done()
    if not settings.serves(registration.rest_api_id, registration.authorizer_id):
        # Registered when the registrar served another API or authorizer: this one may not
        # touch it (its role and its registry are this API's), and a stack's deletion must
        # never be blocked. The pool may still be listed there.
        logs.step(
            request,
            "deregister",
            "another-registrars",
            registration,
            level=logging.WARNING,
            remedy=f"if no other stack registers it, remove {registration.user_pool_arn} from "
            f"authorizer {registration.authorizer_id} of REST API {registration.rest_api_id} "
            "by hand, then redeploy that API's stages",
        )
        return Done()
    work = _Work(job, registration)
    removed = work.registry.deregister(work.arn, work.owner, request.request_id)
    if not removed and work.registry.ledger.pool(work.arn) is None:
        # No registration ever named this pool: whatever put it on the authorizer, it is not
        # ours to remove.
        work.log("deregister", "not-registered")
        return Done()
    work.log("deregister", "removed" if removed else "already-gone")
    try:
        # Every stage, not only the registration's: each serves the authorizer's whole list.
        live = work.await_live(settings.stage_names)
    except NotFound:
        if not _authorizer_gone(work):
            raise
        work.log("settle", "api-or-authorizer-gone")
        return Done()
    if isinstance(live, Pending):
        return live
    work.warn_of_canaries(live)
    return _removed_or_failed(work)


def _removed_or_failed(work: _Work) -> Outcome:
    """A Delete's pool is gone, or kept for a documented reason (another live owner, the last
    pool); a removal API Gateway or IAM refused fails the Delete: removal fails closed."""
    if work.arn in work.job.settings.protected_user_pool_arns:
        work.log("settle", "protected", level=logging.WARNING, remedy="a protected pool stays")
        return Done()
    pool = work.registry.ledger.pool(work.arn)
    if pool is None or not pool.present or not pool.kept:
        return Done()
    if pool.kept == plan.KEEP_LAST_POOL_REASON:
        # API Gateway refuses an empty list: documented, alarmed (LastPoolKept), and the next
        # pass removes it once another pool is on the authorizer.
        work.log(
            "settle",
            pool.last_change or "kept",
            level=logging.WARNING,
            kept=pool.kept,
            remedy=KEEP_ONE_POOL,
        )
        return Done()
    # Anything else that kept the pool (API Gateway or IAM refused the removal) fails the
    # Delete: the stack must not read DELETE_COMPLETE while its tenant's users are let in.
    return Failed(
        ResourceError(
            f"{USER_POOL_ARN} still trusted. {pool.kept}. The owner is forgotten; retry the "
            "deletion once the removal is allowed"
        )
    )


def _published_stages_only(
    props: RegistrationProperties, published: Sequence[str]
) -> RegistrationProperties:
    stages = tuple(name for name in props.stage_names if name in published) or tuple(published)
    return RegistrationProperties(props.registration, stages)


class _Work:
    """One request's work on one registration: its owner, its registry, its deadline."""

    def __init__(self, job: Job, registration: Registration) -> None:
        self.job = job
        self.registration = registration
        self.arn = str(registration.user_pool_arn)
        self.owner = Owner(job.request.stack_id, job.request.logical_id)
        self.registry = Registry(
            job.settings.require_registry_table(),
            registration.rest_api_id,
            registration.authorizer_id,
            job.deadline,
        )

    def log(self, step: str, outcome: str, **details: Any) -> None:
        logs.step(self.job.request, step, outcome, self.registration, **details)

    def registered_earlier(self) -> bool:
        """Whether this owner was made live (and not refused) by an earlier request."""
        owner = self.registry.owners.get(self.arn, self.owner)
        return (
            owner.get("live") is True
            and not owner.get("refused")
            and owner.get("request_id") != self.job.request.request_id
        )

    def await_live(self, stage_names: Sequence[str]) -> convergence.Live | Pending:
        live = convergence.await_live(
            self.registry,
            stage_names=stage_names,
            all_stages=self.job.settings.stage_names,
            holder=self.job.holder,
            deadline=self.job.deadline,
            bounds=self.job.settings.bounds,
        )
        if isinstance(live, Pending):
            self.log("settle", "not-yet-live", reason=live.reason)
        else:
            self.log("settle", "live", stages=",".join(stage_names) or "all", epoch=live.epoch)
        return live

    def confirm(self, live: convergence.Live, *, refuse_canary: bool) -> None:
        """A new registration is done only if its pool is trusted on every named stage."""
        owner = self.registry.owners.get(self.arn, self.owner)
        own = owner.get("request_id") == self.job.request.request_id
        refused = owner.get("refused") if own else None
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


def _authorizer_gone(work: _Work) -> bool:
    """Whether the API or its authorizer no longer exists (a stage missing is not that)."""
    registration = work.registration
    try:
        ApiGateway(registration.rest_api_id, registration.authorizer_id).authorizer(
            work.job.deadline
        )
    except NotFound:
        return True
    return False
