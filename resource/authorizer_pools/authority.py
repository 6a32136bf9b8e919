"""Who may speak for a pool: a registration may name only a pool its own stack made.

The authorizer trusts every registered pool on every method of the shared API, so naming a pool
is granting its users entry. Any tenant could otherwise register another tenant's pool (its ARN
is no secret) and keep it trusted after that tenant left. The rule, checked with CloudFormation
before a new registration changes anything:

- the pool is a resource (``AWS::Cognito::UserPool``, its physical id the pool's id) of the
  registering stack, as CloudFormation lists it (``ListStackResources`` of that stack, every
  page). ``examples/tenant.yaml`` declares the pool and its registration side by side; a pool
  replaced within the stack is the stack's too. A nested stack's pool is its own nested
  stack's, not its parent's: keep the registration beside the pool;
- and the pool is not another stack's: the first stack that registers a pool claims it
  (``registry.claims``, written with its owner), and the claim passes to another stack only
  while a stack still registers the pool; a pool registered before claims existed belongs to
  its owners' stacks. CloudFormation lists a pool another stack retained
  (``DeletionPolicy: Retain``) and this one imported as this stack's own: without the claim, a
  tenant that left could be let back in through any stack that imports its pool. A move of a
  pool between a tenant's stacks (retain, import, register in the new stack, then delete the
  old registration) passes;
- or it is one of ``SharedUserPoolArns``, the pools the platform lets any registration name (a
  pooled tier's shared pool, a pool kept in another stack or account, a retained pool the
  platform lets another stack take up).

A refusal names the property, the pool and the rule; it never names another tenant's stack. A
rollback goes back to a pool the owner had and is not checked again (``lifecycle``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from . import aws, plan, retries
from .arns import UserPoolArn
from .errors import InvalidProperty
from .plan import PoolStacks
from .properties import USER_POOL_ARN
from .registry import OwnerRecord, Registry
from .settings import Settings
from .timing import Deadline

USER_POOL_TYPE = "AWS::Cognito::UserPool"


def check(
    pool: UserPoolArn, stack_id: str, settings: Settings, registry: Registry, deadline: Deadline
) -> PoolStacks | None:
    """Nothing to fear when the stack ``stack_id`` may name ``pool``: what the registry holds of
    the pool's stacks, for ``Registry.register`` to take its claim with the owner (None for a
    shared pool: nobody claims it). Else :class:`InvalidProperty` saying why. Raises botocore's
    errors or ``AwsCallFailed`` when CloudFormation or the registry cannot be asked."""
    if str(pool) in settings.shared_user_pool_arns:
        return None
    if (pool.account, pool.region) != (settings.account_id, settings.region):
        raise InvalidProperty(
            USER_POOL_ARN,
            str(pool),
            "is another account's or Region's pool, not in SharedUserPoolArns",
        )
    if not _holds(stack_id, pool, deadline):
        raise InvalidProperty(
            USER_POOL_ARN,
            str(pool),
            "is not a resource of this stack, nor in SharedUserPoolArns: name the stack's own pool",
        )
    stacks = registry.pool_stacks(str(pool))
    refusal = plan.claim_refusal(stack_id, stacks)
    if refusal is not None:
        raise InvalidProperty(USER_POOL_ARN, str(pool), refusal)
    return stacks


def claim_unclaimed(registry: Registry, owners: Mapping[str, Sequence[OwnerRecord]]) -> list[str]:
    """Claim each live pool that has no claim for the stack of its first live owner; the pools
    claimed. Pools registered before claims existed have none, and what else tells their stack
    (their owners' items) expires once they leave: claimed while they are live, they stay their
    stack's for good. A claim taken meanwhile by a registration stays as it is. Only a pool none
    of whose owners was written with its claim in hand is looked up: what this reads follows
    the live owners, never every pool ever claimed."""
    taken = []
    for arn, records in owners.items():
        if not records or any(record.claimed for record in records):
            continue
        if registry.claims.holder(arn) is not None:
            continue
        first = min(records, key=lambda record: (record.registered_at, record.owner.stack_id))
        if registry.claims.take(arn, first.owner.stack_id, from_stack=None):
            taken.append(arn)
    return taken


def _holds(stack_id: str, pool: UserPoolArn, deadline: Deadline) -> bool:
    """Whether CloudFormation lists the pool among the stack's resources."""
    arguments = {"StackName": stack_id}
    while True:
        page = retries.call(
            "ListStackResources",
            lambda: aws.cloudformation().list_stack_resources(**arguments),
            deadline,
        )
        for resource in page.get("StackResourceSummaries", []):
            if (
                resource.get("ResourceType") == USER_POOL_TYPE
                and resource.get("PhysicalResourceId") == pool.pool_id
            ):
                return True
        if not page.get("NextToken"):
            return False
        arguments["NextToken"] = page["NextToken"]
