"""GetExport of a stage: the OpenAPI document of the deployment the stage serves.

Reproduces: ``GetExport``
(``GET /restapis/{id}/stages/{stage}/exports/{oas30|swagger}``; API reference, GetExport;
developer guide, "Export a REST API from API Gateway" and the ``x-amazon-apigateway-authorizer``
/ ``-authtype`` / ``-integration`` extension pages). moto's export ignores the stage and the
type, reads the API's *current* state and knows no authorizer. ``get_export`` builds the
document from the stage's base deployment snapshot (``apigateway.snapshots``):
``securitySchemes`` (OpenAPI 3) or ``securityDefinitions`` (Swagger 2) keyed by authorizer name,
each ``{"type": "apiKey", "name": <identity-source header>, "in": "header"}``, with
``x-amazon-apigateway-authtype`` and ``x-amazon-apigateway-authorizer`` (for Cognito:
``{"type": "cognito_user_pools", "providerARNs": [...]}``) only when ``extensions`` includes
``authorizers`` or ``apigateway``; ``x-amazon-apigateway-integration`` only with
``integrations`` or ``apigateway``.

Where AWS's behaviour is not documented, this module refuses (HTTP 400 BadRequestException):
``extensions=postman``, an unknown extension or parameter, ``Accept: application/yaml`` (no
YAML writer here). An emulator kinder than AWS hides bugs.

What GetExport puts around the security schemes is API Gateway's usual export layout (``info``
with the deployment's date as ``version``, ``servers`` / ``host`` + ``basePath``, ``paths`` with
each method's ``security`` and responses) but AWS does not document it field by field: code
should read only ``components.securitySchemes`` / ``securityDefinitions``. Only authorizers some
method of the deployment uses are exported (undocumented either way: code must not rely on an
unused authorizer appearing).
"""

from __future__ import annotations

import copy
import json
import re
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl

from localaws.apigateway.authorizers import COGNITO_USER_POOLS
from localaws.apigateway.snapshots import (
    SNAPSHOTS,
    AuthorizerSnapshot,
    DeploymentSnapshot,
    MethodSnapshot,
)
from localaws.apigateway.state import MODEL_LOCK, api_or_none
from localaws.wire import HttpAnswer, error_answer, new_request_id

# GetExport (API reference): exportType 'oas30' or 'swagger'; parameters
# extensions=integrations|apigateway|authorizers|postman ("any combination").
EXPORT_TYPES = ("oas30", "swagger")
_EXTENSIONS = frozenset({"integrations", "apigateway", "authorizers", "postman"})
_HEADER_SOURCE = re.compile(r"^method\.request\.header\.(?P<name>[^\s,]+)$")


def get_export(
    account_id: str,
    region: str,
    api_id: str,
    stage_name: str,
    export_type: str,
    query: str = "",
    accept: str | None = None,
) -> HttpAnswer:
    """Answer GetExport of a stage: the OpenAPI document of the deployment the stage's *base*
    serves (a canary is not exported), as ``application/json``.

    ``query`` is the raw query string (``extensions=authorizers`` ...), ``accept`` the
    request's Accept header. 404 NotFoundException for a missing API or stage (API Gateway's
    wire shape and moto's messages), 400 BadRequestException for an unknown export type and
    for what is not modelled (see the module docstring).
    """
    with MODEL_LOCK:
        api = api_or_none(account_id, region, api_id)
        if api is None:
            return error_answer(
                "rest-json", 404, "NotFoundException", "Invalid Rest API Id specified"
            )
        stage = api.stages.get(stage_name)
        if stage is None:
            return error_answer(
                "rest-json", 404, "NotFoundException", "Invalid stage identifier specified"
            )
        if export_type not in EXPORT_TYPES:
            # moto's message for an unknown type (AWS documents only the two accepted ones).
            return _bad_request(f"No API exporter for type '{export_type}'")
        extensions = _export_extensions(query)
        if isinstance(extensions, HttpAnswer):
            return extensions
        refused = _refused_accept(accept)
        if refused is not None:
            return refused
        deployment_id = stage.deployment_id
        snapshot = (
            SNAPSHOTS.get((account_id, region, api_id, deployment_id))
            if deployment_id is not None
            else None
        )
        if snapshot is None:
            return _bad_request(
                f"Stage '{stage_name}' serves deployment {deployment_id!r}, of which this "
                "emulator holds no snapshot (made before install(), or no such deployment)"
            )
        document = export_document(
            snapshot, export_type, extensions, api_id=api_id, region=region, stage=stage_name
        )
    body = json.dumps(document, indent=2).encode()
    headers = (
        ("x-amzn-RequestId", new_request_id()),
        ("Content-Type", "application/json"),
        ("Content-Disposition", f'attachment; filename="{api_id}-{stage_name}-{export_type}.json"'),
        ("Content-Length", str(len(body))),
    )
    return HttpAnswer(status=200, headers=headers, body=body)


