"""moto's DynamoDB, made to cost what DynamoDB costs, and the TTL process moto lacks.

Cost: moto 5.2's ``transact_write_items`` deep-copies the whole table once per item of the
transaction, to roll back if one condition fails. A 100-item transaction on a table of a few
hundred items then copies the table a hundred times, and the emulator, not the function, sets
the pace of a launch-day batch (it showed as a quarter of the bench's CPU). DynamoDB's
transactions cost per item written (DynamoDB developer guide, "Amazon DynamoDB Transactions:
capacity management"), nothing per table.

``install()`` (idempotent, process-wide) copies each table once per transaction instead: the
rollback copy is the same, since nothing changes the table while moto takes the copies (the
control-plane model serves DynamoDB one request at a time), so what moto answers and stores is
unchanged.

TTL: DynamoDB deletes an item once its TTL attribute is in the past, in the background, some
time later ("typically within a few days"; DynamoDB developer guide, "Time to Live (TTL)" and
"Using DynamoDB Time to Live"; API reference, UpdateTimeToLive). moto stores the table's
TimeToLiveSpecification but never deletes anything. ``expire_items`` is that background
process, run when a test says so and with the time the test gives, so tests model time passing
without waiting. It follows the developer guide's rules for an item to be eligible: TTL enabled
on the table; the item holds the table's TTL attribute at top level, as a Number, read as Unix
epoch seconds, less than ``now``; and no more than five years in the past ("The TTL attribute
value must be a datetimestamp with an expiration of no more than five years in the past"), so
a value in the wrong unit or a zero is never expired, as on AWS. Items that are not eligible
are never deleted. It holds ``MODEL_LOCK``, the lock the control plane serves DynamoDB
requests under, so an expiry never interleaves with a request (a conditional write sees the
item either before or after).
"""

from __future__ import annotations

import copy
import threading
from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from types import SimpleNamespace
from typing import Any

import moto.dynamodb.models as dynamodb_models
from moto.dynamodb.models import DynamoDBBackend, dynamodb_backends
from moto.dynamodb.models.table import Table

DEFAULT_ACCOUNT_ID = "123456789012"
DEFAULT_REGION = "us-east-1"
# "no more than five years in the past" (developer guide); five 365-day years.
TTL_MAX_AGE_SECONDS = 5 * 365 * 24 * 3600

# The control plane serves DynamoDB one request at a time under this lock (moto's models check
# and write without one); whatever else changes moto's DynamoDB state takes it too.
MODEL_LOCK = threading.Lock()
_INSTALL_LOCK = threading.Lock()
_original: list[Callable[..., None]] = []


def _transact_write_items(self: DynamoDBBackend, transact_items: list[dict[str, Any]]) -> None:
    copies: dict[int, Any] = {}

    def deepcopy_each_once(value: Any, memo: dict[int, Any] | None = None) -> Any:
        if not isinstance(value, Table):
            return copy.deepcopy(value, memo)  # an item, before its update: as moto does
        if id(value) not in copies:
            copies[id(value)] = copy.deepcopy(value, memo)
        return copies[id(value)]

    # Only this call's lookups of ``copy`` in moto's module see the shim; moto's other
    # DynamoDB calls wait (the control-plane model serves DynamoDB one request at a time).
    dynamodb_models.copy = SimpleNamespace(deepcopy=deepcopy_each_once)  # type: ignore[attr-defined,assignment]
    try:
        _original[0](self, transact_items)
    finally:
        dynamodb_models.copy = copy  # type: ignore[attr-defined]


def install() -> None:
    """Patch moto's DynamoDB backend in this process. Calling it again changes nothing."""
    with _INSTALL_LOCK:
        if _original:
            return
        _original.append(DynamoDBBackend.transact_write_items)
        DynamoDBBackend.transact_write_items = _transact_write_items  # type: ignore[method-assign]


def expire_items(
    table_name: str,
    now: float,
    *,
    account_id: str = DEFAULT_ACCOUNT_ID,
    region: str = DEFAULT_REGION,
) -> int:
    """Run DynamoDB's TTL process once, as at ``now`` (Unix epoch seconds): delete every item
    eligible for expiry (see the module docstring) and return how many were deleted.

    A table without TTL enabled loses nothing. Raises LookupError when the table does not exist.
    """
    with MODEL_LOCK:
        backend = dynamodb_backends[account_id][region]
        table = backend.tables.get(table_name)
        if table is None:
            raise LookupError(f"no DynamoDB table {table_name!r} in {account_id}/{region}")
        ttl: dict[str, Any] = table.ttl
        attribute = ttl.get("AttributeName")
        if ttl.get("TimeToLiveStatus") != "ENABLED" or not attribute:
            return 0
        cutoff = Decimal(repr(float(now)))
        expired = [
            item for item in table.all_items() if _expired(item.attrs.get(attribute), cutoff)
        ]
        for item in expired:
            table.delete_item(item.hash_key, item.range_key)
        return len(expired)


def _expired(value: Any, now: Decimal) -> bool:
    if value is None or value.type != "N":
        return False
    try:
        expires = Decimal(str(value.value))
    except InvalidOperation:
        return False
    return now - TTL_MAX_AGE_SECONDS <= expires < now
