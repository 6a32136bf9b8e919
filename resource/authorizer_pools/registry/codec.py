"""Items as the registry stores them: DynamoDB's attribute values to plain Python and back.

boto3's ``TypeSerializer``/``TypeDeserializer`` (shipped in the Lambda runtime) do the work;
numbers come back as ``int`` (the registry stores only whole numbers), sets as ``set``.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.type_defs import AttributeValueTypeDef

_SERIALIZER = TypeSerializer()
_DESERIALIZER = TypeDeserializer()


def encode(value: Any) -> AttributeValueTypeDef:
    """One attribute value (str, int, bool, set of str, dict)."""
    return _SERIALIZER.serialize(value)


def encode_all(values: Mapping[str, Any]) -> dict[str, AttributeValueTypeDef]:
    return {name: encode(value) for name, value in values.items()}


def decode(item: Mapping[str, Any] | None) -> dict[str, Any]:
    """An item as plain Python: whole numbers as int, sets as set."""
    return {name: _plain(_DESERIALIZER.deserialize(value)) for name, value in (item or {}).items()}


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return int(value)
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, set):
        return {_plain(item) for item in value}
    return value


def millis(seconds: float) -> int:
    """A time as the registry stores it: whole milliseconds since the epoch."""
    return int(seconds * 1000)