def _bad_request(message: str) -> HttpAnswer:
    return error_answer("rest-json", 400, "BadRequestException", message)


def _export_extensions(query: str) -> frozenset[str] | HttpAnswer:
    """The ``extensions`` asked for (comma-separated), or the 400 refusing the query."""
    pairs = parse_qsl(query, keep_blank_values=True)
    names = [name for name, _ in pairs]
    unknown = sorted({name for name in names if name != "extensions"})
    if unknown:
        return _bad_request(f"GetExport parameter(s) not modelled: {', '.join(unknown)}")
    if len(names) > 1:
        return _bad_request("GetExport parameter 'extensions' given more than once")
    if not pairs:
        return frozenset()
    requested = [part.strip() for part in pairs[0][1].split(",")]
    wrong = sorted({part for part in requested if part not in _EXTENSIONS})
    if wrong:
        return _bad_request(f"Unknown export extension(s): {', '.join(repr(w) for w in wrong)}")
    if "postman" in requested:
        return _bad_request("extensions=postman is not modelled (no Postman extension writer)")
    return frozenset(requested)


def _refused_accept(accept: str | None) -> HttpAnswer | None:
    """None when a JSON document may be answered; botocore always sends an Accept header."""
    types = {part.split(";", 1)[0].strip().lower() for part in (accept or "").split(",")}
    types.discard("")
    if not types or types & {"application/json", "*/*"}:
        return None
    if "application/yaml" in types:
        return _bad_request("Accept: application/yaml is not modelled: ask for application/json")
    return _bad_request(f"Unsupported Accept {accept!r}: application/json or application/yaml")


def export_document(
    snapshot: DeploymentSnapshot,
    export_type: str,
    extensions: frozenset[str],
    *,
    api_id: str,
    region: str,
    stage: str,
) -> dict[str, Any]:
    """The OpenAPI 3.0 (``oas30``) or Swagger 2.0 (``swagger``) document of a deployment."""
    with_authorizers = bool(extensions & {"authorizers", "apigateway"})
    with_integrations = bool(extensions & {"integrations", "apigateway"})
    oas30 = export_type == "oas30"
    info: dict[str, Any] = {"title": snapshot.api_name}
    if snapshot.api_description:
        info["description"] = snapshot.api_description
    info["version"] = datetime.fromtimestamp(snapshot.created_date, UTC).strftime(
        "%Y-%m-%dT%H:%M:%SZ"
    )
    schemes: dict[str, Any] = {}
    paths: dict[str, Any] = {}
    for method in snapshot.methods:
        operation: dict[str, Any] = {
            "responses": {
                code: {"description": f"{code} response", **({"content": {}} if oas30 else {})}
                for code in method.response_codes
            }
        }
        security = _method_security(method, snapshot, schemes, with_authorizers)
        if security:
            operation["security"] = security
        if with_integrations and method.integration is not None:
            operation["x-amazon-apigateway-integration"] = copy.deepcopy(dict(method.integration))
        key = "x-amazon-apigateway-any-method" if method.http_method == "ANY" else None
        paths.setdefault(method.path, {})[key or method.http_method.lower()] = operation
    host = f"{api_id}.execute-api.{region}.amazonaws.com" + (
        ".cn" if region.startswith("cn-") else ""
    )
    document: dict[str, Any]
    if oas30:
        document = {
            "openapi": "3.0.1",
            "info": info,
            "servers": [
                {
                    "url": f"https://{host}/{{basePath}}",
                    "variables": {"basePath": {"default": f"/{stage}"}},
                }
            ],
            "paths": paths,
        }
        if schemes:
            document["components"] = {"securitySchemes": schemes}
    else:
        document = {
            "swagger": "2.0",
            "info": info,
            "host": host,
            "basePath": f"/{stage}",
            "schemes": ["https"],
            "paths": paths,
        }
        if schemes:
            document["securityDefinitions"] = schemes
    return document


