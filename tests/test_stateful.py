"""Random sequences of CloudFormation operations, against the real handler on the local AWS, keep
the ownership invariant after every step.

A hypothesis state machine plays tenant stacks (three stack names, two logical ids, three tenant
pools and the operators' pool, so that several registrations share a pool, as on the pooled
tier): it creates stacks with one or two registrations, updates them (a registration moves to
another pool: a replacement and its cleanup Delete; StageNames alone changes: the physical id
stays; a logical id is renamed: Create of the new one, Delete of the old), each update possibly
failing after the resources so that CloudFormation rolls it back, deletes stacks, and replays
events already answered. Its model is what CloudFormation tracks: the registrations of the live
stacks. After every step it checks what a user would:

- providerARNs lists the operators' pool and every pool with a live registration, each once;
- the registry's owners are exactly the live registrations (stack/logical id), per pool;
- every stage serves exactly providerARNs.

Behind the registry's back, as on a real account: pools removed from the authorizer or added
to it (the console, a script, the shared API's own stack), a stage pointed at an old deployment
(someone in the console, or a worker's late call landing after its lease expired). Then the
next pass, whoever makes it (any CloudFormation request, or the scheduled run), must have
repaired everything: until then only the registry is checked. An unmanaged pool removed is gone
for good; one added stays (unmanaged) until a registration names it. Time passes too: DynamoDB's
TTL deletes the tombstones, and no owner with them.

Every answer must be SUCCESS with the physical id the model expects (the pool's deterministic id;
a StageNames-only update keeps it), and every operation must end in the stack status
CloudFormation would reach: a FAILED answer to valid input is a bug.

Replays. Lambda retries CloudFormation's asynchronous invocations, so an event already answered can
arrive again, after any other operations: after its stack was deleted, after its own stack update
rolled back, after the registration moved to another pool and back. CloudFormation has moved on (it
listens only for the first answer), so a replay must change nothing the user sees: the model does
not change, the replay must be answered SUCCESS with the same physical id, and the invariant must
still hold. The machine replays any event sent so far, whenever; and, so that the hard cases are
not left to chance, it also has a rule that replays only superseded events: a Create or Update
whose registration CloudFormation has since deleted, or a Delete of a registration CloudFormation
has since made again. Such a replay names the same owner (stack id, logical id, pool) as the later,
opposite request, so only the request id can tell them apart: before the function remembered the
request ids that acted on each owner, such replays brought a deleted stack's owner back (its pool
trusted for good) and took a live owner away (a cleanup Delete retried after the registration moved
back to its pool: the tenant locked out). Time does not pass here: replays later than the registry
keeps tombstones (a week; Lambda retries for six hours at most) are not played: after the
time-passes rule, no event sent before it is.

The examples are derandomized: every run plays the same sequences.
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

import pytest
from conftest import fresh_world
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from demo.shared_api import REGISTRY_TABLE
from localaws.cloudformation.response_receiver import ResponseReceiver
from localaws.cloudformation.stacks import Exchange, InProcessFunction, LocalCloudFormation, Stack
from localaws.dynamodb import model as dynamodb_model
from localaws.server import LocalAws

STACK_NAMES = ("tenant-a", "tenant-b", "tenant-c")
LOGICAL_IDS = ("TenantPoolRegistration", "PoolRegistration")
TENANT_POOLS = ("pool-0", "pool-1", "pool-2")
OPERATORS = "operators"
POOLS = (*TENANT_POOLS, OPERATORS)
# How many ways of writing the same StageNames the machine uses (see `stage_forms`).
STAGE_FORMS = 4
# What template.yaml's schedule sends.
SCHEDULED_EVENT = {"source": "aws.events", "detail-type": "Scheduled Event", "detail": {}}

SETTINGS = settings(
    max_examples=12,
    stateful_step_count=15,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)


@dataclass(frozen=True)
class Declared:
    """One registration as a tenant template declares it: a pool, and a way of naming every
    stage (all forms name the same stages, so every stage must serve every change)."""

    pool: str
    stage_form: int


def about(exchange: Exchange) -> str:
    """The registration an event is about: the one it deletes, or the one it made."""
    if exchange.request_type == "Delete":
        return str(exchange.event["PhysicalResourceId"])
    return exchange.physical_id


@dataclass(frozen=True)
class Sent:
    """An event CloudFormation sent (not a replay), the stack it was for, and its answer."""

    number: int
    exchange: Exchange
    stack: Stack
    pool: str  # the model's name of the pool the event is about

    @property
    def resource(self) -> tuple[str, str]:
        return self.stack.stack_id, self.exchange.logical_id

    @property
    def deletes(self) -> bool:
        return self.exchange.request_type == "Delete"

    @property
    def physical_id(self) -> str:
        return about(self.exchange)

    def describe(self) -> str:
        """How a drawn replay shows in hypothesis' output: the event's number among those sent,
        what it asked and for which pool."""
        return (
            f"<event #{self.number}: {self.exchange.request_type} "
            f"{self.stack.name}/{self.exchange.logical_id} of {self.pool}>"
        )


class TenantStacks(RuleBasedStateMachine):
    def __init__(self, aws: LocalAws, receiver: ResponseReceiver, handler: Any) -> None:
        super().__init__()
        # A clean world per example, made as the `world` fixture makes it.
        self.world = fresh_world(aws, receiver, handler)
        # A registrar deployed without ProtectedUserPoolArns: tenants may register the
        # operators' pool too, which makes it managed (the sequences explore exactly that).
        os.environ["PROTECTED_USER_POOL_ARNS"] = ""
        api = self.world.api
        # Tenant pools are made when first named (each takes moto a while).
        self.pools = {OPERATORS: api.operators_pool_arn}
        names = list(api.stage_names)
        self.stage_forms: tuple[Any, ...] = (
            names,
            names[::-1],
            ",".join(names),
            ", ".join(names[::-1]),
        )
        assert len(self.stage_forms) == STAGE_FORMS
        # The model: each live stack's registrations, in template order.
        self.stacks: dict[str, dict[str, Declared]] = {}
        self.history: list[Sent] = []
        # Pools a registration ever named (managed: on the authorizer exactly when owned), and
        # pools listed that none ever named (unmanaged: never removed).
        self.managed: set[str] = set()
        self.unmanaged: set[str] = {OPERATORS}
        # Someone changed the authorizer or a stage behind the registry's back; the next pass
        # (any CloudFormation request, or the scheduled run) repairs it.
        self.drifted = False
        # Events sent before this index are older than the tombstones DynamoDB's TTL removed:
        # Lambda retries for six hours at most, so they are never replayed.
        self.replayable_from = 0

    def teardown(self) -> None:
        self.world.aws.control_plane.clear()

    # -- helpers --------------------------------------------------------------------------

    @property
    def cloudformation(self) -> LocalCloudFormation:
        return self.world.cloudformation

    def pool_arn(self, pool: str) -> str:
        if pool not in self.pools:
            self.pools[pool] = self.world.shared_pool(pool)  # several stacks name each one
        return self.pools[pool]

    def properties(self, declared: Declared) -> dict[str, Any]:
        self.managed.add(declared.pool)
        self.unmanaged.discard(declared.pool)
        return self.world.registration(
            self.pool_arn(declared.pool), StageNames=self.stage_forms[declared.stage_form]
        )

    def template(self, registrations: Mapping[str, Declared]) -> dict[str, dict[str, Any]]:
        return {logical_id: self.properties(d) for logical_id, d in registrations.items()}

    def physical_id(self, declared: Declared) -> str:
        api = self.world.api
        return f"{api.rest_api_id}:{api.authorizer_id}:{self.pool_arn(declared.pool)}"

    def check(self, stack: Stack, first: int, status: str, request_types: list[str]) -> None:
        """The operation's exchanges (from index ``first``) all answered SUCCESS once, in the
        order CloudFormation sends them, and the stack ended in ``status`` holding the physical
        ids the model expects."""
        exchanges = stack.exchanges[first:]
        self.drifted = False  # every request's pass converges everything
        for exchange in exchanges:
            pool = next(n for n, arn in self.pools.items() if about(exchange).endswith(f":{arn}"))
            self.history.append(Sent(len(self.history), exchange, stack, pool))
            assert exchange.succeeded, (
                f"{exchange.request_type} of {stack.name}/{exchange.logical_id} answered "
                f"{exchange.status}: {exchange.reason}\n{exchange.logs[-6000:]}"
            )
            assert exchange.answers == 1, f"{exchange.answers} answers to one delivery"
            if exchange.request_type != "Delete":
                pool = exchange.event["ResourceProperties"]["UserPoolArn"]
                assert exchange.data == {
                    "UserPoolArn": pool,
                    "RestApiId": self.world.api.rest_api_id,
                    "AuthorizerId": self.world.api.authorizer_id,
                }
        assert [e.request_type for e in exchanges] == request_types
        assert stack.status == status
        expected = {
            logical_id: self.physical_id(declared)
            for logical_id, declared in self.stacks.get(stack.name, {}).items()
        }
        actual = {logical_id: state.physical_id for logical_id, state in stack.resources.items()}
        assert actual == expected, "CloudFormation records other physical ids"

    def update(
        self, name: str, registrations: dict[str, Declared], *, fail: bool, request_types: list[str]
    ) -> None:
        """Update the stack to ``registrations``; a failing update must change nothing."""
        stack = self.cloudformation.stacks[name]
        first = len(stack.exchanges)
        self.cloudformation.update_stack(
            name, self.template(registrations), fail_after_resources=fail
        )
        if not fail:
            self.stacks[name] = registrations
        self.check(
            stack, first, "UPDATE_ROLLBACK_COMPLETE" if fail else "UPDATE_COMPLETE", request_types
        )

    def registrations(self) -> list[tuple[str, str]]:
        return [(name, lid) for name, declared in sorted(self.stacks.items()) for lid in declared]

    def superseded(self) -> list[Sent]:
        """Past events a later, opposite event about the same (stack id, logical id, physical
        id) overtook: the registration a Create or Update made was deleted since, or the one a
        Delete deleted was made again. Replaying one repeats a request the function can tell from
        the later one only by its request id."""
        found = []
        for index, sent in enumerate(self.history):
            if index < self.replayable_from:
                continue
            last = sent
            for later in self.history[index + 1 :]:
                if later.resource == sent.resource and later.physical_id == sent.physical_id:
                    last = later
            if last.deletes != sent.deletes:
                found.append(sent)
        return found

    def replay(self, data: st.DataObject, candidates: list[Sent]) -> None:
        """Deliver a past event again, as Lambda's retry does, after CloudFormation had its
        answer: known for what it is, nothing sent; the invariant (checked next) shows it
        changed nothing."""
        described = {sent.describe(): sent for sent in candidates}
        sent = described[data.draw(st.sampled_from(list(described)))]
        request_id = str(sent.exchange.event["RequestId"])
        answered = len(self.world.receiver.answers(request_id))
        replayed = self.cloudformation.function.deliver(dict(sent.exchange.event))
        assert replayed.ok, replayed.error
        assert len(self.world.receiver.answers(request_id)) == answered, "the replay answered"
        assert '"answered-before"' in replayed.logs, replayed.logs[-6000:]

    # -- rules ----------------------------------------------------------------------------

    @precondition(lambda self: len(self.stacks) < len(STACK_NAMES))
    @rule(data=st.data())
    def create_stack(self, data: st.DataObject) -> None:
        name = data.draw(st.sampled_from([n for n in STACK_NAMES if n not in self.stacks]))
        logical_ids = data.draw(
            st.lists(st.sampled_from(LOGICAL_IDS), min_size=1, max_size=2, unique=True)
        )
        registrations = {
            logical_id: Declared(
                data.draw(st.sampled_from(POOLS)), data.draw(st.integers(0, STAGE_FORMS - 1))
            )
            for logical_id in logical_ids
        }
        self.stacks[name] = registrations
        stack = self.cloudformation.create_stack(name, self.template(registrations))
        self.check(stack, 0, "CREATE_COMPLETE", ["Create"] * len(registrations))

    @precondition(lambda self: bool(self.stacks))
    @rule(data=st.data(), fail=st.booleans())
    def move_to_another_pool(self, data: st.DataObject, fail: bool) -> None:
        name, logical_id = data.draw(st.sampled_from(self.registrations()))
        before = self.stacks[name][logical_id]
        pool = data.draw(st.sampled_from([p for p in POOLS if p != before.pool]))
        registrations = dict(self.stacks[name])
        registrations[logical_id] = Declared(pool, before.stage_form)
        # A replacement: Update to the new pool, then the cleanup Delete of the old one; rolled
        # back: Update back to the old pool, then Delete of the new one.
        expected = ["Update", "Update", "Delete"] if fail else ["Update", "Delete"]
        self.update(name, registrations, fail=fail, request_types=expected)

    @precondition(lambda self: bool(self.stacks))
    @rule(data=st.data(), fail=st.booleans())
    def change_stage_names(self, data: st.DataObject, fail: bool) -> None:
        name, logical_id = data.draw(st.sampled_from(self.registrations()))
        before = self.stacks[name][logical_id]
        form = data.draw(st.sampled_from([f for f in range(STAGE_FORMS) if f != before.stage_form]))
        registrations = dict(self.stacks[name])
        registrations[logical_id] = Declared(before.pool, form)
        # The same physical id (checked against the model): no cleanup Delete.
        expected = ["Update", "Update"] if fail else ["Update"]
        self.update(name, registrations, fail=fail, request_types=expected)

    @precondition(lambda self: any(len(r) < len(LOGICAL_IDS) for r in self.stacks.values()))
    @rule(data=st.data(), fail=st.booleans())
    def rename_logical_id(self, data: st.DataObject, fail: bool) -> None:
        name = data.draw(
            st.sampled_from(sorted(n for n, r in self.stacks.items() if len(r) < len(LOGICAL_IDS)))
        )
        ((old, declared),) = self.stacks[name].items()
        (new,) = [logical_id for logical_id in LOGICAL_IDS if logical_id != old]
        # Create of the new logical id, then the cleanup Delete of the old one; rolled back:
        # Delete of the new one.
        self.update(name, {new: declared}, fail=fail, request_types=["Create", "Delete"])

    @precondition(lambda self: bool(self.stacks))
    @rule(data=st.data())
    def delete_stack(self, data: st.DataObject) -> None:
        name = data.draw(st.sampled_from(sorted(self.stacks)))
        count = len(self.stacks.pop(name))
        stack = self.cloudformation.stacks[name]
        first = len(stack.exchanges)
        self.cloudformation.delete_stack(name)
        self.check(stack, first, "DELETE_COMPLETE", ["Delete"] * count)

    @precondition(lambda self: len(self.history) > self.replayable_from)
    @rule(data=st.data())
    def replay_any_event(self, data: st.DataObject) -> None:
        self.replay(data, self.history[self.replayable_from :])

    @precondition(lambda self: bool(self.superseded()))
    @rule(data=st.data())
    def replay_a_superseded_event(self, data: st.DataObject) -> None:
        self.replay(data, self.superseded())

    # -- what happens behind the registry's back --------------------------------------------

    def patch(self, op: Literal["add", "remove"], arn: str) -> None:
        self.world.apigateway().update_authorizer(
            restApiId=self.world.api.rest_api_id,
            authorizerId=self.world.api.authorizer_id,
            patchOperations=[{"op": op, "path": "/providerARNs", "value": arn}],
        )

    @precondition(lambda self: len(self.world.provider_arns()) > 1)
    @rule(data=st.data())
    def remove_pools_behind_the_registrys_back(self, data: st.DataObject) -> None:
        listed = self.world.provider_arns()
        for arn in data.draw(st.lists(st.sampled_from(listed), min_size=1, unique=True))[
            : len(listed) - 1
        ]:
            self.patch("remove", arn)
            name = next(n for n, a in self.pools.items() if a == arn)
            self.unmanaged.discard(name)  # an unmanaged pool removed is gone for good
        self.drifted = True

    @rule(pool=st.sampled_from(POOLS))
    def add_a_pool_behind_the_registrys_back(self, pool: str) -> None:
        arn = self.pool_arn(pool)
        if arn in self.world.provider_arns():
            return
        self.patch("add", arn)
        if pool not in self.managed:
            self.unmanaged.add(pool)  # listed, and never named by a registration
        self.drifted = True

    @rule(data=st.data(), stage=st.sampled_from(["dev", "prod"]))
    def point_a_stage_at_an_old_deployment(self, data: st.DataObject, stage: str) -> None:
        """What a worker's late call does, landing after its lease expired (or the console)."""
        deployments = [d["id"] for d in self.world.deployments()]
        self.world.apigateway().update_stage(
            restApiId=self.world.api.rest_api_id,
            stageName=stage,
            patchOperations=[
                {
                    "op": "replace",
                    "path": "/deploymentId",
                    "value": data.draw(st.sampled_from(deployments)),
                }
            ],
        )
        self.drifted = True

    @rule()
    def time_passes(self) -> None:
        """A week and a day: DynamoDB's TTL process deletes every tombstone."""
        dynamodb_model.expire_items(REGISTRY_TABLE, time.time() + 8 * 24 * 3600)
        self.replayable_from = len(self.history)

    @rule()
    def the_scheduled_run(self) -> None:
        function = self.cloudformation.function
        assert isinstance(function, InProcessFunction)
        result = function.deliver(SCHEDULED_EVENT, qualifier="repair")
        assert result.ok, result.error
        self.drifted = False

    # -- what the user sees ---------------------------------------------------------------

    @invariant()
    def authorizer_registry_and_stages_match_the_live_registrations(self) -> None:
        owners: dict[str, list[str]] = {}
        for name, registrations in self.stacks.items():
            for logical_id, declared in registrations.items():
                owners.setdefault(self.pools[declared.pool], []).append(f"{name}/{logical_id}")
        assert self.world.owners() == {arn: sorted(o) for arn, o in owners.items()}, (
            "the registry's owners are not the live registrations"
        )
        if self.drifted:
            return  # until the next pass
        listed = sorted(self.world.provider_arns())
        expected = sorted({*owners, *(self.pools[name] for name in self.unmanaged)})
        if expected:
            assert listed == expected, "the authorizer lists other pools"
        else:
            # API Gateway refuses an empty list: one managed pool with no owner is kept.
            (kept,) = listed
            assert kept in {self.pools[name] for name in self.managed}
            expected = listed
        for stage in self.world.api.stage_names:
            served = sorted(self.world.served(stage) or ())
            assert served == expected, f"stage {stage} serves other pools"


@pytest.mark.usefixtures("aws_environment")
def test_random_stack_operations_keep_the_invariant(
    local_aws: LocalAws, receiver: ResponseReceiver, handler: Any
) -> None:
    class OnTheSessionsLocalAws(TenantStacks):
        def __init__(self) -> None:
            super().__init__(local_aws, receiver, handler)

    run_state_machine_as_test(OnTheSessionsLocalAws, settings=SETTINGS)
