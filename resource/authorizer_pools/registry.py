"""The ownership registry: who registered which pool on which authorizer, in DynamoDB.

One partition per authorizer (``pk = authorizer#<api>#<authorizer>``) holds:

- ``owner#<pool arn>#<stack id>#<logical id>``: one registration of a pool (its owner), with
  when and by which request it was made, whether it is ``live``, and every request that handled
  it (``handled``), so that a replay of any of them changes nothing; a gone owner's item stays
  as a tombstone until DynamoDB's TTL removes it (``expires_at``);
- ``pool#<pool arn>``: the pool's state: ``owners`` (how many owner items), ``version`` (bumped by
  every owner change), ``applied`` (the version the authorizer was last made to match),
  ``origin`` (``added``: a registration put it on the authorizer; ``found``: it was there
  already, so it is never removed), ``changed_seq`` (the authorizer change that last touched
  it), ``changing`` (the worker is changing it, or stopped while it did), ``last_change`` and,
  when API Gateway refused to add it, ``refused`` and ``refused_version``;
- ``authorizer``: ``seq``, a counter of the authorizer changes made through the registry, and
  the worker's lease (``worker``, ``worker_until``): one request at a time changes the authorizer
  and publishes, for everyone;
- ``stage#<name>``: ``published_seq``, the counter's value read before the stage's latest
  deployment made through the registry began: that deployment serves every change up to it.

Owner changes are transactions (the owner item and the pool's counters together, conditioned on
the owner item's existence), so replays change nothing. ``docs/ownership.md`` gives the protocol.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, TypeVar, overload

from botocore.exceptions import ClientError

from . import aws, retries
from .timing import Deadline

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.type_defs import AttributeValueTypeDef

T = TypeVar("T")
Item = Mapping[str, "AttributeValueTypeDef"]

ADDED = "added"
FOUND = "found"


@dataclass(frozen=True, order=True)
class Owner:
    """A registration's owner: the resource in its stack (both survive every update)."""

    stack_id: str
    logical_id: str

    @property
    def stack_name(self) -> str:
        parts = self.stack_id.split("/")
        return parts[1] if len(parts) >= 3 else self.stack_id

    def __str__(self) -> str:
        return f"{self.stack_name}/{self.logical_id}"


@dataclass(frozen=True)
class PoolRecord:
    arn: str
    owners: int = 0
    version: int = 0
    applied: int = 0
    origin: str | None = None
    changed_seq: int = 0
    # Set before the worker changes the pool on the authorizer, cleared when it settles it: a
    # pool left marked was changed, or maybe changed, by a worker that did not finish.
    changing: bool = False
    # What the authorizer last did about the pool (a plan.Change value), for the logs.
    last_change: str | None = None
    # API Gateway refused to add the pool, at this version of its owners, with this message.
    refused: str | None = None
    refused_version: int = 0

    @property
    def wanted(self) -> bool:
        """Whether the pool belongs on the authorizer: someone owns it, or it was found there."""
        return self.owners > 0 or self.origin == FOUND

    @classmethod
    def from_item(cls, arn: str, item: Item | None) -> PoolRecord:
        if not item:
            return cls(arn)
        return cls(
            arn=arn,
            owners=_int(item, "owners"),
            version=_int(item, "version"),
            applied=_int(item, "applied"),
            origin=_str(item, "origin"),
            changed_seq=_int(item, "changed_seq"),
            changing=bool(item.get("changing", {}).get("BOOL", False)),
            last_change=_str(item, "last_change"),
            refused=_str(item, "refused"),
            refused_version=_int(item, "refused_version"),
        )


@dataclass(frozen=True)
class Settlement:
    """What the worker records for a pool once the authorizer matches ``version`` of it."""

    arn: str
    version: int
    origin: str | None
    last_change: str
    changed_seq: int | None = None
    refused: str | None = None


@dataclass(frozen=True)
class Look:
    """What a waiting request sees in one read."""

    pool: PoolRecord | None
    worker_until: float  # when the worker's lease ends (0: no worker)
    published: dict[str, int]  # stage -> published_seq, for the stages the registry knows


@dataclass(frozen=True)
class Check:
    """The last look at the authorizer and the stages (validation reuses it briefly): what was
    found, or the reason the API or the authorizer was refused."""

    at: float
    authorizer_type: str
    stage_names: tuple[str, ...]
    problem: str | None = None
    # Another request is making this check until then (0: nobody).
    checking_until: float = 0.0