def _method_security(
    method: MethodSnapshot,
    snapshot: DeploymentSnapshot,
    schemes: dict[str, Any],
    with_authorizers: bool,
) -> list[dict[str, list[str]]]:
    """A method's OpenAPI ``security``; adds the schemes it names to ``schemes``."""
    security: list[dict[str, list[str]]] = []
    authorizer = snapshot.authorizers.get(method.authorizer_id or "")
    if method.authorization_type in (COGNITO_USER_POOLS, "CUSTOM") and authorizer is not None:
        scopes = list(method.authorization_scopes) if authorizer.type == COGNITO_USER_POOLS else []
        security.append({authorizer.name: scopes})
        schemes[authorizer.name] = _security_scheme(authorizer, with_authorizers)
    elif method.authorization_type == "AWS_IAM":
        security.append({"sigv4": []})
        sigv4: dict[str, Any] = {"type": "apiKey", "name": "Authorization", "in": "header"}
        if with_authorizers:
            sigv4["x-amazon-apigateway-authtype"] = "awsSigv4"
        schemes["sigv4"] = sigv4
    if method.api_key_required:
        security.append({"api_key": []})
        schemes["api_key"] = {"type": "apiKey", "name": "x-api-key", "in": "header"}
    return security


def _security_scheme(authorizer: AuthorizerSnapshot, with_extension: bool) -> dict[str, Any]:
    """An authorizer's security scheme (developer guide, "x-amazon-apigateway-authorizer
    object"): an apiKey scheme on its identity-source header, and with the extension its
    x-amazon-apigateway-authtype and x-amazon-apigateway-authorizer."""
    header = _HEADER_SOURCE.match(authorizer.identity_source or "")
    scheme: dict[str, Any] = {
        "type": "apiKey",
        # The docs' name for identity sources that are not one header.
        "name": header["name"] if header else "Unused",
        "in": "header",
    }
    if not with_extension:
        return scheme
    extension: dict[str, Any]
    if authorizer.type == COGNITO_USER_POOLS:
        scheme["x-amazon-apigateway-authtype"] = "cognito_user_pools"
        extension = {"type": "cognito_user_pools", "providerARNs": list(authorizer.provider_arns)}
    else:
        scheme["x-amazon-apigateway-authtype"] = authorizer.auth_type or "custom"
        extension = {"type": authorizer.type.lower()}
        optional: dict[str, Any] = {
            "authorizerUri": authorizer.authorizer_uri,
            "authorizerCredentials": authorizer.authorizer_credentials,
            "identitySource": authorizer.identity_source if authorizer.type == "REQUEST" else None,
            "identityValidationExpression": authorizer.identity_validation_expression,
        }
        extension.update({key: value for key, value in optional.items() if value})
        if authorizer.result_ttl is not None:
            extension["authorizerResultTtlInSeconds"] = int(authorizer.result_ttl)
    scheme["x-amazon-apigateway-authorizer"] = extension
    return scheme
