"""The ownership registry, in DynamoDB: one partition per authorizer, one module per concern.

- ``owners``: who registered which pool (live owners and tombstones), and which pools are
  managed;
- ``lease``: the worker's lease and the authorizer's status that waiters read;
- ``ledger``: what the worker last did to each pool and saw on each stage;
- ``checks``: validation's shared cache;
- ``requests``: each CloudFormation request across its invocations (in a partition of its own);
- ``claims``: the stack each registered pool belongs to (in a partition of its own);
- ``state``: the whole partition, read at once; ``table`` and ``codec``: the plumbing.

``docs/ownership.md`` gives the protocol and why it holds.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from ..aws_errors import is_condition_failure
from ..errors import ResourceError
from ..plan import PoolStacks
from .checks import Check, Checks
from .claims import Claims
from .lease import Lease, Status
from .ledger import Ledger, PoolFact, StageFact
from .owners import Owner, Owners
from .requests import RequestRecord, Requests
from .state import OwnerRecord, PoolRecord, RegistryState, StageRecord, Tombstone, read_state
from .table import CLAIMS_PARTITION, REQUESTS_PARTITION, Bound, Partition

# Attempts at recording a FAILED answer while another invocation of the same request changes
# its owner: each needs that invocation to have written in between.
_DECISIONS = 3


class Registry:
    """One authorizer's registry, its calls bounded by one deadline (or by what a function of
    no argument tells at each call: a worker's lease)."""

    def __init__(self, table: str, rest_api_id: str, authorizer_id: str, deadline: Bound):
        self.partition = Partition(table, rest_api_id, authorizer_id, deadline)
        self.owners = Owners(self.partition)
        self.lease = Lease(self.partition)
        self.ledger = Ledger(self.partition)
        self.checks = Checks(self.partition)
        self.requests = Requests(
            Partition(table, rest_api_id, authorizer_id, deadline, kind=REQUESTS_PARTITION)
        )
        self.claims = Claims(
            Partition(table, rest_api_id, authorizer_id, deadline, kind=CLAIMS_PARTITION)
        )

    @property
    def rest_api_id(self) -> str:
        return self.partition.rest_api_id

    @property
    def authorizer_id(self) -> str:
        return self.partition.authorizer_id

    @property
    def table(self) -> str:
        return self.partition.table

    def bound_by(self, deadline: Bound) -> Registry:
        """The same registry, its calls bounded by ``deadline``."""
        return Registry(self.table, self.rest_api_id, self.authorizer_id, deadline)

    def state(self) -> RegistryState:
        return read_state(self.partition)

    def removal_requested(self, tombstones: Iterable[Tombstone]) -> bool:
        """Whether one of these gone owners was ended by a request the function recorded for
        that very owner: only the function writes the requests' partition (OperatorPolicy
        reaches the authorizer's partition only), so a tombstone written by hand does not
        pass for a deletion."""
        for tombstone in tombstones:
            record = self.requests.get(tombstone.request_id) if tombstone.request_id else None
            if record is not None and tombstone.ended_by(record):
                return True
        return False

    def pool_stacks(self, arn: str) -> PoolStacks:
        """Who registered the pool, as the registry holds it (``plan.claim_refusal``)."""
        live, ever = self.owners.stacks(arn)
        return PoolStacks(
            holder=self.claims.holder(arn),
            live=live,
            ever=ever,
            managed=self.ledger.pool(arn) is not None,
        )

    def register(
        self, arn: str, owner: Owner, request_id: str, *, claim_from: PoolStacks | None = None
    ) -> bool:
        """Make ``owner`` a live owner of the pool for ``request_id``, unless that request was
        answered already: an owner is never made live by a request whose (FAILED) answer is
        recorded, whichever invocation of it comes late. False when nothing changed.

        With ``claim_from`` (what ``pool_stacks`` read), the owner's stack takes the pool's claim
        in the same write, on condition that the claim has not moved since: a registration that
        fails before its owner is live leaves the claim where it was."""
        checks = [self.requests.unanswered(request_id)]
        if claim_from is not None and claim_from.holder != owner.stack_id:
            checks.append(
                self.claims.take_action(arn, owner.stack_id, from_stack=claim_from.holder)
            )
        # With ``claim_from``, the pool's claim is this stack's once written: taken in this
        # transaction, or held already (a claim is never deleted).
        cancelled = self.owners.add(
            arn, owner, request_id, checks=checks, claimed=claim_from is not None
        )
        if cancelled is None:
            return True
        # The owner's write would have gone through; only the claim's condition failed.
        if len(checks) > 1 and cancelled[0] == "None" and cancelled[-1] != "None":
            raise ResourceError(
                "the pool's claim moved to another stack while this registration was made; "
                "nothing changed: retry"
            )
        return False

    def deregister(self, arn: str, owner: Owner, request_id: str) -> bool:
        """Make ``owner`` a tombstone for ``request_id``, unless that request was answered
        already (a late Lambda retry of a Delete answered long ago changes nothing, whatever
        happened since). False when nothing changed."""
        return self.owners.remove(
            arn, owner, request_id, checks=[self.requests.unanswered(request_id)]
        )

    def decide(
        self,
        request_id: str,
        answer: Mapping[str, Any],
        *,
        take_back: tuple[str, Owner] | None = None,
    ) -> Decision:
        """Record ``answer`` as the request's, unless one was recorded before; a FAILED answer
        takes back ``take_back`` (a pool and its owner) in the same transaction when this
        request is the one that made that owner live, and otherwise is recorded on condition
        that it still is not (``register`` checks the other way round, so the two can never
        cross). The answer to send: this one, or the one recorded before."""
        if take_back is None:
            if self.requests.record_answer(request_id, answer):
                return Decision(answer, recorded=True)
            return self._recorded_before(request_id, answer)
        arn, owner = take_back
        record = self.requests.answer_action(request_id, answer)
        for _ in range(_DECISIONS):
            for taking_back in (True, False):
                other = (
                    self.owners.take_back_action(arn, owner, request_id)
                    if taking_back
                    else self.owners.not_made_live_by(arn, owner, request_id)
                )
                codes = self.partition.transact([record, other])
                if codes is None:
                    return Decision(answer, recorded=True, taken_back=taking_back)
                if is_condition_failure(codes[0]):
                    return self._recorded_before(request_id, answer)
        raise ResourceError("the request's owner kept changing while its answer was recorded")

    def _recorded_before(self, request_id: str, answer: Mapping[str, Any]) -> Decision:
        recorded = self.requests.recorded_answer(request_id)
        return Decision(recorded if recorded is not None else answer, recorded=False)


@dataclass(frozen=True)
class Decision:
    """The answer to send for a request, and what deciding it did."""

    answer: Mapping[str, Any]
    # This invocation's answer was the first recorded (else an earlier one is sent).
    recorded: bool
    # The request's owner was taken back with it (a FAILED answer only).
    taken_back: bool = False


__all__ = [
    "Check",
    "Decision",
    "Owner",
    "OwnerRecord",
    "PoolFact",
    "PoolRecord",
    "Registry",
    "RegistryState",
    "RequestRecord",
    "StageFact",
    "StageRecord",
    "Status",
    "Tombstone",
]
