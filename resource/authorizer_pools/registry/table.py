"""One authorizer's partition of the registry table, read and written within a deadline.

Every call goes through ``retries.call``. Every write here is safe to repeat: it is
conditional, carries a request id it checks, or sets a value that a repeat sets again.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

from .. import aws, retries
from ..aws_errors import ConditionFailed
from ..timing import Deadline
from . import codec

AUTHORIZER_SK = "authorizer"
# TransactWriteItems takes at most 100 actions.
TRANSACTION_LIMIT = 100


# The worker reads the whole ``authorizer`` partition on every pass; what only requests need
# (``requests``, ``claims``) lives beside it, so it costs the worker nothing.
AUTHORIZER_PARTITION = "authorizer"
REQUESTS_PARTITION = "requests"
CLAIMS_PARTITION = "claims"


def partition_key(rest_api_id: str, authorizer_id: str, kind: str = AUTHORIZER_PARTITION) -> str:
    return f"{kind}#{rest_api_id}#{authorizer_id}"


# A deadline, or what tells it at each call (a worker's lease, renewed as it works).
Bound = Deadline | Callable[[], Deadline]


class Partition:
    """``pk = <kind>#<api>#<authorizer>``: every item of one kind of one authorizer."""

    def __init__(
        self,
        table: str,
        rest_api_id: str,
        authorizer_id: str,
        deadline: Bound,
        kind: str = AUTHORIZER_PARTITION,
    ) -> None:
        self.table = table
        self.rest_api_id = rest_api_id
        self.authorizer_id = authorizer_id
        self.pk = partition_key(rest_api_id, authorizer_id, kind)
        self.bound = deadline

    @property
    def deadline(self) -> Deadline:
        return self.bound if isinstance(self.bound, Deadline) else self.bound()

    def key(self, sk: str) -> dict[str, Any]:
        return {"pk": {"S": self.pk}, "sk": {"S": sk}}

    def get(self, sk: str, *, consistent: bool = True) -> dict[str, Any]:
        """The item, decoded; empty when it does not exist."""
        found = retries.call(
            "GetItem",
            lambda: aws.dynamodb().get_item(
                TableName=self.table, Key=self.key(sk), ConsistentRead=consistent
            ),
            self.deadline,
        )
        return codec.decode(found.get("Item"))

    def update(
        self,
        sk: str,
        expression: str,
        values: Mapping[str, Any] | None = None,
        *,
        condition: str | None = None,
        names: Mapping[str, str] | None = None,
        returns: bool = False,
    ) -> dict[str, Any] | None:
        """One UpdateItem. None when ``condition`` failed (nothing was written); else the
        updated attributes when ``returns``, or an empty dict."""
        request = self.update_action(sk, expression, values, condition=condition, names=names)[
            "Update"
        ]
        if returns:
            request["ReturnValues"] = "ALL_NEW"
        try:
            found = retries.call(
                "UpdateItem", lambda: aws.dynamodb().update_item(**request), self.deadline
            )
        except ConditionFailed:
            if condition is not None:
                return None
            raise
        return codec.decode(found.get("Attributes")) if returns else {}

    def update_action(
        self,
        sk: str,
        expression: str,
        values: Mapping[str, Any] | None = None,
        *,
        condition: str | None = None,
        names: Mapping[str, str] | None = None,
    ) -> dict[str, Any]:
        """An Update action for :meth:`transact`."""
        action: dict[str, Any] = {
            "TableName": self.table,
            "Key": self.key(sk),
            "UpdateExpression": expression,
        }
        if values:
            action["ExpressionAttributeValues"] = codec.encode_all(values)
        if names:
            action["ExpressionAttributeNames"] = dict(names)
        if condition is not None:
            action["ConditionExpression"] = condition
        return {"Update": action}

    def check_action(self, sk: str, condition: str, values: Mapping[str, Any]) -> dict[str, Any]:
        """A ConditionCheck action for :meth:`transact`."""
        check: dict[str, Any] = {
            "TableName": self.table,
            "Key": self.key(sk),
            "ConditionExpression": condition,
        }
        if values:  # DynamoDB refuses an empty ExpressionAttributeValues
            check["ExpressionAttributeValues"] = codec.encode_all(values)
        return {"ConditionCheck": check}

    def transact(self, actions: Sequence[dict[str, Any]]) -> list[str] | None:
        """One TransactWriteItems: all of ``actions`` or none. None when it was written; else
        the cancellation code of each action ("None" for those that were fine) when a
        condition failed."""
        try:
            retries.call(
                "TransactWriteItems",
                lambda: aws.dynamodb().transact_write_items(TransactItems=list(actions)),  # type: ignore[arg-type]
                self.deadline,
            )
        except ConditionFailed as failed:
            return list(failed.reasons)
        return None

    def query(self, prefix: str = "") -> Iterator[dict[str, Any]]:
        """The partition's items whose sort key starts with ``prefix``, decoded, page by page
        (strongly consistent: the worker decides from them)."""
        values: dict[str, Any] = {":pk": {"S": self.pk}}
        condition = "pk = :pk"
        if prefix:
            values[":prefix"] = {"S": prefix}
            condition += " AND begins_with(sk, :prefix)"
        arguments: dict[str, Any] = {
            "TableName": self.table,
            "KeyConditionExpression": condition,
            "ExpressionAttributeValues": values,
            "ConsistentRead": True,
        }
        while True:
            page = retries.call("Query", lambda: aws.dynamodb().query(**arguments), self.deadline)
            for item in page.get("Items", []):
                yield codec.decode(item)
            if "LastEvaluatedKey" not in page:
                return
            arguments["ExclusiveStartKey"] = page["LastEvaluatedKey"]
