"""Which AWS call a request to the local AWS is: service, region, account and operation.

Accounts: each request's account is resolved exactly as moto resolves it
(``moto.core.responses.BaseResponse.get_current_account``): ``MOTO_ACCOUNT_ID`` in the
environment, else the ``x-moto-account-id`` header, else the account IAM in moto maps the SigV4
access key to, else moto's default 123456789012. The control plane keeps quotas and API locks
per that account, so its state always matches the moto account whose API is being changed.
"""

from __future__ import annotations

import io
import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from moto.iam.models import get_account_id_from

from localaws.awslambda import async_invoke as lambda_async
from localaws.wire import WireProtocol

if TYPE_CHECKING:
    from _typeshed.wsgi import WSGIEnvironment

UNKNOWN_OPERATION = "Unknown"
DEFAULT_REGION = "us-east-1"
DEFAULT_ACCOUNT_ID = "123456789012"

# Method + path → operation name, for the API Gateway REST control plane (botocore's
# apigateway service model gives these request URIs).
_ID = r"[^/]+"
_API = rf"/restapis/(?P<api>{_ID})"
_STAGE = rf"{_API}/stages/(?P<stage>{_ID})"
_METHOD = rf"{_API}/resources/{_ID}/methods/{_ID}"
_APIGATEWAY_ROUTES: list[tuple[str, str, str]] = [
    ("GET", r"/restapis", "GetRestApis"),
    ("POST", r"/restapis", "CreateRestApi"),
    ("GET", _API, "GetRestApi"),
    ("PATCH", _API, "UpdateRestApi"),
    ("PUT", _API, "PutRestApi"),
    ("DELETE", _API, "DeleteRestApi"),
    ("GET", rf"{_API}/authorizers", "GetAuthorizers"),
    ("POST", rf"{_API}/authorizers", "CreateAuthorizer"),
    ("GET", rf"{_API}/authorizers/{_ID}", "GetAuthorizer"),
    ("PATCH", rf"{_API}/authorizers/{_ID}", "UpdateAuthorizer"),
    ("DELETE", rf"{_API}/authorizers/{_ID}", "DeleteAuthorizer"),
    ("POST", rf"{_API}/authorizers/{_ID}", "TestInvokeAuthorizer"),
    ("GET", rf"{_API}/deployments", "GetDeployments"),
    ("POST", rf"{_API}/deployments", "CreateDeployment"),
    ("GET", rf"{_API}/deployments/{_ID}", "GetDeployment"),
    ("PATCH", rf"{_API}/deployments/{_ID}", "UpdateDeployment"),
    ("DELETE", rf"{_API}/deployments/{_ID}", "DeleteDeployment"),
    ("GET", rf"{_API}/stages", "GetStages"),
    ("POST", rf"{_API}/stages", "CreateStage"),
    ("GET", _STAGE, "GetStage"),
    ("PATCH", _STAGE, "UpdateStage"),
    ("DELETE", _STAGE, "DeleteStage"),
    ("DELETE", rf"{_STAGE}/cache/authorizers", "FlushStageAuthorizersCache"),
    ("DELETE", rf"{_STAGE}/cache/data", "FlushStageCache"),
    ("GET", rf"{_STAGE}/exports/{_ID}", "GetExport"),
    ("GET", rf"{_API}/resources", "GetResources"),
    ("GET", rf"{_API}/resources/{_ID}", "GetResource"),
    ("POST", rf"{_API}/resources/{_ID}", "CreateResource"),
    ("PATCH", rf"{_API}/resources/{_ID}", "UpdateResource"),
    ("DELETE", rf"{_API}/resources/{_ID}", "DeleteResource"),
    ("GET", _METHOD, "GetMethod"),
    ("PUT", _METHOD, "PutMethod"),
    ("PATCH", _METHOD, "UpdateMethod"),
    ("DELETE", _METHOD, "DeleteMethod"),
    ("POST", _METHOD, "TestInvokeMethod"),
    ("GET", rf"{_METHOD}/responses/{_ID}", "GetMethodResponse"),
    ("PUT", rf"{_METHOD}/responses/{_ID}", "PutMethodResponse"),
    ("PATCH", rf"{_METHOD}/responses/{_ID}", "UpdateMethodResponse"),
    ("DELETE", rf"{_METHOD}/responses/{_ID}", "DeleteMethodResponse"),
    ("GET", rf"{_METHOD}/integration", "GetIntegration"),
    ("PUT", rf"{_METHOD}/integration", "PutIntegration"),
    ("PATCH", rf"{_METHOD}/integration", "UpdateIntegration"),
    ("DELETE", rf"{_METHOD}/integration", "DeleteIntegration"),
    ("GET", rf"{_METHOD}/integration/responses/{_ID}", "GetIntegrationResponse"),
    ("PUT", rf"{_METHOD}/integration/responses/{_ID}", "PutIntegrationResponse"),
    ("PATCH", rf"{_METHOD}/integration/responses/{_ID}", "UpdateIntegrationResponse"),
    ("DELETE", rf"{_METHOD}/integration/responses/{_ID}", "DeleteIntegrationResponse"),
    ("GET", rf"{_API}/models", "GetModels"),
    ("POST", rf"{_API}/models", "CreateModel"),
    ("GET", rf"{_API}/models/{_ID}", "GetModel"),
    ("PATCH", rf"{_API}/models/{_ID}", "UpdateModel"),
    ("DELETE", rf"{_API}/models/{_ID}", "DeleteModel"),
    ("GET", rf"{_API}/requestvalidators", "GetRequestValidators"),
    ("POST", rf"{_API}/requestvalidators", "CreateRequestValidator"),
    ("GET", rf"{_API}/requestvalidators/{_ID}", "GetRequestValidator"),
    ("PATCH", rf"{_API}/requestvalidators/{_ID}", "UpdateRequestValidator"),
    ("DELETE", rf"{_API}/requestvalidators/{_ID}", "DeleteRequestValidator"),
    ("GET", rf"{_API}/gatewayresponses", "GetGatewayResponses"),
    ("GET", rf"{_API}/gatewayresponses/{_ID}", "GetGatewayResponse"),
    ("PUT", rf"{_API}/gatewayresponses/{_ID}", "PutGatewayResponse"),
    ("PATCH", rf"{_API}/gatewayresponses/{_ID}", "UpdateGatewayResponse"),
    ("DELETE", rf"{_API}/gatewayresponses/{_ID}", "DeleteGatewayResponse"),
    ("GET", r"/account", "GetAccount"),
    ("PATCH", r"/account", "UpdateAccount"),
]
_COMPILED_ROUTES = [
    (method, re.compile(rf"^{pattern}/?$"), name) for method, pattern, name in _APIGATEWAY_ROUTES
]
# The export type in a GetExport path.
EXPORT_TYPE = re.compile(rf"/exports/(?P<type>{_ID})/?$")

