"""dynamodb_model: moto's transactions, copying each table once for their rollback, answer and
store exactly what moto's own do; ``expire_items`` deletes what DynamoDB's TTL process would."""

from __future__ import annotations

import copy
import threading
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto.dynamodb.models.table import Table

from demo.shared_api import create_registry_table
from localaws.dynamodb import model as dynamodb_model
from localaws.middleware.dispatch import _DYNAMODB_LOCK
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

    monkeypatch.setattr(dynamodb_model, "copy", SimpleNamespace(deepcopy=counting))

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


# -- TTL expiry ---------------------------------------------------------------------------------

TTL_TABLE = "dynamodb-ext-ttl-test"
NOW = 1_750_000_000.0
DAY = 86_400


@pytest.fixture
def ttl_table(local_aws: LocalAws, aws_environment: dict[str, str]) -> Iterator[Any]:
    client = boto3.client("dynamodb")
    client.create_table(
        TableName=TTL_TABLE,
        KeySchema=[
            {"AttributeName": "pk", "KeyType": "HASH"},
            {"AttributeName": "sk", "KeyType": "RANGE"},
        ],
        AttributeDefinitions=[
            {"AttributeName": "pk", "AttributeType": "S"},
            {"AttributeName": "sk", "AttributeType": "S"},
        ],
        BillingMode="PAY_PER_REQUEST",
    )
    client.update_time_to_live(
        TableName=TTL_TABLE,
        TimeToLiveSpecification={"AttributeName": "expires_at", "Enabled": True},
    )
    yield client
    client.delete_table(TableName=TTL_TABLE)


def put(client: Any, sk: str, **attributes: dict[str, Any]) -> None:
    client.put_item(TableName=TTL_TABLE, Item={"pk": {"S": "p"}, "sk": {"S": sk}, **attributes})


def keys(client: Any) -> list[str]:
    items = client.scan(TableName=TTL_TABLE, ConsistentRead=True)["Items"]
    return sorted(item["sk"]["S"] for item in items)


def test_expiry_deletes_only_items_whose_number_ttl_has_passed(ttl_table: Any) -> None:
    put(ttl_table, "past", expires_at={"N": str(int(NOW - 10))})
    put(ttl_table, "fraction", expires_at={"N": f"{NOW - 0.5}"})
    put(ttl_table, "future", expires_at={"N": str(int(NOW + DAY))})
    put(ttl_table, "exactly-now", expires_at={"N": str(int(NOW))})
    put(ttl_table, "string", expires_at={"S": str(int(NOW - 10))})
    put(ttl_table, "nested", meta={"M": {"expires_at": {"N": str(int(NOW - 10))}}})
    put(ttl_table, "no-ttl", other={"N": "1"})
    put(ttl_table, "milliseconds", expires_at={"N": str(int(NOW - 10) * 1000)})

    assert dynamodb_model.expire_items(TTL_TABLE, NOW) == 2
    assert keys(ttl_table) == [
        "exactly-now",
        "future",
        "milliseconds",
        "nested",
        "no-ttl",
        "string",
    ]
    # Time passes: the items due by then go, the others are never deleted.
    assert dynamodb_model.expire_items(TTL_TABLE, NOW + 2 * DAY) == 2
    assert keys(ttl_table) == ["milliseconds", "nested", "no-ttl", "string"]
    assert dynamodb_model.expire_items(TTL_TABLE, NOW + 2 * DAY) == 0


def test_items_expired_more_than_five_years_ago_are_never_deleted(ttl_table: Any) -> None:
    six_years = 6 * 365 * DAY
    put(ttl_table, "zero", expires_at={"N": "0"})
    put(ttl_table, "ancient", expires_at={"N": str(int(NOW - six_years))})
    put(ttl_table, "recent", expires_at={"N": str(int(NOW - 4 * 365 * DAY))})
    assert dynamodb_model.expire_items(TTL_TABLE, NOW) == 1
    assert keys(ttl_table) == ["ancient", "zero"]


def test_a_table_without_ttl_enabled_loses_nothing(ttl_table: Any) -> None:
    put(ttl_table, "past", expires_at={"N": str(int(NOW - 10))})
    ttl_table.update_time_to_live(
        TableName=TTL_TABLE,
        TimeToLiveSpecification={"AttributeName": "expires_at", "Enabled": False},
    )
    assert dynamodb_model.expire_items(TTL_TABLE, NOW) == 0
    assert keys(ttl_table) == ["past"]


def test_expiry_of_a_missing_table_is_refused(local_aws: LocalAws) -> None:
    with pytest.raises(LookupError, match="no-such-table"):
        dynamodb_model.expire_items("no-such-table", NOW)


def test_expiry_waits_for_the_request_being_served(ttl_table: Any) -> None:
    put(ttl_table, "past", expires_at={"N": str(int(NOW - 10))})
    deleted: list[int] = []
    with _DYNAMODB_LOCK:  # as the control plane holds it while moto serves a request
        worker = threading.Thread(
            target=lambda: deleted.append(dynamodb_model.expire_items(TTL_TABLE, NOW))
        )
        worker.start()
        worker.join(0.2)
        assert worker.is_alive()
        assert deleted == []
    worker.join(10)
    assert deleted == [1]


def test_the_registry_table_expires_items_on_expires_at(
    local_aws: LocalAws, aws_environment: dict[str, str]
) -> None:
    name = create_registry_table("dynamodb-ext-registry-ttl")
    client = boto3.client("dynamodb")
    try:
        description = client.describe_time_to_live(TableName=name)["TimeToLiveDescription"]
        assert description == {"TimeToLiveStatus": "ENABLED", "AttributeName": "expires_at"}
        client.put_item(
            TableName=name,
            Item={"pk": {"S": "p"}, "sk": {"S": "s"}, "expires_at": {"N": str(int(NOW))}},
        )
        assert dynamodb_model.expire_items(name, NOW + DAY) == 1
    finally:
        client.update_table(TableName=name, DeletionProtectionEnabled=False)
        client.delete_table(TableName=name)
