"""dynamodb_ext: moto's transactions, copying each table once for their rollback, answer and
store exactly what moto's own do."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto.dynamodb.models.table import Table

from localaws import dynamodb_ext
from localaws.server import LocalAws

TABLE = "dynamodb-ext-test"


@pytest.fixture
def table(local_aws: LocalAws, aws_environment: dict[str, str]) -> Iterator[Any]:
    client = boto3.client("dynamodb")
    client.create_table(
        TableName=TABLE,
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    for n in range(50):
        client.put_item(TableName=TABLE, Item={"pk": {"S": f"item-{n}"}, "n": {"N": "0"}})
    yield client
    client.delete_table(TableName=TABLE)


def bump(key: str, expected: int) -> dict[str, Any]:
    return {
        "Update": {
            "TableName": TABLE,
            "Key": {"pk": {"S": key}},
            "UpdateExpression": "SET n = n + :one",
            "ConditionExpression": "n = :expected",
            "ExpressionAttributeValues": {":one": {"N": "1"}, ":expected": {"N": str(expected)}},
        }
    }


def values(client: Any, *keys: str) -> list[int]:
    return [
        int(client.get_item(TableName=TABLE, Key={"pk": {"S": key}})["Item"]["n"]["N"])
        for key in keys
    ]


def test_a_transaction_copies_the_table_once_and_still_rolls_back(
    table: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    copies: list[object] = []

    def counting(value: Any, memo: Any = None) -> Any:
        if isinstance(value, Table):
            copies.append(value)
        return copy.deepcopy(value, memo)

    monkeypatch.setattr(dynamodb_ext, "copy", SimpleNamespace(deepcopy=counting))

    table.transact_write_items(TransactItems=[bump(f"item-{n}", 0) for n in range(10)])
    assert values(table, "item-0", "item-9") == [1, 1]
    assert len(copies) == 1  # moto alone: one copy of the whole table per item, 10

    # One condition fails: the transaction is cancelled and nothing of it is kept.
    with pytest.raises(ClientError) as refused:
        table.transact_write_items(
            TransactItems=[bump("item-0", 1), bump("item-1", 1), bump("item-2", 0)]
        )
    assert refused.value.response["Error"]["Code"] == "TransactionCanceledException"
    assert values(table, "item-0", "item-1", "item-2") == [1, 1, 1]