# Writes to an API's path that change nothing in the API, so they neither hold nor wait for it.
NON_MUTATING_WRITES = frozenset(
    {"FlushStageAuthorizersCache", "FlushStageCache", "TestInvokeAuthorizer", "TestInvokeMethod"}
)
_MUTATING_METHODS = frozenset({"PATCH", "POST", "PUT", "DELETE"})

# JSON-protocol target prefixes → SigV4 service names, for unsigned calls (Cognito's
# InitiateAuth and friends are unsigned).
_TARGET_PREFIX_SERVICES = {
    "AWSCognitoIdentityProviderService": "cognito-idp",
    "AWSCognitoIdentityService": "cognito-identity",
    "DynamoDB_20120810": "dynamodb",
    "DynamoDBStreams_20120810": "dynamodbstreams",
}
_CREDENTIAL = re.compile(
    r"Credential=(?P<key>[^/,\s]+)/(?P<date>\d{8})/(?P<region>[^/]+)/(?P<service>[^/]+)/aws4_request"
)


@dataclass(frozen=True)
class RequestInfo:
    """What the middleware knows about one request."""

    service: str
    region: str
    account_id: str
    access_key_id: str | None
    operation: str
    protocol: WireProtocol
    method: str
    path: str
    api_id: str | None
    stage_name: str | None
    headers: Mapping[str, str]
    body: bytes

    @property
    def is_mutating(self) -> bool:
        """Whether this call changes a REST API (and so holds it, and can conflict)."""
        return (
            self.service == "apigateway"
            and self.api_id is not None
            and self.method in _MUTATING_METHODS
            and self.operation not in NON_MUTATING_WRITES
        )

    def json_body(self) -> Any:
        """The body parsed as JSON, or None (for fault predicates)."""
        try:
            return json.loads(self.body) if self.body else None
        except ValueError:
            return None


