"""API Gateway's data plane for REST APIs: each stage served over HTTP on loopback, requests
authorized by COGNITO_USER_POOLS authorizers as API Gateway authorizes them.

A stage's invoke URL on AWS is ``https://{api}.execute-api.{region}.amazonaws.com/{stage}``;
here it is ``{base}/restapis/{api}/{stage}/_user_request_`` (the convention LocalStack uses),
so one loopback port serves every API of every account.

What a request meets, in API Gateway's order (developer guide, "Control access to REST APIs
using Amazon Cognito user pools as an authorizer"; API reference, Authorizer):

- The stage serves a deployment: the API *as it was deployed*, never the current one. With a
  canary, ``percentTraffic`` percent of requests go to the canary's deployment.
- No method for the path and verb: 403 ``{"message":"Missing Authentication Token"}``; an
  AWS_IAM method answers the same to an unsigned request (SigV4 callers are not modelled, so
  every request to one is refused).
- A method that requires an API key answers 403 ``{"message":"Forbidden"}`` (usage plans are
  not modelled: refused rather than let through).
- A method with a COGNITO_USER_POOLS authorizer reads the token from the authorizer's identity
  source (``method.request.header.Authorization``). Missing or not valid: 401
  ``{"message":"Unauthorized"}``. (Lambda authorizers are not modelled: 401.)
- A token's identity is valid when its RS256 signature verifies with the issuing pool's JWKS and
  its issuer ``https://cognito-idp.{region}.amazonaws.com/{pool id}`` is a pool that exists and
  that the served deployment's authorizer lists. That result is cached per authorizer and token
  for the deployed authorizer's TTL (``dataplane.cache``).
- On every request, cached or not: the token has not expired; its ``aud`` matches the
  authorizer's ``identityValidationExpression`` when it has one (API reference, Authorizer:
  "API Gateway will match the aud field of the incoming token from the client against the
  specified regular expression"); and its ``token_use`` fits the method: an ID token when the
  method has no authorization scopes, otherwise an access token carrying one of them
  (developer guide, "Integrate a REST API with an Amazon Cognito user pool").
- Authorized: the integration answers. Only MOCK integrations with a default integration
  response are served (its status and template); any other answers 500 "Internal server
  error", as AWS does for a MOCK with no matching integration response, so a test can never
  mistake an unmodelled integration for a served one.

The JWKS moto serves for every pool (``/{pool id}/.well-known/jwks.json``) is its fixed public
key; tokens are verified with PyJWT against it, so a token altered in any byte, signed with
another key, or expired is refused.
"""

from __future__ import annotations

import json
import random
import re
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import jwt
from moto.cognitoidp.models import cognitoidp_backends
from moto.utilities.utils import load_resource

from localaws.apigateway.deployments import find_api, served_deployments
from localaws.apigateway.snapshots import AuthorizerSnapshot, DeploymentSnapshot, MethodSnapshot
from localaws.dataplane.cache import AUTHORIZER_CACHE, DEFAULT_RESULT_TTL, StageKey
from localaws.wire import new_request_id

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIEnvironment

PREFIX = "/restapis/"
USER_REQUEST = "_user_request_"
HEADER_SOURCE = re.compile(r"^method\.request\.header\.(?P<name>[A-Za-z0-9-]+)$")
ISSUER = re.compile(
    r"^https://cognito-idp\.(?P<region>[a-z0-9-]+)\.amazonaws\.com/(?P<pool>[^/]+)$"
)
UNAUTHORIZED = (401, "UnauthorizedException", "Unauthorized")
FORBIDDEN = (403, "ForbiddenException", "Forbidden")
INTERNAL = (500, "InternalServerErrorException", "Internal server error")
MISSING_TOKEN = (403, "MissingAuthenticationTokenException", "Missing Authentication Token")
_JWKS = jwt.PyJWKSet.from_dict(load_resource("cognitoidp/resources/jwks-public.json"))


@dataclass(frozen=True)
class Answer:
    status: int
    body: bytes
    headers: tuple[tuple[str, str], ...]


