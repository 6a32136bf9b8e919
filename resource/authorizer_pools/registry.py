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
  it), ``changing`` (a holder is changing it, or stopped while it did), and a lease
  (``lease_holder``, ``lease_until``) that one request holds while it changes the pool on the
  authorizer;
- ``authorizer``: ``seq``, a counter of the authorizer changes made through the registry;
- ``stage#<name>``: ``published_seq``, the counter's value read before the stage's latest
  deployment made through the registry began: that deployment serves every change up to it.

Owner changes are transactions (the owner item and the pool's counters together, conditioned on
the owner item's existence), so replays change nothing. ``docs/ownership.md`` gives the protocol.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, TypeVar

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
    # Set before a holder changes the pool on the authorizer, cleared when it releases: a pool
    # left marked was changed, or maybe changed, by a holder that did not finish.
    changing: bool = False
    lease_holder: str | None = None
    lease_until: float = 0.0

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
            lease_holder=_str(item, "lease_holder"),
            lease_until=_int(item, "lease_until") / 1000.0,
        )


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
        self._call(
            "UpdateItem",
            lambda: aws.dynamodb().update_item(
                TableName=self.table,
                Key=self._key(_owner_sk(arn, owner)),
                UpdateExpression="SET live = if_not_exists(live, :false), arn = :arn, "
                "stack_id = :stack, logical_id = :logical, "
                "expires_at = if_not_exists(expires_at, :expires) ADD handled :requests",
                ExpressionAttributeValues={
                    ":false": {"BOOL": False},
                    ":arn": {"S": arn},
                    ":stack": {"S": owner.stack_id},
                    ":logical": {"S": owner.logical_id},
                    ":expires": {"N": str(_expires_at())},
                    ":requests": {"SS": [request_id]},
                },
            ),
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

    def acquire(self, arn: str, holder: str, now: float, until: float) -> PoolRecord | None:
        """Take the pool's lease (free, expired, or held by this same CloudFormation request).
        Returns the pool as it was before, or None when someone else holds the lease."""
        request = holder.split("/", 1)[0] + "/"
        try:
            found = self._call(
                "UpdateItem",
                lambda: aws.dynamodb().update_item(
                    TableName=self.table,
                    Key=self._key(_pool_sk(arn)),
                    UpdateExpression="SET lease_holder = :holder, lease_until = :until, arn = :arn",
                    ConditionExpression="attribute_not_exists(lease_holder) "
                    "OR lease_until < :now OR begins_with(lease_holder, :request)",
                    ExpressionAttributeValues={
                        ":holder": {"S": holder},
                        ":until": {"N": str(int(until * 1000))},
                        ":now": {"N": str(int(now * 1000))},
                        ":request": {"S": request},
                        ":arn": {"S": arn},
                    },
                    ReturnValues="ALL_OLD",
                ),
            )
        except ClientError as error:
            if _condition_failed(error):
                return None
            raise
        return PoolRecord.from_item(arn, found.get("Attributes"))

    def mark_changing(self, arn: str, holder: str, origin: str | None) -> bool:
        """Before changing the pool on the authorizer, while holding its lease: mark it, so
        that if this request stops before its release, whoever looks next (a holder, or
        `reconcile`) counts a change it cannot see; and record a new ``origin`` first, so a pool
        this registry added never looks found. False when the lease is no longer ours."""
        expression = "SET changing = :true"
        values: dict[str, AttributeValueTypeDef] = {
            ":true": {"BOOL": True},
            ":holder": {"S": holder},
        }
        if origin is not None:
            expression += ", origin = :origin"
            values[":origin"] = {"S": origin}
        return self._conditional_update(arn, expression, "lease_holder = :holder", values)

    def release(
        self, arn: str, holder: str, version: int, origin: str | None, changed_seq: int | None
    ) -> bool:
        """Give the lease back, recording that the authorizer now matches ``version``. False
        when the pool's owners changed meanwhile, or the lease was lost: look again."""
        expression = "REMOVE lease_holder, lease_until, changing SET applied = :version"
        values: dict[str, AttributeValueTypeDef] = {
            ":version": {"N": str(version)},
            ":holder": {"S": holder},
        }
        if origin is not None:
            expression += ", origin = :origin"
            values[":origin"] = {"S": origin}
        if changed_seq is not None:
            expression += ", changed_seq = :seq"
            values[":seq"] = {"N": str(changed_seq)}
        condition = "lease_holder = :holder AND "
        condition += "#version = :version" if version else "attribute_not_exists(#version)"
        return self._conditional_update(
            arn, expression, condition, values, names={"#version": "version"}
        )

    def abandon(self, arn: str, holder: str) -> None:
        """Give the lease back without recording anything (the change did not complete)."""
        self._conditional_update(
            arn,
            "REMOVE lease_holder, lease_until",
            "lease_holder = :holder",
            {":holder": {"S": holder}},
        )

    def _conditional_update(
        self,
        arn: str,
        expression: str,
        condition: str,
        values: dict[str, AttributeValueTypeDef],
        names: dict[str, str] | None = None,
    ) -> bool:
        extra: dict[str, Any] = {"ExpressionAttributeNames": names} if names else {}
        try:
            self._call(
                "UpdateItem",
                lambda: aws.dynamodb().update_item(
                    TableName=self.table,
                    Key=self._key(_pool_sk(arn)),
                    UpdateExpression=expression,
                    ConditionExpression=condition,
                    ExpressionAttributeValues=values,
                    **extra,
                ),
            )
        except ClientError as error:
            if _condition_failed(error):
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

    def published_seq(self, stage_name: str) -> int:
        found = self._call(
            "GetItem",
            lambda: aws.dynamodb().get_item(
                TableName=self.table, Key=self._key(_stage_sk(stage_name)), ConsistentRead=True
            ),
        )
        return _int(found.get("Item") or {}, "published_seq")

    def record_published(self, stage_name: str, seq: int, deployment_id: str) -> None:
        """The stage now serves every change up to ``seq`` (never moves backwards)."""
        try:
            self._call(
                "UpdateItem",
                lambda: aws.dynamodb().update_item(
                    TableName=self.table,
                    Key=self._key(_stage_sk(stage_name)),
                    UpdateExpression="SET published_seq = :seq, deployment_id = :deployment",
                    ConditionExpression="attribute_not_exists(published_seq) "
                    "OR published_seq < :seq",
                    ExpressionAttributeValues={
                        ":seq": {"N": str(seq)},
                        ":deployment": {"S": deployment_id},
                    },
                ),
            )
        except ClientError as error:
            if not _condition_failed(error):
                raise

    # -- everything ---------------------------------------------------------------------

    def snapshot(self) -> Snapshot:
        pools: dict[str, PoolRecord] = {}
        owners: dict[str, list[OwnerRecord]] = {}
        stages: dict[str, StageRecord] = {}
        seq = 0
        for item in self._query_partition():
            sk = _str(item, "sk") or ""
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
        return Snapshot(pools, owners, seq, stages)

    def _query_partition(self) -> Iterator[Item]:
        start: dict[str, Any] = {}
        while True:
            page = self._call(
                "Query",
                lambda start=start: aws.dynamodb().query(  # type: ignore[misc]
                    TableName=self.table,
                    KeyConditionExpression="pk = :pk",
                    ExpressionAttributeValues={":pk": {"S": self.pk}},
                    ConsistentRead=True,
                    **start,
                ),
            )
            yield from page.get("Items", [])
            if "LastEvaluatedKey" not in page:
                return
            start = {"ExclusiveStartKey": page["LastEvaluatedKey"]}

    # -- plumbing -----------------------------------------------------------------------

    def _key(self, sk: str) -> dict[str, AttributeValueTypeDef]:
        return {"pk": {"S": self.pk}, "sk": {"S": sk}}

    def _call(self, operation: str, request: Callable[[], T]) -> T:
        # Every write here is safe to repeat: conditional, tokened, or a counter whose extra
        # step only makes the registry more careful.
        return retries.call(operation, request, self.deadline)


# How long a gone owner's item outlives it (DynamoDB's TTL then deletes it): longer than Lambda
# retries an asynchronous invocation (at most 6 hours), so every replay still finds it.
TOMBSTONE_SECONDS = 7 * 24 * 3600


def _expires_at() -> int:
    return int(datetime.now(UTC).timestamp()) + TOMBSTONE_SECONDS


def _pool_sk(arn: str) -> str:
    return f"pool#{arn}"


def _owner_sk(arn: str, owner: Owner) -> str:
    return f"owner#{arn}#{owner.stack_id}#{owner.logical_id}"


def _stage_sk(stage_name: str) -> str:
    return f"stage#{stage_name}"


def _int(item: Mapping[str, Any], name: str) -> int:
    value = item.get(name)
    return int(value["N"]) if value and "N" in value else 0


def _str(item: Mapping[str, Any], name: str) -> str | None:
    value = item.get(name)
    return str(value["S"]) if value and "S" in value else None


def _condition_failed(error: ClientError) -> bool:
    return retries.describe(error)[0] == "ConditionalCheckFailedException"


def _cancelled_by_condition(error: ClientError, index: int) -> bool:
    """A cancelled transaction whose item ``index`` failed its condition (and nothing else
    went wrong: a conflict with another transaction is retried by ``retries``)."""
    if retries.describe(error)[0] != "TransactionCanceledException":
        return False
    codes = retries.cancellation_reasons(error)
    return len(codes) > index and codes[index] == "ConditionalCheckFailed"