@dataclass(frozen=True)
class OwnerRecord:
    arn: str
    owner: Owner
    request_id: str
    registered_at: str


@dataclass(frozen=True)
class StageRecord:
    stage_name: str
    published_seq: int
    deployment_id: str | None


@dataclass(frozen=True)
class Snapshot:
    """Everything the registry holds for one authorizer."""

    pools: dict[str, PoolRecord]
    owners: dict[str, list[OwnerRecord]]
    seq: int
    stages: dict[str, StageRecord]
    # When the current worker's lease ends (0: there is no worker).
    worker_until: float = 0.0


class Registry:
    """The registry of one authorizer, read and written within a deadline."""

    def __init__(
        self, table: str, rest_api_id: str, authorizer_id: str, deadline: Deadline
    ) -> None:
        self.table = table
        self.rest_api_id = rest_api_id
        self.authorizer_id = authorizer_id
        self.pk = f"authorizer#{rest_api_id}#{authorizer_id}"
        self.deadline = deadline

    # -- owners -------------------------------------------------------------------------

    def add_owner(self, arn: str, owner: Owner, request_id: str) -> bool:
        """Record ``owner`` as a live owner of the pool. False when nothing changed: it is live
        already, or ``request_id`` was handled before (a replay: Lambda retries asynchronous
        invocations, even after later requests changed the owner)."""
        values: dict[str, AttributeValueTypeDef] = {
            ":true": {"BOOL": True},
            ":false": {"BOOL": False},
            ":arn": {"S": arn},
            ":stack": {"S": owner.stack_id},
            ":logical": {"S": owner.logical_id},
            ":request": {"S": request_id},
            ":requests": {"SS": [request_id]},
            ":at": {"S": datetime.now(UTC).isoformat(timespec="seconds")},
        }
        changed = self._change_owners(
            arn,
            {
                "Update": {
                    "TableName": self.table,
                    "Key": self._key(_owner_sk(arn, owner)),
                    "UpdateExpression": "SET live = :true, arn = :arn, stack_id = :stack, "
                    "logical_id = :logical, request_id = :request, registered_at = :at "
                    "REMOVE expires_at ADD handled :requests",
                    "ConditionExpression": "(attribute_not_exists(live) OR live = :false) "
                    "AND NOT contains(handled, :request)",
                    "ExpressionAttributeValues": values,
                }
            },
            delta=1,
        )
        if not changed:
            self._remember(arn, owner, request_id)
        return changed

    def remove_owner(self, arn: str, owner: Owner, request_id: str) -> bool:
        """Record that ``owner`` is gone. Its item stays, dead, as a tombstone for
        ``TOMBSTONE_SECONDS``, so a replay of a request it handled is recognised. False when
        nothing changed: it was not live, or ``request_id`` was handled before."""
        changed = self._change_owners(
            arn,
            {
                "Update": {
                    "TableName": self.table,
                    "Key": self._key(_owner_sk(arn, owner)),
                    "UpdateExpression": "SET live = :false, deleted_by = :request, "
                    "expires_at = :expires ADD handled :requests",
                    "ConditionExpression": "live = :true AND NOT contains(handled, :request)",
                    "ExpressionAttributeValues": {
                        ":true": {"BOOL": True},
                        ":false": {"BOOL": False},
                        ":request": {"S": request_id},
                        ":requests": {"SS": [request_id]},
                        ":expires": {"N": str(_expires_at())},
                    },
                }
            },
            delta=-1,
        )
        if not changed:
            self._remember(arn, owner, request_id)
        return changed

    def _remember(self, arn: str, owner: Owner, request_id: str) -> None:
        """Note that this request was handled, whatever it found: a later replay of it must
        change nothing, even after other requests revived or removed the owner."""
        self._update(
            _owner_sk(arn, owner),
            "SET live = if_not_exists(live, :false), arn = :arn, "
            "stack_id = :stack, logical_id = :logical, "
            "expires_at = if_not_exists(expires_at, :expires) ADD handled :requests",
            {
                ":false": {"BOOL": False},
                ":arn": {"S": arn},
                ":stack": {"S": owner.stack_id},
                ":logical": {"S": owner.logical_id},
                ":expires": {"N": str(_expires_at())},
                ":requests": {"SS": [request_id]},
            },
        )

    def _change_owners(self, arn: str, owner_write: Any, *, delta: int) -> bool:
        pool_update: Any = {
            "Update": {
                "TableName": self.table,
                "Key": self._key(_pool_sk(arn)),
                "UpdateExpression": "SET arn = :arn ADD #owners :delta, #version :one",
                "ExpressionAttributeNames": {"#owners": "owners", "#version": "version"},
                "ExpressionAttributeValues": {
                    ":arn": {"S": arn},
                    ":delta": {"N": str(delta)},
                    ":one": {"N": "1"},
                },
            }
        }
        try:
            # One transaction: the owner item and the pool's counters change together or not at
            # all. Repeating it after an unknown outcome is safe: the owner item's condition
            # (this request already handled) then cancels the repeat.
            self._call(
                "TransactWriteItems",
                lambda: aws.dynamodb().transact_write_items(
                    TransactItems=[owner_write, pool_update]
                ),
            )
        except ClientError as error:
            if _cancelled_by_condition(error, index=0):
                return False
            raise
        return True

    # -- pools --------------------------------------------------------------------------

    def pool(self, arn: str) -> PoolRecord | None:
        found = self._call(
            "GetItem",
            lambda: aws.dynamodb().get_item(
                TableName=self.table, Key=self._key(_pool_sk(arn)), ConsistentRead=True
            ),
        )
        item = found.get("Item")
        return PoolRecord.from_item(arn, item) if item else None

    def look(self, arn: str, stage_names: Sequence[str]) -> Look:
        """The pool, the worker's lease, and the stages' publications, in one consistent read:
        what a waiting request polls."""
        keys = [_pool_sk(arn), "authorizer", *(_stage_sk(name) for name in stage_names)]
        found = self._call(
            "TransactGetItems",
            lambda: aws.dynamodb().transact_get_items(
                TransactItems=[
                    {"Get": {"TableName": self.table, "Key": self._key(key)}} for key in keys
                ]
            ),
        )
        pool, authorizer, *stages = (response.get("Item") for response in found["Responses"])
        return Look(
            pool=PoolRecord.from_item(arn, pool) if pool else None,
            worker_until=_int(authorizer or {}, "worker_until") / 1000.0,
            published={
                name: _int(item, "published_seq")
                for name, item in zip(stage_names, stages, strict=True)
                if item
            },
        )

    def dirty_pools(self) -> list[PoolRecord]:
        """Pools whose owners changed since the authorizer last matched them, or that a worker
        left half-changed."""
        return [
            PoolRecord.from_item(_str(item, "sk", "").removeprefix("pool#"), item)
            for item in self._query(
                "pool#",
                filter_expression="attribute_not_exists(applied) OR #version <> applied "
                "OR changing = :true",
                names={"#version": "version"},
                values={":true": {"BOOL": True}},
            )
        ]

    # -- the worker -----------------------------------------------------------------------

    def take_worker(self, holder: str, now: float, until: float) -> bool:
        """Become (or stay) the authorizer's worker until ``until``: when nobody is, the last
        one's lease expired, or this same CloudFormation request holds it (a Lambda retry)."""
        request = holder.split("/", 1)[0] + "/"
        return self._update(
            "authorizer",
            "SET worker = :holder, worker_until = :until",
            {
                ":holder": {"S": holder},
                ":until": _millis(until),
                ":now": _millis(now),
                ":request": {"S": request},
            },
            condition="attribute_not_exists(worker) OR worker_until < :now "
            "OR begins_with(worker, :request)",
        )

    def recheck(self, arns: Iterable[str]) -> None:
        """Have the next worker decide these pools again from what the authorizer lists (and
        count a change for them): for drift, which no owner change announces."""
        for arn in arns:
            self._update(
                _pool_sk(arn),
                "SET changing = :true, arn = :arn",
                {":true": {"BOOL": True}, ":arn": {"S": arn}},
            )

    def last_check(self) -> Check:
        found = self._call(
            "GetItem",
            lambda: aws.dynamodb().get_item(
                TableName=self.table, Key=self._key("authorizer"), ConsistentRead=True
            ),
        )
        item = found.get("Item") or {}
        return Check(
            at=_int(item, "checked_at") / 1000.0,
            authorizer_type=_str(item, "authorizer_type", ""),
            stage_names=tuple(item.get("stage_list", {}).get("SS", [])),
            problem=_str(item, "check_problem"),
            checking_until=_int(item, "checking_until") / 1000.0,
        )

    def claim_check(self, now: float, until: float) -> bool:
        """Be the one request that checks the authorizer and the stages for the others (they
        would otherwise all spend API Gateway's 10 calls/s on the same two reads)."""
        return self._update(
            "authorizer",
            "SET checking_until = :until",
            {":until": _millis(until), ":now": _millis(now)},
            condition="attribute_not_exists(checking_until) OR checking_until < :now",
        )

    def record_check(self, check: Check) -> None:
        values: dict[str, AttributeValueTypeDef] = {
            ":at": _millis(check.at),
            ":type": {"S": check.authorizer_type},
        }
        expression = "SET checked_at = :at, authorizer_type = :type"
        removed = ["checking_until"]
        if check.stage_names:
            expression += ", stage_list = :stages"
            values[":stages"] = {"SS": list(check.stage_names)}
        else:
            removed.append("stage_list")
        if check.problem:
            expression += ", check_problem = :problem"
            values[":problem"] = {"S": check.problem}
        else:
            removed.append("check_problem")
        expression += " REMOVE " + ", ".join(removed)
        self._update("authorizer", expression, values)

    def release_worker(self, holder: str) -> None:
        self._update(
            "authorizer",
            "REMOVE worker, worker_until",
            {":holder": {"S": holder}},
            condition="worker = :holder",
        )

    def mark_changing(self, origins: Mapping[str, str | None], holder: str) -> bool:
        """Before the worker changes these pools on the authorizer: mark them (whoever looks
        next counts a change it cannot see if this worker stops before settling them), and
        record each new origin first, so a pool the registry added never looks found. False
        when the worker's lease is no longer ``holder``'s."""
        updates = []
        for arn, origin in origins.items():
            expression = "SET changing = :true"
            values: dict[str, AttributeValueTypeDef] = {":true": {"BOOL": True}}
            if origin is not None:
                expression += ", origin = :origin"
                values[":origin"] = {"S": origin}
            updates.append(
                {
                    "Update": {
                        "TableName": self.table,
                        "Key": self._key(_pool_sk(arn)),
                        "UpdateExpression": expression,
                        "ExpressionAttributeValues": values,
                    }
                }
            )
        return all(self._as_worker(holder, chunk) for chunk in _chunks(updates))

    def settle(self, settlements: Iterable[Settlement], holder: str) -> list[str]:
        """Record that the authorizer matches each pool at its version, unless that version
        moved meanwhile (the pool stays dirty for the next pass). The ARNs settled."""
        writes = [(settlement, self._settle_write(settlement)) for settlement in settlements]
        settled: list[str] = []
        for chunk in _chunks(writes):
            if self._as_worker(holder, [write for _, write in chunk]):
                settled += [settlement.arn for settlement, _ in chunk]
                continue
            # One of them moved (or the lease is lost): settle them one by one.
            for settlement, write in chunk:
                if self._as_worker(holder, [write]):
                    settled.append(settlement.arn)
        return settled

    def _settle_write(self, settlement: Settlement) -> Any:
        expression = "REMOVE changing SET applied = :version, last_change = :change"
        values: dict[str, AttributeValueTypeDef] = {
            ":version": {"N": str(settlement.version)},
            ":change": {"S": settlement.last_change},
        }
        if settlement.origin is not None:
            expression += ", origin = :origin"
            values[":origin"] = {"S": settlement.origin}
        if settlement.changed_seq is not None:
            expression += ", changed_seq = :seq"
            values[":seq"] = {"N": str(settlement.changed_seq)}
        if settlement.refused is not None:
            expression += ", refused = :refused, refused_version = :version"
            values[":refused"] = {"S": settlement.refused}
        condition = (
            "#version = :version" if settlement.version else "attribute_not_exists(#version)"
        )
        return {
            "Update": {
                "TableName": self.table,
                "Key": self._key(_pool_sk(settlement.arn)),
                "UpdateExpression": expression,
                "ConditionExpression": condition,
                "ExpressionAttributeNames": {"#version": "version"},
                "ExpressionAttributeValues": values,
            }
        }

    def _as_worker(self, holder: str, writes: list[Any]) -> bool:
        """Apply ``writes`` in one transaction, on condition that ``holder`` is the worker.
        False when a condition failed (nothing was written)."""
        lease: Any = {
            "ConditionCheck": {
                "TableName": self.table,
                "Key": self._key("authorizer"),
                "ConditionExpression": "worker = :holder",
                "ExpressionAttributeValues": {":holder": {"S": holder}},
            }
        }
        try:
            self._call(
                "TransactWriteItems",
                lambda: aws.dynamodb().transact_write_items(TransactItems=[lease, *writes]),
            )
        except ClientError as error:
            if "ConditionalCheckFailed" in retries.cancellation_reasons(error):
                return False
            raise
        return True

    # -- the authorizer's change counter and the stages' publications --------------------

    def next_seq(self) -> int:
        """Count one more authorizer change; its number. Called *after* the change completed,
        so a deployment that reads a number at least this large began after it."""
        found = self._call(
            "UpdateItem",
            lambda: aws.dynamodb().update_item(
                TableName=self.table,
                Key=self._key("authorizer"),
                UpdateExpression="ADD seq :one",
                ExpressionAttributeValues={":one": {"N": "1"}},
                ReturnValues="UPDATED_NEW",
            ),
        )
        return _int(found["Attributes"], "seq")

    def current_seq(self) -> int:
        found = self._call(
            "GetItem",
            lambda: aws.dynamodb().get_item(
                TableName=self.table, Key=self._key("authorizer"), ConsistentRead=True
            ),
        )
        return _int(found.get("Item") or {}, "seq")

    def want_stages(self, stage_names: Iterable[str]) -> None:
        """Make sure the worker publishes to these stages (a registration names them)."""
        for stage_name in stage_names:
            self._update(
                _stage_sk(stage_name),
                "SET published_seq = if_not_exists(published_seq, :zero)",
                {":zero": {"N": "0"}},
            )

    def stages(self) -> dict[str, StageRecord]:
        """Every stage a registration ever named, with what it serves (one Query)."""
        return {
            name: StageRecord(name, _int(item, "published_seq"), _str(item, "deployment_id"))
            for item in self._query("stage#")
            if (name := _str(item, "sk", "").removeprefix("stage#"))
        }

    def record_published(self, stage_name: str, seq: int, deployment_id: str) -> None:
        """The stage now serves every change up to ``seq`` (never moves backwards)."""
        self._update(
            _stage_sk(stage_name),
            "SET published_seq = :seq, deployment_id = :deployment",
            {":seq": {"N": str(seq)}, ":deployment": {"S": deployment_id}},
            condition="attribute_not_exists(published_seq) OR published_seq < :seq",
        )

    # -- everything ---------------------------------------------------------------------

    def snapshot(self) -> Snapshot:
        pools: dict[str, PoolRecord] = {}
        owners: dict[str, list[OwnerRecord]] = {}
        stages: dict[str, StageRecord] = {}
        seq = 0
        worker_until = 0.0
        for item in self._query_partition():
            sk = _str(item, "sk", "")
            if sk.startswith("pool#"):
                arn = sk.removeprefix("pool#")
                pools[arn] = PoolRecord.from_item(arn, item)
            elif sk.startswith("owner#"):
                if not item.get("live", {}).get("BOOL", False):
                    continue  # a tombstone: this owner is gone
                record = OwnerRecord(
                    arn=_str(item, "arn") or "",
                    owner=Owner(_str(item, "stack_id") or "", _str(item, "logical_id") or ""),
                    request_id=_str(item, "request_id") or "",
                    registered_at=_str(item, "registered_at") or "",
                )
                owners.setdefault(record.arn, []).append(record)
            elif sk.startswith("stage#"):
                name = sk.removeprefix("stage#")
                stages[name] = StageRecord(
                    name, _int(item, "published_seq"), _str(item, "deployment_id")
                )
            elif sk == "authorizer":
                seq = _int(item, "seq")
                worker_until = _int(item, "worker_until") / 1000.0
        return Snapshot(pools, owners, seq, stages, worker_until)

    def _query_partition(self) -> Iterator[Item]:
        return self._query("")

    def _query(
        self,
        prefix: str,
        *,
        filter_expression: str | None = None,
        names: dict[str, str] | None = None,
        values: dict[str, AttributeValueTypeDef] | None = None,
    ) -> Iterator[Item]:
        """The partition's items whose sort key starts with ``prefix``, page by page."""
        key_values: dict[str, AttributeValueTypeDef] = {":pk": {"S": self.pk}}
        key_condition = "pk = :pk"
        if prefix:
            key_values[":prefix"] = {"S": prefix}
            key_condition += " AND begins_with(sk, :prefix)"
        arguments: dict[str, Any] = {
            "TableName": self.table,
            "KeyConditionExpression": key_condition,
            "ExpressionAttributeValues": {**key_values, **(values or {})},
            "ConsistentRead": True,
        }
        if filter_expression:
            arguments["FilterExpression"] = filter_expression
        if names:
            arguments["ExpressionAttributeNames"] = names
        while True:
            page = self._call(
                "Query",
                lambda: aws.dynamodb().query(**arguments),
            )
            yield from page.get("Items", [])
            if "LastEvaluatedKey" not in page:
                return
            arguments["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    # -- plumbing -----------------------------------------------------------------------

    def _key(self, sk: str) -> dict[str, AttributeValueTypeDef]:
        return {"pk": {"S": self.pk}, "sk": {"S": sk}}

    def _update(
        self,
        sk: str,
        expression: str,
        values: Mapping[str, AttributeValueTypeDef],
        *,
        condition: str | None = None,
    ) -> bool:
        """One UpdateItem of this authorizer's item ``sk``. False when ``condition`` failed
        (nothing was written)."""
        request: dict[str, Any] = {
            "TableName": self.table,
            "Key": self._key(sk),
            "UpdateExpression": expression,
            "ExpressionAttributeValues": values,
        }
        if condition is not None:
            request["ConditionExpression"] = condition
        try:
            self._call("UpdateItem", lambda: aws.dynamodb().update_item(**request))
        except ClientError as error:
            if condition is not None and _condition_failed(error):
                return False
            raise
        return True

    def _call(self, operation: str, request: Callable[[], T]) -> T:
        # Every write here is safe to repeat: conditional, tokened, or a counter whose extra
        # step only makes the registry more careful.
        return retries.call(operation, request, self.deadline)


# How long a gone owner's item outlives it (DynamoDB's TTL then deletes it): longer than Lambda
# retries an asynchronous invocation (at most 6 hours), so every replay still finds it.
TOMBSTONE_SECONDS = 7 * 24 * 3600


def _expires_at() -> int:
    return int(datetime.now(UTC).timestamp()) + TOMBSTONE_SECONDS


def _millis(seconds: float) -> AttributeValueTypeDef:
    """A time as the registry stores it: whole milliseconds."""
    return {"N": str(int(seconds * 1000))}


def _pool_sk(arn: str) -> str:
    return f"pool#{arn}"


def _owner_sk(arn: str, owner: Owner) -> str:
    return f"owner#{arn}#{owner.stack_id}#{owner.logical_id}"


def _stage_sk(stage_name: str) -> str:
    return f"stage#{stage_name}"


def _int(item: Mapping[str, Any], name: str) -> int:
    value = item.get(name)
    return int(value["N"]) if value and "N" in value else 0


@overload
def _str(item: Mapping[str, Any], name: str) -> str | None: ...


@overload
def _str(item: Mapping[str, Any], name: str, default: str) -> str: ...


def _str(item: Mapping[str, Any], name: str, default: str | None = None) -> str | None:
    value = item.get(name)
    return str(value["S"]) if value and "S" in value else default


# TransactWriteItems takes 100 actions; one is the worker's lease check.
_CHUNK = 99


def _chunks(items: Sequence[T]) -> Iterator[list[T]]:
    for start in range(0, len(items), _CHUNK):
        yield list(items[start : start + _CHUNK])


def _condition_failed(error: ClientError) -> bool:
    return retries.describe(error)[0] == "ConditionalCheckFailedException"


def _cancelled_by_condition(error: ClientError, index: int) -> bool:
    """A cancelled transaction whose item ``index`` failed its condition (and nothing else
    went wrong: a conflict with another transaction is retried by ``retries``)."""
    if retries.describe(error)[0] != "TransactionCanceledException":
        return False
    codes = retries.cancellation_reasons(error)
    return len(codes) > index and codes[index] == "ConditionalCheckFailed"
