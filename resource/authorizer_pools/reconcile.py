"""Drift between the registry and the authorizer: finding it, and repairing it.

The authorizer can drift from what the stacks declare: the shared API's own stack resets
``ProviderARNs`` to its template's list, someone edits the authorizer in the console, a tenant's
pool is deleted while its ARN stays listed. :func:`survey` compares the registry with the
authorizer (and Cognito); :func:`repair` makes them agree again the way a registration would:
through the pool's lease, then one deployment and flush per stage that needs it. It never
removes an unmanaged pool.
"""

from __future__ import annotations

import enum
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from botocore.exceptions import ClientError

from . import authorizer, aws, convergence, retries, timing
from .arns import ArnError, UserPoolArn
from .registry import FOUND, OwnerRecord, PoolRecord, Registry, Snapshot
from .timing import Deadline


class State(enum.Enum):
    OK = "ok"
    UNMANAGED = "unmanaged"  # listed, and no registration ever added it: never removed
    MISSING = "missing"  # owned, or found earlier, but not listed: added back
    STALE = "stale"  # listed, added by registrations, none of which is left: removed
    KEPT_LAST = "kept-last"  # stale, but the last pool: API Gateway refuses an empty list
    UNPUBLISHED = "unpublished"  # listed as it should be, but a stage does not serve it yet
    INTERRUPTED = "interrupted"  # a request stopped while changing it: what stages serve is unknown

    @property
    def is_drift(self) -> bool:
        return self not in (State.OK, State.UNMANAGED)


@dataclass(frozen=True)
class PoolStatus:
    arn: str
    state: State
    owners: tuple[OwnerRecord, ...]
    cognito_pool_gone: bool = False

    @property
    def is_drift(self) -> bool:
        return self.state.is_drift or self.cognito_pool_gone


@dataclass(frozen=True)
class Survey:
    pools: tuple[PoolStatus, ...]
    unpublished_stages: tuple[str, ...]
    stage_names: tuple[str, ...]

    @property
    def drift(self) -> bool:
        return bool(self.unpublished_stages) or any(pool.is_drift for pool in self.pools)


def classify(
    snapshot: Snapshot,
    listed: Sequence[str],
    stage_names: Sequence[str],
    gone_from_cognito: Iterable[str] = (),
    now: float = 0.0,
) -> Survey:
    """Pure: each pool's state, given the registry, what the authorizer lists, and the time
    (leases still running are changes in progress, not drift)."""
    gone = set(gone_from_cognito)

    def published(stage_name: str) -> int:
        stage = snapshot.stages.get(stage_name)
        return stage.published_seq if stage else 0

    statuses = []
    for arn in dict.fromkeys([*listed, *sorted(snapshot.pools)]):
        record = snapshot.pools.get(arn, PoolRecord(arn))
        owners = tuple(snapshot.owners.get(arn, ()))
        present = arn in listed
        wanted = bool(owners) or record.origin == FOUND
        behind = any(published(name) < record.changed_seq for name in stage_names)
        if record.changing and snapshot.worker_until < now:
            state = State.INTERRUPTED
        elif present and not owners and record.origin in (None, FOUND):
            state = State.UNMANAGED
        elif wanted and not present:
            state = State.MISSING
        elif present and not wanted:
            state = State.KEPT_LAST if len(listed) == 1 else State.STALE
        elif behind:
            state = State.UNPUBLISHED  # added, or removed, but not served yet
        elif present:
            state = State.OK
        else:
            continue  # a pool the registry knows, rightly absent and published so
        statuses.append(PoolStatus(arn, state, owners, cognito_pool_gone=arn in gone))
    newest = max((record.changed_seq for record in snapshot.pools.values()), default=0)
    behind_stages = tuple(name for name in stage_names if published(name) < newest)
    return Survey(tuple(statuses), behind_stages, tuple(stage_names))


def survey(
    registry: Registry, stage_names: Sequence[str], *, account_id: str | None, deadline: Deadline
) -> Survey:
    """Read the registry, the authorizer and (for this account's pools) Cognito."""
    snapshot = registry.snapshot()
    listed = authorizer.read(registry.rest_api_id, registry.authorizer_id, deadline).provider_arns
    candidates = set(listed) | {arn for arn, owners in snapshot.owners.items() if owners}
    gone = [arn for arn in sorted(candidates) if _cognito_pool_gone(arn, account_id, deadline)]
    return classify(snapshot, listed, stage_names, gone, now=timing.clock.time())


def _cognito_pool_gone(arn: str, account_id: str | None, deadline: Deadline) -> bool:
    try:
        pool = UserPoolArn.parse(arn)
    except ArnError:
        return False
    if account_id is not None and pool.account != account_id:
        return False  # another account's pool cannot be read from here
    try:
        retries.call(
            "DescribeUserPool",
            lambda: aws.cognito(pool.region).describe_user_pool(UserPoolId=pool.pool_id),
            deadline,
        )
    except ClientError as error:
        return retries.describe(error)[0] == "ResourceNotFoundException"
    return False


@dataclass(frozen=True)
class Repair:
    arn: str
    done: str


def repair(registry: Registry, found: Survey, deadline: Deadline) -> list[Repair]:
    """Have a worker decide every drifted pool again from the authorizer, and publish every
    stage that is behind: the same path as a registration's."""
    holder = f"reconcile-{uuid.uuid4()}/{uuid.uuid4()}"
    drifted = [
        pool.arn
        for pool in found.pools
        if pool.state in (State.MISSING, State.STALE, State.INTERRUPTED)
    ]
    registry.recheck(drifted)
    stages_before = registry.stages()
    convergence.catch_up(registry, stage_names=found.stage_names, holder=holder, deadline=deadline)
    repairs = [
        Repair(arn, (registry.pool(arn) or PoolRecord(arn)).last_change or "none")
        for arn in drifted
    ]
    stages_after = registry.stages()
    repairs += [
        Repair("", f"published {name}")
        for name, stage in stages_after.items()
        if name in found.stage_names
        and stage.published_seq > (stages_before.get(name) or stage).published_seq
    ]
    return repairs
