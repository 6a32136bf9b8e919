"""localaws.server: LocalAws starts on a free port and leaves nothing behind."""

from __future__ import annotations

import socket
import threading
from typing import Any

import boto3
import pytest

from localaws.apigateway.flush import FLUSH_JOURNAL
from localaws.server import PROXY_VARIABLES, LocalAws


def apigateway(aws: LocalAws) -> Any:
    return boto3.client(
        "apigateway",
        endpoint_url=aws.endpoint_url,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


def test_stop_releases_the_port_and_every_thread() -> None:
    before = set(threading.enumerate())
    aws = LocalAws().start()
    port = aws.port
    apigateway(aws).get_rest_apis()  # leaves a pooled keep-alive connection behind
    idle = socket.create_connection(("127.0.0.1", port))  # a client that never says anything
    try:
        aws.stop()
    finally:
        idle.close()
    assert not aws.running
    assert set(threading.enumerate()) <= before
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", port), timeout=5).close()
    with socket.socket() as probe:
        # SO_REUSEADDR as every server sets it: closed connections may linger in TIME_WAIT.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        probe.bind(("127.0.0.1", port))
    aws.stop()  # idempotent


def test_start_twice_is_refused() -> None:
    with LocalAws() as aws, pytest.raises(RuntimeError):
        aws.start()


def test_env_points_children_at_the_server_without_proxies() -> None:
    with LocalAws() as aws:
        env = aws.env()
        assert env["AWS_ENDPOINT_URL"] == aws.endpoint_url
        assert aws.endpoint_url.startswith("http://127.0.0.1:")
        assert env["AWS_REGION"] == env["AWS_DEFAULT_REGION"] == "us-east-1"
        assert env["AWS_ACCESS_KEY_ID"] == env["AWS_SECRET_ACCESS_KEY"] == "testing"
        assert all(env[name] == "" for name in PROXY_VARIABLES)
        merged = aws.apply_env(
            {"HTTPS_PROXY": "http://proxy:3128", "AWS_PROFILE": "prod", "X": "1"}
        )
        assert not set(PROXY_VARIABLES) & set(merged)
        assert "AWS_PROFILE" not in merged
        assert merged["X"] == "1"


def test_reset_forgets_moto_state_journal_and_control_plane() -> None:
    with LocalAws() as aws:
        client = apigateway(aws)
        api_id = client.create_rest_api(name="x")["id"]
        aws.control_plane.inject("GetRestApis", 500, "InternalFailure", "boom")
        aws.control_plane.enable_model()
        FLUSH_JOURNAL.record("123456789012", "us-east-1", api_id, "prod")
        aws.reset()
        assert aws.control_plane.config.model_enabled is False
        assert client.get_rest_apis()["items"] == []  # the fault is gone too
        assert len(FLUSH_JOURNAL) == 0
        assert aws.control_plane.counter("GetRestApis").calls == 1
