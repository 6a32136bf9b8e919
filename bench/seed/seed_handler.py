"""The seed's sequence, for comparison: per registration, update the authorizer, then flush and
deploy every stage, with botocore's standard retries and no coalescing.

Bench code, not the product. Like the product it answers CloudFormation through crhelper and
runs in its own Lambda-like process per concurrent registration.
"""

from __future__ import annotations

import http.client
import json
import os
import ssl
import time
from typing import Any
from urllib.parse import urlsplit

import boto3
import botocore.endpoint
from botocore.config import Config
from crhelper import CfnResource


class _SystemClock:
    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)


# The harness replaces this with a clock compressed like the model's; botocore's own retry
# waits go through it (below), so the seed's waits are compressed by the same factor.
clock: Any = _SystemClock()


class _Time:
    def __getattr__(self, name: str) -> Any:
        return getattr(time, name)

    def sleep(self, seconds: float) -> None:
        clock.sleep(seconds)


botocore.endpoint.time = _Time()  # type: ignore[attr-defined]

helper = CfnResource(json_logging=False, log_level="WARNING", sleep_on_delete=0)


def _send_response(url: str, body: dict[str, Any], ssl_verify: object) -> None:
    """crhelper's PUT, to the local AWS's S3 endpoint (``AWS_ENDPOINT_URL_S3``: the response
    bucket's host has no DNS here), with the bucket's host in the Host header."""
    target, endpoint = urlsplit(url), urlsplit(os.environ["AWS_ENDPOINT_URL_S3"])
    payload = json.dumps(body).encode()
    connection = http.client.HTTPSConnection(
        str(endpoint.hostname), endpoint.port, context=ssl.create_default_context()
    )
    connection.request(
        "PUT",
        f"{target.path}?{target.query}",
        body=payload,
        headers={
            "Host": str(target.hostname),
            "content-type": "",
            "content-length": str(len(payload)),
        },
    )
    connection.getresponse().read()
    connection.close()


_crhelpers_send: Any = CfnResource._send  # type: ignore[attr-defined]
helper._send = lambda status=None, reason="": _crhelpers_send(  # type: ignore[attr-defined]
    helper, status, reason, send_response=_send_response
)
client = boto3.client("apigateway", config=Config(retries={"mode": "standard"}))


def _change(event: dict[str, Any], op: Any) -> str:
    props = event["ResourceProperties"]
    api, authorizer, pool = props["RestApiId"], props["AuthorizerId"], props["UserPoolArn"]
    client.update_authorizer(
        restApiId=api,
        authorizerId=authorizer,
        patchOperations=[{"op": op, "path": "/providerARNs", "value": pool}],
    )
    for stage in props["StageNames"]:
        client.flush_stage_authorizers_cache(restApiId=api, stageName=stage)
        client.create_deployment(restApiId=api, stageName=stage)
    return f"{api}:{authorizer}:{pool}"


@helper.create
def create(event: dict[str, Any], context: Any) -> str:
    return _change(event, "add")


@helper.delete
def delete(event: dict[str, Any], context: Any) -> None:
    if event["PhysicalResourceId"].count(":") >= 2:
        _change(event, "remove")


def handler(event: dict[str, Any], context: Any) -> None:
    helper(event, context)
