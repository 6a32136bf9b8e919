"""The registry's storage layout, for tests that read, write or recognise its items by hand: in
one place, on the product's own key functions, so that a change of layout is made here only."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from authorizer_pools.registry.owners import OWNER_PREFIX, Owner, owner_sk, pool_sk
from authorizer_pools.registry.table import (
    AUTHORIZER_PARTITION,
    AUTHORIZER_SK,
    REQUESTS_PARTITION,
    partition_key,
)
from localaws.middleware.routes import RequestInfo

STATUS_SK = AUTHORIZER_SK
# What a pass writes when it records the stages it saw serve the list.
PASS_RECORD = "last_pass"


def authorizer_pk(rest_api_id: str, authorizer_id: str) -> str:
    return partition_key(rest_api_id, authorizer_id, AUTHORIZER_PARTITION)


def key(rest_api_id: str, authorizer_id: str, sk: str) -> dict[str, Any]:
    """The DynamoDB key of an item of the authorizer's partition."""
    return {"pk": {"S": authorizer_pk(rest_api_id, authorizer_id)}, "sk": {"S": sk}}


def owner_item_sk(arn: str, stack_id: str, logical_id: str) -> str:
    return owner_sk(arn, Owner(stack_id, logical_id))


def is_owner_item(item: Mapping[str, Any]) -> bool:
    """An item (as DynamoDB returns it) that records an owner, live or gone."""
    return str(item["sk"]["S"]).startswith(OWNER_PREFIX)


def is_request_item(item: Mapping[str, Any]) -> bool:
    return str(item["pk"]["S"]).startswith(f"{REQUESTS_PARTITION}#")


def touches_requests(info: RequestInfo) -> bool:
    """A call that reads or writes the requests' partition."""
    return f'"{REQUESTS_PARTITION}#'.encode() in info.body


def addressed_sk(info: RequestInfo) -> str:
    """The sort key a DynamoDB GetItem / UpdateItem addresses ("" when there is none)."""
    body = info.json_body()
    if not isinstance(body, dict):
        return ""
    found = body.get("Key")
    if not isinstance(found, dict):
        return ""
    sk = found.get("sk")
    return str(sk.get("S", "")) if isinstance(sk, dict) else ""


def records_a_pass(info: RequestInfo) -> bool:
    """The UpdateItem that records which stages a pass saw serve the list."""
    expression = str((info.json_body() or {}).get("UpdateExpression", ""))
    return addressed_sk(info) == STATUS_SK and PASS_RECORD in expression


def owner_write(info: RequestInfo) -> bool:
    """A write that makes an owner live."""
    return registry_write(OWNER_PREFIX, "SET live = :true")(info)


def registry_write(*needles: str) -> Callable[[RequestInfo], bool]:
    """A write to the registry whose request contains every one of ``needles``."""

    def matches(info: RequestInfo) -> bool:
        body = info.body.decode(errors="replace")
        return info.operation in ("UpdateItem", "TransactWriteItems") and all(
            needle in body for needle in needles
        )

    return matches


__all__ = [
    "PASS_RECORD",
    "STATUS_SK",
    "addressed_sk",
    "authorizer_pk",
    "is_owner_item",
    "is_request_item",
    "key",
    "owner_item_sk",
    "owner_write",
    "pool_sk",
    "records_a_pass",
    "registry_write",
    "touches_requests",
]
