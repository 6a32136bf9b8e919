"""localaws.cloudformation.response_receiver: CloudFormation's end of the pre-signed ResponseURL."""

from __future__ import annotations

import http.client
import json
import os
import re
import socket
import ssl
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import trustme

from localaws.cloudformation.response_receiver import ResponseReceiver, validate_answer

STACK_ID = "arn:aws:cloudformation:us-east-1:123456789012:stack/tenant-a/0f7d2d4c"
LOGICAL_ID = "TenantPool"
URL_SHAPE = re.compile(
    r"^https://cloudformation-custom-resource-response-useast1\.s3\.amazonaws\.com/"
    r"arn%3Aaws%3Acloudformation%3Aus-east-1%3A123456789012%3Astack/tenant-a/0f7d2d4c"
    r"%7CTenantPool%7C(?P<request>[0-9a-f-]+)"
    r"\?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Date=\d{8}T\d{6}Z&X-Amz-Expires=7200"
    r"&X-Amz-SignedHeaders=host&X-Amz-Credential=AKIA[0-9A-F]{16}%2F\d{8}%2Fus-east-1%2Fs3"
    r"%2Faws4_request&X-Amz-Signature=(?P<signature>[0-9a-f]{64})$"
)


@pytest.fixture(scope="module")
def receiver() -> Iterator[ResponseReceiver]:
    with ResponseReceiver() as running:
        yield running


@pytest.fixture
def trusted(receiver: ResponseReceiver, monkeypatch: pytest.MonkeyPatch) -> ResponseReceiver:
    """The receiver, with this process trusting its CA the way a child would (SSL_CERT_FILE)."""
    monkeypatch.setenv("SSL_CERT_FILE", receiver.ca_file)
    receiver.clear()
    return receiver


def answer(request_id: str, **changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "Status": "SUCCESS",
        "PhysicalResourceId": "tenant-a|pool",
        "StackId": STACK_ID,
        "RequestId": request_id,
        "LogicalResourceId": LOGICAL_ID,
        "Reason": "",
        "Data": {},
        "NoEcho": False,
    }
    body.update(changes)
    return {key: value for key, value in body.items() if value is not ...}


def put(
    receiver: ResponseReceiver, url: str, body: bytes, method: str = "PUT", host: str = ""
) -> int:
    """Send as an S3 client pointed at the receiver (``AWS_ENDPOINT_URL_S3``) does: to the
    endpoint, with the URL's host in the Host header, the default TLS context."""
    parts, endpoint = urlsplit(url), urlsplit(receiver.endpoint_url)
    connection = http.client.HTTPSConnection(
        str(endpoint.hostname), endpoint.port, context=ssl.create_default_context(), timeout=10
    )
    try:
        connection.request(
            method,
            f"{parts.path}?{parts.query}",
            body=body,
            headers={
                "Host": host or str(parts.hostname),
                "content-type": "",
                "content-length": str(len(body)),
            },
        )
        return connection.getresponse().status
    finally:
        connection.close()


def new_url(receiver: ResponseReceiver, request_id: str) -> str:
    return receiver.response_url(request_id, stack_id=STACK_ID, logical_resource_id=LOGICAL_ID)


def test_urls_look_pre_signed_with_a_fresh_secret_each(receiver: ResponseReceiver) -> None:
    request_id = "5f9b6f8e-1d3c-4c1e-9a3b-2b0c1f0e6a11"
    first, second = new_url(receiver, request_id), new_url(receiver, request_id)
    shapes = [URL_SHAPE.match(url) for url in (first, second)]
    assert all(shapes)
    signatures = [m["signature"] for m in shapes if m]
    assert signatures[0] != signatures[1]
    assert receiver.issued(request_id).signature == signatures[1]
    assert signatures[1] in receiver.secrets()
    assert signatures[1] not in repr(receiver.issued(request_id))


def test_a_put_through_the_endpoint_delivers_a_valid_answer(trusted: ResponseReceiver) -> None:
    request_id = "7c1e2d3f-0000-4000-8000-000000000001"
    body = json.dumps(answer(request_id, Data={"PoolCount": "2"})).encode()
    assert put(trusted, new_url(trusted, request_id), body) == 200
    received = trusted.wait_for(request_id, timeout=10)
    assert received.valid, received.problems
    assert received.status == "SUCCESS"
    assert received.physical_resource_id == "tenant-a|pool"
    assert received.data == {"PoolCount": "2"}


def test_every_answer_is_kept_so_duplicates_show(trusted: ResponseReceiver) -> None:
    request_id = "7c1e2d3f-0000-4000-8000-000000000002"
    url = new_url(trusted, request_id)
    assert put(trusted, url, json.dumps(answer(request_id)).encode()) == 200
    failed = answer(request_id, Status="FAILED", Reason="late timer")
    assert put(trusted, url, json.dumps(failed).encode()) == 200
    assert [a.status for a in trusted.answers(request_id)] == ["SUCCESS", "FAILED"]
    assert trusted.wait_for(request_id, timeout=1).status == "SUCCESS"


def test_puts_to_urls_not_issued_and_other_methods_are_refused(trusted: ResponseReceiver) -> None:
    request_id = "7c1e2d3f-0000-4000-8000-000000000003"
    url = new_url(trusted, request_id)
    forged = url[:-64] + "0" * 64
    assert put(trusted, forged, json.dumps(answer(request_id)).encode()) == 403
    assert put(trusted, url, b"", method="GET") == 405
    assert trusted.answers(request_id) == []
    assert [(r.method, r.status) for r in trusted.rejected()] == [("PUT", 403), ("GET", 405)]


