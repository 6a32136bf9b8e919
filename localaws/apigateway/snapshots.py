"""What a deployment serves: a snapshot of the whole API as it was when the deployment was made.

A stage serves the deployment it points at, not the API's current state (API Gateway developer
guide, "Deploy a REST API"). moto
keeps no snapshot; ``apigateway.deployments`` records one per deployment here, with its
authorizers (name, type, identity source, ``providerARNs``) and its methods, each method's
integration as its ``x-amazon-apigateway-integration`` object (developer guide,
"x-amazon-apigateway-integration object") for ``apigateway.export``. ``SNAPSHOTS`` is guarded
by ``apigateway.state.MODEL_LOCK``.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from moto.apigateway.models import Integration, RestAPI


@dataclass(frozen=True)
class AuthorizerSnapshot:
    """An authorizer as a deployment captured it."""

    name: str
    type: str
    provider_arns: tuple[str, ...]
    identity_source: str | None
    identity_validation_expression: str | None
    authorizer_uri: str | None
    authorizer_credentials: str | None
    result_ttl: int | None
    auth_type: str | None


@dataclass(frozen=True)
class MethodSnapshot:
    """A method as a deployment captured it."""

    path: str
    http_method: str
    authorization_type: str
    authorizer_id: str | None
    authorization_scopes: tuple[str, ...]
    api_key_required: bool
    response_codes: tuple[str, ...]
    # The method's x-amazon-apigateway-integration object, built when it was deployed.
    integration: Mapping[str, Any] | None


@dataclass(frozen=True)
class DeploymentSnapshot:
    """What a deployment serves: the API as it was when the deployment was made."""

    api_name: str
    api_description: str
    created_date: int
    authorizers: Mapping[str, AuthorizerSnapshot]
    methods: tuple[MethodSnapshot, ...]


# (account, region, api id, deployment id) -> the API as that deployment captured it.
SNAPSHOTS: dict[tuple[str, str, str, str], DeploymentSnapshot] = {}


def snapshot_of(api: RestAPI, created_date: int) -> DeploymentSnapshot:
    authorizers = {
        authorizer_id: AuthorizerSnapshot(
            name=str(authorizer.name),
            type=str(authorizer.type),
            provider_arns=tuple(authorizer.provider_arns or ()),
            identity_source=authorizer.identity_source,
            identity_validation_expression=authorizer.identity_validation_expression,
            authorizer_uri=authorizer.authorizer_uri,
            authorizer_credentials=authorizer.authorizer_credentials,
            result_ttl=authorizer.authorizer_result_ttl,
            auth_type=authorizer.auth_type,
        )
        for authorizer_id, authorizer in api.authorizers.items()
    }
    methods = [
        MethodSnapshot(
            path=resource.get_path(),
            http_method=http_method.upper(),
            authorization_type=str(method.authorization_type or "NONE").upper(),
            authorizer_id=method.authorizer_id,
            authorization_scopes=tuple(method.authorization_scopes or ()),
            api_key_required=bool(method.api_key_required),
            response_codes=tuple(sorted(method.method_responses)),
            integration=_integration_extension(method.method_integration),
        )
        for resource in api.resources.values()
        for http_method, method in resource.resource_methods.items()
    ]
    return DeploymentSnapshot(
        api_name=str(api.name),
        api_description=str(api.description or ""),
        created_date=int(created_date),
        authorizers=authorizers,
        methods=tuple(sorted(methods, key=lambda m: (m.path, m.http_method))),
    )


def _integration_extension(integration: Integration | None) -> dict[str, Any] | None:
    """The x-amazon-apigateway-integration object of an integration (developer guide,
    "x-amazon-apigateway-integration object"): lower-case type and passthroughBehavior,
    integration responses keyed by selection pattern ("default" without one)."""
    if integration is None:
        return None
    extension: dict[str, Any] = {"type": str(integration.integration_type).lower()}
    optional: dict[str, Any] = {
        "httpMethod": integration.http_method,
        "uri": integration.uri,
        "credentials": integration.credentials,
        "requestParameters": integration.request_parameters,
        "requestTemplates": integration.request_templates,
        "contentHandling": integration.content_handling,
        "connectionType": integration.connection_type,
    }
    extension.update({key: value for key, value in optional.items() if value})
    if integration.passthrough_behaviour:
        extension["passthroughBehavior"] = str(integration.passthrough_behaviour).lower()
    if integration.timeout_in_millis and str(integration.timeout_in_millis).isdigit():
        extension["timeoutInMillis"] = int(integration.timeout_in_millis)
    responses: dict[str, Any] = {}
    for response in (integration.integration_responses or {}).values():
        entry: dict[str, Any] = {"statusCode": str(response.status_code)}
        if response.response_templates:
            entry["responseTemplates"] = {
                key: value or "" for key, value in response.response_templates.items()
            }
        if response.response_parameters:
            entry["responseParameters"] = response.response_parameters
        if response.content_handling:
            entry["contentHandling"] = response.content_handling
        responses[response.selection_pattern or "default"] = entry
    if responses:
        extension["responses"] = responses
    # A copy: later changes to the API must not reach into a deployment.
    return copy.deepcopy(extension)
