"""Priming (``authorizer_pools.aws.prime``): every call the function makes is made once at init,
answered without the network, so that environments forked from one init (or restored from one
snapshot) share what botocore builds on an operation's first use."""

from __future__ import annotations

import ast
import socket
from collections.abc import Iterator
from typing import Any

import pytest
import urllib3.util.connection
from botocore.exceptions import EndpointConnectionError
from template_model import ROOT

from authorizer_pools import aws

pytestmark = pytest.mark.fast

CLIENTS = ("apigateway", "dynamodb", "cloudformation", "cognito", "lambda_")


def calls_the_package_makes() -> set[tuple[str, str]]:
    """Every ``aws.<client>(…).<operation>(…)`` in the package's source."""
    found = set()
    for path in (ROOT / "resource" / "authorizer_pools").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if not (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Call)):
                continue
            factory = node.value.func
            if (
                isinstance(factory, ast.Attribute)
                and isinstance(factory.value, ast.Name)
                and factory.value.id == "aws"
                and factory.attr in CLIENTS
            ):
                found.add((factory.attr, node.attr))
    return found


def test_every_call_the_function_makes_is_primed() -> None:
    made = calls_the_package_makes()
    primed = {(client, operation) for client, operation, _ in aws.PRIMED_CALLS}
    assert len(made) >= 15, made  # the scan sees the package's calls
    assert made == primed


@pytest.fixture
def connections(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[object]]:
    """Clients made for this test alone, in a region; every connection they try is refused and
    recorded."""
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)

    tried: list[object] = []

    def no_network(address: object, *args: Any, **kwargs: Any) -> socket.socket:
        tried.append(address)
        raise ConnectionRefusedError(f"no network here: {address}")

    monkeypatch.setattr(socket, "create_connection", no_network)
    monkeypatch.setattr(urllib3.util.connection, "create_connection", no_network)
    factories = [getattr(aws, name) for name in CLIENTS]
    for factory in factories:
        factory.cache_clear()
    yield tried
    for factory in factories:
        factory.cache_clear()


def test_priming_makes_every_call_without_the_network(connections: list[object]) -> None:
    assert aws.prime() == []
    assert connections == []
    # The clients primed are those the function then uses: Cognito's in the function's region.
    assert aws.cognito.cache_info().currsize == 1
    assert aws.cognito("eu-west-1").meta.region_name == "eu-west-1"
    assert aws.apigateway.cache_info().currsize == 1


def test_priming_leaves_the_clients_sending_for_real(connections: list[object]) -> None:
    aws.prime()
    # Once primed, a call goes to the network again (here: refused), not to priming's answer.
    with pytest.raises(EndpointConnectionError):
        aws.dynamodb().get_item(TableName="t", Key={})
    assert connections == [("dynamodb.eu-west-1.amazonaws.com", 443)]


@pytest.mark.usefixtures("connections")
def test_a_call_botocore_will_not_prime_is_reported_not_raised(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(
        aws, "PRIMED_CALLS", (*aws.PRIMED_CALLS, ("dynamodb", "get_item", {"Key": {}}))
    )
    assert aws.prime() == ["get_item"]
