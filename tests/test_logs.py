"""The ResponseURL is a pre-signed URL: no log line may carry its signature."""

from __future__ import annotations

import json
import logging

import pytest

import authorizer_pools
from authorizer_pools import logs
from authorizer_pools.request import parse

# The fast tier (make test-fast): no local AWS, seconds in all.
pytestmark = pytest.mark.fast

URL = (
    "https://cloudformation-custom-resource-response-useast1.s3.amazonaws.com/"
    "arn%3Aaws%3Acloudformation%3Aus-east-1%3A123456789012%3Astack/tenant/abc%7CReg%7Creq"
    "?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Date=20261129T000000Z&X-Amz-SignedHeaders=host"
    "&X-Amz-Expires=7200&X-Amz-Credential=AKIA%2F20261129%2Fus-east-1%2Fs3%2Faws4_request"
    "&X-Amz-Signature=0f1e2d3c4b5a69788796a5b4c3d2e1f00f1e2d3c4b5a69788796a5b4c3d2e1f0"
)
SIGNATURE = "0f1e2d3c4b5a69788796a5b4c3d2e1f00f1e2d3c4b5a69788796a5b4c3d2e1f0"
V2_URL = "https://bucket.s3.amazonaws.com/key?AWSAccessKeyId=AKIA&Expires=1&Signature=c2VjcmV0"


def test_redaction_keeps_where_the_url_points_but_not_its_query() -> None:
    assert logs.redact(URL) == URL.split("?", maxsplit=1)[0] + "?<redacted>"
    assert "c2VjcmV0" not in logs.redact(V2_URL)
    event = {"ResponseURL": URL, "Nested": [f"sent to {URL} ok"]}
    cleaned = logs.redact(event)
    assert SIGNATURE not in repr(cleaned)
    assert cleaned["Nested"][0].endswith("?<redacted> ok")


def test_unsigned_urls_and_other_text_are_left_alone() -> None:
    text = "see https://docs.aws.amazon.com/apigateway/?topic=x for details"
    assert logs.redact(text) == text


@pytest.mark.parametrize("logger_name", ["crhelper.resource_helper", "crhelper.utils"])
def test_crhelpers_debug_lines_lose_the_signature(
    logger_name: str, caplog: pytest.LogCaptureFixture
) -> None:
    logs.install_redaction()
    with caplog.at_level(logging.DEBUG, logger=logger_name):
        logging.getLogger(logger_name).debug({"RequestType": "Create", "ResponseURL": URL})
        logging.getLogger(logger_name).debug(f"CFN response URL: {URL}")
    assert len(caplog.records) == 2
    assert SIGNATURE not in caplog.text
    assert all(SIGNATURE not in str(record.msg) for record in caplog.records)


@pytest.mark.parametrize("logger_name", ["crhelper.resource_helper", "authorizer_pools"])
def test_a_traceback_quoting_the_url_loses_the_signature_at_every_level(
    logger_name: str, caplog: pytest.LogCaptureFixture
) -> None:
    logs.install_redaction()
    with caplog.at_level(logging.DEBUG, logger=logger_name):
        try:
            raise RuntimeError(f"could not PUT to {URL}")
        except RuntimeError:
            for level in (logging.DEBUG, logging.ERROR):
                logging.getLogger(logger_name).log(level, "failed", exc_info=True)
    assert len(caplog.records) == 2
    assert all(
        "RuntimeError: could not PUT to https://" in (r.exc_text or "") for r in caplog.records
    )
    assert SIGNATURE not in caplog.text
    # What crhelper's JSON formatter writes: its ``exception`` field.
    from crhelper.log_helper import JsonFormatter  # noqa: PLC0415

    assert all(SIGNATURE not in JsonFormatter().format(r) for r in caplog.records)


def test_a_step_is_one_structured_line_naming_stack_logical_id_outcome_and_release(
    caplog: pytest.LogCaptureFixture,
) -> None:
    request = parse(
        {
            "RequestType": "Create",
            "ResponseURL": "https://example.com/",
            "StackId": "arn:aws:cloudformation:us-east-1:123456789012:stack/tenant-acme/5b9c",
            "RequestId": "6c4fe2ce-9cc6-4d0a-8ad1-8a6f2d6fd0b1",
            "LogicalResourceId": "TenantPoolRegistration",
        }
    )
    with caplog.at_level(logging.INFO, logger="authorizer_pools"):
        logs.step(request, "add-pool", "add", api="a1b2c3d4e5")
    (record,) = caplog.records
    assert record.msg == {
        "step": "add-pool",
        "outcome": "add",
        "version": authorizer_pools.__version__,
        "requestType": "Create",
        "stack": "tenant-acme",
        "logicalId": "TenantPoolRegistration",
        "api": "a1b2c3d4e5",
    }


def test_a_continuations_nonce_is_never_logged() -> None:
    """crhelper logs the whole event at DEBUG, continuation marker included: with the request's
    id, the nonce would let its reader start the request's next continuation."""
    marker = {"AuthorizerPoolsContinuation": {"attempt": 2, "nonce": "Zm9vYmFyYmF6"}}
    assert logs.redact({"RequestId": "r", **marker}) == {
        "RequestId": "r",
        "AuthorizerPoolsContinuation": {"attempt": 2, "nonce": "<redacted>"},
    }
    assert "Zm9vYmFyYmF6" not in logs.redact(str(marker))
    assert "Zm9vYmFyYmF6" not in logs.redact(json.dumps(marker))