def identify(environ: WSGIEnvironment) -> RequestInfo:
    """Service, region, account and operation of a WSGI request.

    Reads the body and puts it back, so the wrapped application still sees it.
    """
    method = str(environ.get("REQUEST_METHOD", "GET")).upper()
    path = str(environ.get("PATH_INFO", "") or "/")
    headers = _headers_of(environ)
    body = _read_body(environ)
    access_key: str | None = None
    service = "unknown"
    region = DEFAULT_REGION
    credential = _CREDENTIAL.search(headers.get("authorization", ""))
    target = headers.get("x-amz-target")
    if credential is not None:
        access_key = credential["key"]
        service = credential["service"].lower()
        region = credential["region"]
    elif target:
        service = _TARGET_PREFIX_SERVICES.get(target.split(".", 1)[0], "unknown")

    content_type = headers.get("content-type", "")
    protocol: WireProtocol
    operation = UNKNOWN_OPERATION
    api_id: str | None = None
    stage_name: str | None = None
    if target:
        protocol = "json"
        operation = target.rsplit(".", 1)[-1]
    elif service == "apigateway":
        protocol = "rest-json"
        for route_method, pattern, name in _COMPILED_ROUTES:
            if route_method != method:
                continue
            match = pattern.match(path)
            if match is not None:
                operation = name
                groups = match.groupdict()
                api_id = groups.get("api")
                stage_name = groups.get("stage")
                break
        else:
            # Unknown operations still belong to an API when the path names one, so they are
            # subject to the same conflicts as known changes.
            api_match = re.match(rf"^{_API}(?:/|$)", path)
            api_id = api_match["api"] if api_match else None
    elif content_type.startswith("application/x-www-form-urlencoded"):
        protocol = "query"
        action = re.search(rb"(?:^|&)Action=([A-Za-z0-9]+)", body)
        if action is not None:
            operation = action[1].decode()
    elif service == "lambda" and lambda_async.is_invoke(method, path):
        protocol = "rest-json"
        operation = "Invoke"
    elif service == "s3":
        protocol = "rest-xml"
    else:
        protocol = "rest-json"
    return RequestInfo(
        service=service,
        region=region,
        account_id=_account_of(headers, access_key),
        access_key_id=access_key,
        operation=operation,
        protocol=protocol,
        method=method,
        path=path,
        api_id=api_id,
        stage_name=stage_name,
        headers=headers,
        body=body,
    )


def _headers_of(environ: WSGIEnvironment) -> dict[str, str]:
    headers = {
        key[5:].replace("_", "-").lower(): str(value)
        for key, value in environ.items()
        if key.startswith("HTTP_")
    }
    for key in ("CONTENT_TYPE", "CONTENT_LENGTH"):
        if environ.get(key):
            headers[key.replace("_", "-").lower()] = str(environ[key])
    return headers


def _read_body(environ: WSGIEnvironment) -> bytes:
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    stream = environ["wsgi.input"]
    body: bytes
    if length > 0:
        body = stream.read(length)
    elif environ.get("wsgi.input_terminated"):
        # A chunked body (no Content-Length): werkzeug has de-chunked it, read to the end.
        body = stream.read()
    else:
        body = b""
    environ["wsgi.input"] = io.BytesIO(body)
    return body


def _account_of(headers: Mapping[str, str], access_key: str | None) -> str:
    # The same order as moto's BaseResponse.get_current_account, so that quotas and locks are
    # keyed by the account whose moto state the request actually changes.
    if "MOTO_ACCOUNT_ID" in os.environ:
        return os.environ["MOTO_ACCOUNT_ID"]
    if "x-moto-account-id" in headers:
        return headers["x-moto-account-id"]
    if access_key is None:
        return DEFAULT_ACCOUNT_ID
    return get_account_id_from(access_key)