class DataPlane:
    """A WSGI app serving every stage. ``monotonic`` times the authorizer cache; ``pick`` draws
    a number in [0, 1) for each request's canary routing."""

    def __init__(
        self,
        *,
        monotonic: Callable[[], float] = time.monotonic,
        pick: Callable[[], float] = random.random,
    ) -> None:
        self._monotonic = monotonic
        self._pick = pick

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        headers = {
            key[5:].replace("_", "-").lower(): str(value)
            for key, value in environ.items()
            if key.startswith("HTTP_")
        }
        answer = self.serve(str(environ.get("REQUEST_METHOD", "GET")), path, headers)
        status = f"{answer.status} {_REASONS.get(answer.status, 'Status')}"
        start_response(status, [*answer.headers, ("Content-Length", str(len(answer.body)))])
        return [answer.body]

    def serve(self, verb: str, path: str, headers: dict[str, str]) -> Answer:
        target = _parse(path)
        if target is None:
            return _error(MISSING_TOKEN)
        api_id, stage_name, resource_path = target
        where = find_api(api_id)
        if where is None:
            return _error(MISSING_TOKEN)
        stage = StageKey(where[0], where[1], api_id, stage_name)
        snapshot = self._deployment_for(stage)
        if snapshot is None:
            return _error(MISSING_TOKEN)
        method = _route(snapshot.methods, verb.upper(), resource_path)
        if method is None or method.authorization_type == "AWS_IAM":
            return _error(MISSING_TOKEN)
        if method.api_key_required:
            return _error(FORBIDDEN)
        if method.authorization_type == "COGNITO_USER_POOLS":
            authorizer_id = method.authorizer_id or ""
            authorizer = snapshot.authorizers.get(authorizer_id)
            if authorizer is None or not self._authorized(
                stage, authorizer_id, authorizer, method, headers
            ):
                return _error(UNAUTHORIZED)
        elif method.authorization_type != "NONE":
            return _error(UNAUTHORIZED)
        return _integrate(method)

    def _deployment_for(self, stage: StageKey) -> DeploymentSnapshot | None:
        served = served_deployments(stage.account_id, stage.region, stage.api_id, stage.stage_name)
        if not served:
            return None
        draw = self._pick()
        for snapshot, share in reversed(served):
            # The canary (last) takes draws below its share; the base takes the rest.
            if len(served) == 1 or draw < share:
                return snapshot
            draw -= share
        return served[0][0]

    def _authorized(
        self,
        stage: StageKey,
        authorizer_id: str,
        authorizer: AuthorizerSnapshot,
        method: MethodSnapshot,
        headers: dict[str, str],
    ) -> bool:
        source = HEADER_SOURCE.match(authorizer.identity_source or "")
        token = headers.get(source.group("name").lower()) if source else None
        if not token:
            return False
        now = self._monotonic()
        cached = AUTHORIZER_CACHE.lookup(stage, authorizer_id, token, now)
        if cached is not None:
            claims = cached.claims
        else:
            claims = verified_identity(token, authorizer.provider_arns)
            ttl = (
                DEFAULT_RESULT_TTL if authorizer.result_ttl is None else int(authorizer.result_ttl)
            )
            AUTHORIZER_CACHE.store(stage, authorizer_id, token, claims, ttl=ttl, now=now)
        return claims is not None and fits(
            claims, method.authorization_scopes, authorizer.identity_validation_expression
        )


def verified_identity(token: str, provider_arns: Sequence[str]) -> Mapping[str, Any] | None:
    """The token's claims when it is a current token of a pool this authorizer lists, else None."""
    try:
        header = jwt.get_unverified_header(token)
        key = _JWKS[str(header.get("kid"))]
        claims: dict[str, Any] = jwt.decode(
            token,
            key=key,
            algorithms=["RS256"],
            options={"require": ["exp", "iss", "token_use"], "verify_aud": False},
        )
    except (jwt.PyJWTError, KeyError):
        return None
    issuer = ISSUER.match(str(claims["iss"]))
    if issuer is None or _pool_arn(issuer.group("region"), issuer.group("pool")) not in set(
        provider_arns
    ):
        return None
    return claims


def fits(claims: Mapping[str, Any], scopes: Sequence[str], audience: str | None) -> bool:
    """What is checked on every request, cached identity or not: expiry, the identity
    validation expression (against ``aud``), and the token type and scopes the method needs."""
    if float(claims["exp"]) <= time.time():
        return False
    if audience and re.fullmatch(audience, str(claims.get("aud", ""))) is None:
        return False
    token_use = str(claims["token_use"])
    if not scopes:
        return token_use == "id"
    granted = set(str(claims.get("scope", "")).split())
    return token_use == "access" and bool(granted & set(scopes))


def _pool_arn(region: str, pool_id: str) -> str | None:
    """The ARN of the pool that issued a token, or None when no such pool exists (anymore)."""
    for regions in cognitoidp_backends.values():
        backend = regions.get(region) if region in regions else None
        pool = backend.user_pools.get(pool_id) if backend is not None else None
        if pool is not None:
            return str(pool.arn)
    return None


def _parse(path: str) -> tuple[str, str, str] | None:
    if not path.startswith(PREFIX):
        return None
    parts = path[len(PREFIX) :].split("/")
    if len(parts) < 3 or parts[2] != USER_REQUEST or not parts[0] or not parts[1]:
        return None
    return parts[0], parts[1], "/" + "/".join(parts[3:])


def _route(methods: Sequence[MethodSnapshot], verb: str, path: str) -> MethodSnapshot | None:
    """The deployed method for this verb and path: an exact verb before ANY, a literal path
    segment before a ``{param}``, ``{proxy+}`` matching the rest."""
    candidates = [
        method
        for method in methods
        if method.http_method in (verb, "ANY") and _matches(method.path, path)
    ]
    candidates.sort(key=lambda m: (m.path.count("+}"), m.path.count("{"), m.http_method == "ANY"))
    return candidates[0] if candidates else None


def _matches(template: str, path: str) -> bool:
    wanted = [part for part in template.split("/") if part]
    given = [part for part in path.split("/") if part]
    for index, part in enumerate(wanted):
        if part.startswith("{") and part.endswith("+}"):
            return len(given) > index
        if index >= len(given):
            return False
        if not (part.startswith("{") and part.endswith("}")) and part != given[index]:
            return False
    return len(wanted) == len(given)


def _integrate(method: MethodSnapshot) -> Answer:
    integration = method.integration or {}
    default = integration.get("responses", {}).get("default")
    if integration.get("type") != "mock" or default is None:
        return _error(INTERNAL)
    template = default.get("responseTemplates", {}).get("application/json", "")
    return Answer(int(default["statusCode"]), str(template).encode(), _headers())


def _error(kind: tuple[int, str, str]) -> Answer:
    status, error_type, message = kind
    body = json.dumps({"message": message}).encode()
    return Answer(status, body, (*_headers(), ("x-amzn-ErrorType", error_type)))


def _headers() -> tuple[tuple[str, str], ...]:
    return (("Content-Type", "application/json"), ("x-amzn-RequestId", new_request_id()))


_REASONS = {200: "OK", 401: "Unauthorized", 403: "Forbidden", 500: "Internal Server Error"}
