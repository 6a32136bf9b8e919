"""A tenant reaches only the pool it may speak for: its own stack's (as CloudFormation lists
the stack's resources), or one the platform shares (SharedUserPoolArns). Offboarding a tenant
ends its trust, whoever else names its pool."""

from __future__ import annotations

from typing import Any

import boto3
from conftest import World
from support import storage
from support.verification import scheduled_run

from authorizer_pools.registry.claims import claim_sk
from authorizer_pools.registry.table import CLAIMS_PARTITION, partition_key
from demo.shared_api import REGISTRY_TABLE
from demo.world import REGISTRATION, registrar_cloudformation
from localaws.cloudformation.records import RECORDS
from localaws.cloudformation.stacks import Exchange


def test_a_stack_cannot_register_another_tenants_pool(world: World) -> None:
    acme = world.tenant_pool("acme")
    world.create_tenant("tenant-acme", acme)  # acme's stack holds acme's pool
    token = world.sign_in(acme)

    evil = world.create_tenant("tenant-evil", acme)

    (create, rollback) = evil.exchanges
    assert evil.status == "ROLLBACK_COMPLETE"
    assert create.reason.startswith(f"UserPoolArn '{acme[:40]}")
    assert "is not a resource of this stack, nor in SharedUserPoolArns" in create.reason
    assert "tenant-acme" not in create.reason  # another tenant's stack is never named
    assert rollback.status == "SUCCESS"
    world.cloudformation.delete_stack("tenant-acme")  # acme offboarded
    assert world.owners() == {}
    assert world.answers(token) == world.everywhere(401)


def test_a_pool_no_stack_holds_is_refused_unless_shared(world: World) -> None:
    cloudformation = registrar_cloudformation(
        world.cloudformation.function,
        world.receiver,
        service_timeout=world.cloudformation.service_timeout,
        pool_property=None,  # pools made outside CloudFormation (the console, a script)
    )
    loose = world.tenant_pool("made-by-hand")

    refused = cloudformation.create_stack("tenant-a", {REGISTRATION: world.registration(loose)})
    assert refused.status == "ROLLBACK_COMPLETE"
    assert "is not a resource of this stack, nor in" in refused.exchanges[0].reason

    shared = world.shared_pool("pooled-tier")
    stacks = [
        cloudformation.create_stack(f"tenant-{n}", {REGISTRATION: world.registration(shared)})
        for n in range(3)
    ]
    assert [stack.status for stack in stacks] == ["CREATE_COMPLETE"] * 3
    assert len(world.owners()[shared]) == 3


def test_a_pool_replaced_within_its_stack_is_the_stacks_own(world: World) -> None:
    first, second = world.tenant_pool("acme-1"), world.tenant_pool("acme-2")
    world.create_tenant("tenant-acme", first)

    stack = world.cloudformation.update_stack(
        "tenant-acme", {REGISTRATION: world.registration(second)}
    )

    assert stack.status == "UPDATE_COMPLETE", stack.exchanges[-1].reason
    assert world.owners() == {second: [f"tenant-acme/{REGISTRATION}"]}
    assert world.live_everywhere(second)
    assert world.gone_everywhere(first)


def test_a_pool_whose_stack_left_is_not_taken_up_by_another_stack(world: World) -> None:
    """A pool outlives its stack when retained (``DeletionPolicy: Retain``); another stack may
    then import it and hold it as its own. Its users stay out: a pool once registered goes to
    another stack only from a stack that still registers it (a move: retained by the old stack,
    imported and registered by the new one before the old one goes)."""
    acme = world.tenant_pool("acme")
    token = world.sign_in(acme)
    world.create_tenant("tenant-acme", acme)
    world.cloudformation.delete_stack("tenant-acme")  # offboarded; the pool was retained

    evil = world.create_tenant("tenant-evil", acme)  # imported it: CloudFormation lists it

    assert evil.status == "ROLLBACK_COMPLETE"
    reason = evil.exchanges[0].reason
    assert reason.startswith(f"UserPoolArn '{acme[:40]}")
    assert "was registered by another stack, which no longer does" in reason
    assert "tenant-acme" not in reason
    assert world.owners() == {}
    assert world.answers(token) == world.everywhere(401)