def test_a_put_to_another_host_or_an_expired_url_is_refused_as_s3_would(
    trusted: ResponseReceiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    request_id = "7c1e2d3f-0000-4000-8000-000000000006"
    url = new_url(trusted, request_id)
    body = json.dumps(answer(request_id)).encode()
    assert put(trusted, url, body, host="localhost") == 403
    monkeypatch.setattr(
        "localaws.cloudformation.response_receiver.time.time", lambda: 4_000_000_000.0
    )
    assert put(trusted, url, body) == 403
    assert trusted.answers(request_id) == []
    assert [r.reason for r in trusted.rejected()] == [
        "PUT to another bucket's host",
        "Request has expired",
    ]


def test_a_sigv2_url_carries_no_signing_time_and_is_taken_too(trusted: ResponseReceiver) -> None:
    request_id = "7c1e2d3f-0000-4000-8000-000000000007"
    url = trusted.response_url(
        request_id, stack_id=STACK_ID, logical_resource_id=LOGICAL_ID, signature_version=2
    )
    assert "X-Amz-Date" not in url
    assert "&Expires=" in url
    assert put(trusted, url, json.dumps(answer(request_id)).encode()) == 200
    assert trusted.wait_for(request_id, timeout=10).valid


def test_wait_for_names_the_request_it_timed_out_on(trusted: ResponseReceiver) -> None:
    with pytest.raises(TimeoutError, match="never-answered"):
        trusted.wait_for("never-answered", timeout=0.01)


def test_an_invalid_answer_is_recorded_with_its_problems(trusted: ResponseReceiver) -> None:
    request_id = "7c1e2d3f-0000-4000-8000-000000000004"
    bad = answer(request_id, Status="FAILED", Reason="", PhysicalResourceId="")
    assert put(trusted, new_url(trusted, request_id), json.dumps(bad).encode()) == 200
    received = trusted.wait_for(request_id, timeout=10)
    assert not received.valid
    assert any("Reason is required" in p for p in received.problems)
    assert any("PhysicalResourceId" in p for p in received.problems)


ISSUED_ID = "7c1e2d3f-0000-4000-8000-0000000000ff"


@pytest.mark.parametrize(
    ("changes", "problem"),
    [
        ({"Status": "OK"}, "Status must be SUCCESS or FAILED"),
        ({"Status": "FAILED", "Reason": ""}, "Reason is required"),
        ({"Status": "FAILED", "Reason": ...}, "Reason is required"),
        ({"PhysicalResourceId": ""}, "PhysicalResourceId must be a non-empty string"),
        ({"PhysicalResourceId": ...}, "PhysicalResourceId must be a non-empty string"),
        ({"PhysicalResourceId": "x" * 1025}, "PhysicalResourceId is 1025 bytes"),
        ({"StackId": ...}, "StackId must be echoed"),
        ({"LogicalResourceId": "Other"}, "LogicalResourceId 'Other' does not match"),
        ({"RequestId": "someone-else"}, "RequestId 'someone-else' does not match"),
        ({"Data": ["a"]}, "Data must be an object"),
        ({"NoEcho": "false"}, "NoEcho must be a boolean"),
        ({"Extra": 1}, "unknown keys in the answer: Extra"),
        ({"Data": {"Blob": "x" * 4000}}, "Response object is too long"),
    ],
)
def test_cloudformation_checks_of_an_answer(
    receiver: ResponseReceiver, changes: dict[str, Any], problem: str
) -> None:
    new_url(receiver, ISSUED_ID)
    body = json.dumps(answer(ISSUED_ID, **changes)).encode()
    _, problems = validate_answer(body, receiver.issued(ISSUED_ID))
    assert any(p.startswith(problem) for p in problems), problems


def test_a_physical_id_of_exactly_1024_bytes_and_a_4096_byte_body_pass() -> None:
    body = answer(ISSUED_ID, PhysicalResourceId="p" * 1024, Data={"Pad": ""})
    body["Data"]["Pad"] = "x" * (4096 - len(json.dumps(body)))
    encoded = json.dumps(body).encode()
    assert len(encoded) == 4096
    document, problems = validate_answer(encoded, None)
    assert problems == []
    assert document is not None


@pytest.mark.parametrize("body", [b"not json", b"[1, 2]"])
def test_a_body_that_is_not_a_json_object_is_a_problem(body: bytes) -> None:
    document, problems = validate_answer(body, None)
    assert document is None
    assert len(problems) == 1


def test_stop_frees_the_port_removes_the_ca_and_joins_threads() -> None:
    before = set(threading.enumerate())
    receiver = ResponseReceiver().start()
    port, ca_file = receiver.port, receiver.ca_file
    assert Path(ca_file).read_text().startswith("-----BEGIN CERTIFICATE-----")
    receiver.stop()
    assert not os.path.exists(ca_file)
    assert set(threading.enumerate()) <= before
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", port), timeout=5).close()


def test_a_client_that_does_not_trust_the_ca_is_refused() -> None:
    # A receiver of its own: the failed handshake is recorded asynchronously by the server.
    with ResponseReceiver() as receiver:
        request_id = "7c1e2d3f-0000-4000-8000-000000000005"
        parts = urlsplit(new_url(receiver, request_id))
        endpoint = urlsplit(receiver.endpoint_url)
        # Well-formed, but not the CA that signed this server.
        untrusting = ssl.create_default_context(cadata=trustme.CA().cert_pem.bytes().decode())
        connection = http.client.HTTPSConnection(
            str(endpoint.hostname), endpoint.port, context=untrusting, timeout=10
        )
        with pytest.raises(ssl.SSLCertVerificationError):
            connection.request("PUT", parts.path, body=b"{}")
        connection.close()
        assert receiver.answers(request_id) == []
