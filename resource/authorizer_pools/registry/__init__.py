"""The ownership registry, in DynamoDB: one partition per authorizer, one module per concern.

- ``owners``: who registered which pool (live owners and tombstones), and which pools are
  managed;
- ``lease``: the worker's lease and the authorizer's status that waiters read;
- ``ledger``: what the worker last did to each pool and saw on each stage;
- ``checks``: validation's shared cache;
- ``requests``: each CloudFormation request across its invocations (in a partition of its own);
- ``state``: the whole partition, read at once; ``table`` and ``codec``: the plumbing.

``docs/ownership.md`` gives the protocol and why it holds.
"""

from __future__ import annotations

from ..timing import Deadline
from .checks import Check, Checks
from .lease import Lease, Status
from .ledger import Ledger, PoolFact, StageFact
from .owners import Owner, Owners
from .requests import RequestRecord, Requests
from .state import OwnerRecord, PoolRecord, RegistryState, StageRecord, read_state
from .table import REQUESTS_PARTITION, Partition


class Registry:
    """One authorizer's registry, its calls bounded by one deadline."""

    def __init__(self, table: str, rest_api_id: str, authorizer_id: str, deadline: Deadline):
        self.partition = Partition(table, rest_api_id, authorizer_id, deadline)
        self.owners = Owners(self.partition)
        self.lease = Lease(self.partition)
        self.ledger = Ledger(self.partition)
        self.checks = Checks(self.partition)
        self.requests = Requests(
            Partition(table, rest_api_id, authorizer_id, deadline, kind=REQUESTS_PARTITION)
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

    def within(self, deadline: Deadline) -> Registry:
        """The same registry, its calls bounded by ``deadline`` (a worker's lease)."""
        return Registry(self.table, self.rest_api_id, self.authorizer_id, deadline)

    def state(self) -> RegistryState:
        return read_state(self.partition)


__all__ = [
    "Check",
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
]