def test_a_pool_moves_to_another_stack_while_its_stack_still_registers_it(
    world: World,
) -> None:
    acme = world.tenant_pool("acme")
    token = world.sign_in(acme)
    world.create_tenant("tenant-acme", acme)
    RECORDS.retain(acme.rsplit("/", 1)[-1])  # retained by the old stack...

    moved = world.create_tenant("tenant-acme-v2", acme)  # ...imported by the new one

    assert moved.status == "CREATE_COMPLETE", moved.exchanges[0].reason
    world.cloudformation.delete_stack("tenant-acme")
    assert world.owners() == {acme: [f"tenant-acme-v2/{REGISTRATION}"]}
    assert world.answers(token) == world.everywhere(200)


def claims_pk(world: World) -> str:
    return partition_key(world.api.rest_api_id, world.api.authorizer_id, CLAIMS_PARTITION)


def forget_the_claim(world: World, pool: str) -> None:
    """What a registry written before claims existed holds: the pool's owners, no claim, and
    no owner marked as written with its claim."""
    dynamodb = boto3.client("dynamodb")
    dynamodb.delete_item(
        TableName=REGISTRY_TABLE,
        Key={"pk": {"S": claims_pk(world)}, "sk": {"S": claim_sk(pool)}},
    )
    for record in world.registry().state().owners.get(pool, ()):
        dynamodb.update_item(
            TableName=REGISTRY_TABLE,
            Key=storage.key(
                world.api.rest_api_id,
                world.api.authorizer_id,
                storage.owner_item_sk(pool, record.owner.stack_id, record.owner.logical_id),
            ),
            UpdateExpression="REMOVE claimed",
        )


def test_a_scheduled_run_reads_no_claim_of_a_pool_registered_with_it(world: World) -> None:
    """Claims never expire, so a pass never reads them in bulk: a pool registered with its
    claim is not looked up again, however many tenants came and left."""
    world.create_tenant("tenant-stays", world.tenant_pool("stays"))
    for n in range(3):
        world.create_tenant(f"tenant-gone-{n}", world.tenant_pool(f"gone-{n}"))
        world.cloudformation.delete_stack(f"tenant-gone-{n}")
    reads_of_claims: list[str] = []
    world.aws.control_plane.observe(
        lambda info: (
            reads_of_claims.append(info.operation)
            if info.operation in ("Query", "GetItem", "BatchGetItem")
            and claims_pk(world).encode() in info.body
            else None
        )
    )

    scheduled_run(world)

    assert reads_of_claims == []


def test_a_pool_registered_before_claims_existed_is_not_taken_up_by_another_stack(
    world: World,
) -> None:
    """A registry from before claims has owners and no claim: the pool's stack is known from
    its owners, so a stack that imports the pool after its tenant left is refused too."""
    acme = world.tenant_pool("acme")
    token = world.sign_in(acme)
    world.create_tenant("tenant-acme", acme)
    forget_the_claim(world, acme)
    world.cloudformation.delete_stack("tenant-acme")

    evil = world.create_tenant("tenant-evil", acme)

    assert evil.status == "ROLLBACK_COMPLETE"
    assert "was registered by another stack, which no longer does" in evil.exchanges[0].reason
    assert world.owners() == {}
    assert world.answers(token) == world.everywhere(401)


def test_a_refused_move_leaves_the_pool_free_to_move_again(world: World) -> None:
    """A registration refused after its pool's authority was checked (here Cognito, for a
    moment, does not find the pool) changes nothing: the pool still belongs to the stack that
    registers it, and moves from there when the tenant tries again."""
    acme = world.tenant_pool("acme")
    token = world.sign_in(acme)
    world.create_tenant("tenant-acme", acme)
    RECORDS.retain(acme.rsplit("/", 1)[-1])

    world.aws.control_plane.inject(
        "DescribeUserPool",
        400,
        "ResourceNotFoundException",
        "User pool does not exist.",
        times=1,
        service="cognito-idp",
    )
    refused = world.create_tenant("tenant-acme-v2", acme)
    assert refused.status == "ROLLBACK_COMPLETE"
    RECORDS.retain(acme.rsplit("/", 1)[-1])  # the import rolled back: retained, as imports are
    moved = world.create_tenant("tenant-acme-v3", acme)
    assert moved.status == "CREATE_COMPLETE", moved.exchanges[0].reason
    world.cloudformation.delete_stack("tenant-acme")

    assert world.owners() == {acme: [f"tenant-acme-v3/{REGISTRATION}"]}
    assert world.answers(token) == world.everywhere(200)


