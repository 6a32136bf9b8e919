"""moto's DynamoDB, made to cost what DynamoDB costs: no behaviour changes.

moto 5.2's ``transact_write_items`` deep-copies the whole table once per item of the
transaction, to roll back if one condition fails. A 100-item transaction on a table of a few
hundred items then copies the table a hundred times, and the emulator, not the function, sets
the pace of a launch-day batch (it showed as a quarter of the bench's CPU). DynamoDB's
transactions cost per item written (DynamoDB developer guide, "Amazon DynamoDB Transactions:
capacity management"), nothing per table.

``install()`` (idempotent, process-wide) copies each table once per transaction instead: the
rollback copy is the same, since nothing changes the table while moto takes the copies (the
control-plane model serves DynamoDB one request at a time), so what moto answers and stores is
unchanged.
"""

from __future__ import annotations

import copy
import threading
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

import moto.dynamodb.models as dynamodb_models
from moto.dynamodb.models import DynamoDBBackend
from moto.dynamodb.models.table import Table

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