def taken_by_ttl(world: World, sk: str) -> None:
    """What DynamoDB's TTL does to a tombstone (a day on) or a forgotten pool (a week on)."""
    boto3.client("dynamodb").delete_item(
        TableName=REGISTRY_TABLE,
        Key={
            "pk": {"S": partition_key(world.api.rest_api_id, world.api.authorizer_id)},
            "sk": {"S": sk},
        },
    )


def test_a_pool_registered_before_claims_existed_is_claimed_for_its_stack_for_good(
    world: World,
) -> None:
    """The scheduled run after an upgrade claims each live pool for its stack: once its owners'
    items have expired, its own stack may still take it up again and no other stack may."""
    acme, globex = world.tenant_pool("acme"), world.tenant_pool("globex")
    acme_stack = world.create_tenant("tenant-acme", acme)
    globex_stack = world.create_tenant("tenant-globex", globex)
    for pool in (acme, globex):
        forget_the_claim(world, pool)  # registered before claims existed
    scheduled_run(world)  # the first one after the upgrade

    # acme takes its registration out of its stack for a while (the pool stays in the stack)...
    assert world.cloudformation.update_stack("tenant-acme", {}).status == "UPDATE_COMPLETE"
    taken_by_ttl(world, storage.owner_item_sk(acme, acme_stack.stack_id, REGISTRATION))
    # ...and globex leaves; a week on, the registry has forgotten its pool.
    assert world.cloudformation.delete_stack("tenant-globex").status == "DELETE_COMPLETE"
    taken_by_ttl(world, storage.owner_item_sk(globex, globex_stack.stack_id, REGISTRATION))
    taken_by_ttl(world, storage.pool_sk(globex))

    back = world.cloudformation.update_stack(
        "tenant-acme", {REGISTRATION: world.registration(acme)}
    )
    evil = world.create_tenant("tenant-evil", globex)  # imported globex's retained pool

    assert back.status == "UPDATE_COMPLETE", [e.reason for e in back.exchanges]
    assert world.answers(world.sign_in(acme)) == world.everywhere(200)
    assert evil.status == "ROLLBACK_COMPLETE"
    assert "was registered by another stack, which no longer does" in evil.exchanges[0].reason
    assert world.answers(world.sign_in(globex)) == world.everywhere(401)


# -- a rollback goes back only to a pool its owner had
# While a stack rolls back, an Update naming a pool the owner never had live (anyone holding
# lambda:InvokeFunction on the ServiceToken can send one with the resource's current physical id)
# is checked like a new registration, and refused when the stack may not speak for the pool.


def test_a_rollback_never_registers_a_pool_the_owner_did_not_have_live(world: World) -> None:
    cfn = registrar_cloudformation(
        world.cloudformation.function,
        world.receiver,
        service_timeout=world.cloudformation.service_timeout,
    )
    # A pool made outside CloudFormation (an internal app's, with self sign-up): no stack holds
    # it and it is not in SharedUserPoolArns.
    loose = world.tenant_pool("internal-app")
    evil_pool = world.tenant_pool("evil")
    evil = cfn.create_stack("tenant-evil", {REGISTRATION: world.registration(evil_pool)})
    assert evil.status == "CREATE_COMPLETE"
    token = world.sign_in(loose)
    assert world.answers(token) == world.everywhere(401)

    forged: list[Any] = []

    def on_exchange(exchange: Exchange) -> None:
        # CloudFormation's own rollback Update was answered; the stack is still rolling back and
        # the failed update touched the registration, so an Update is expected of it.
        rolling_back = evil.status == "UPDATE_ROLLBACK_IN_PROGRESS"
        if exchange.request_type == "Update" and rolling_back and not forged:
            event = cfn.build_event(
                "Update",
                evil,
                REGISTRATION,
                world.registration(loose),
                physical_id=evil.resources[REGISTRATION].physical_id,
                old_properties=world.registration(evil_pool),
            )
            forged.append(cfn.function.deliver(event))

    cfn.on_exchange = on_exchange
    # The tenant's update touches the registration, then fails elsewhere.
    stack = cfn.update_stack(
        "tenant-evil",
        {REGISTRATION: world.registration(evil_pool, StageNames=["dev"])},
        fail_after_resources=True,
    )
    cfn.on_exchange = None
    assert stack.status == "UPDATE_ROLLBACK_COMPLETE"
    assert len(forged) == 1
    assert loose not in world.owners()
    assert world.answers(token) == world.everywhere(401)

    cfn.delete_stack("tenant-evil")
    assert loose not in world.owners()
    assert world.answers(token) == world.everywhere(401)
