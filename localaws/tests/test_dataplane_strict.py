"""What real API Gateway + Cognito do where the local data plane could be kinder.

Ported from the review's reproductions; each test asserts AWS's behaviour, so a failure shows
where the local data plane has become kinder than AWS again:

- the authorizer cache is kept per authorizer (and token), not per stage and token;
- scopes, ``token_use`` and expiry are checked on every request, never taken from the cache;
- for COGNITO_USER_POOLS, ``identityValidationExpression`` is matched against the token's ``aud``;
- API keys (``apiKeyRequired``) and AWS_IAM are refused, never let through;
- a MOCK integration without an integration response answers 500;
- routing prefers a literal path segment over ``{param}`` over ``{proxy+}``; a path or verb
  with no method (other case, extra segment, HEAD, OPTIONS, POST) is 403;
- forged tokens (alg confusion, ``none``, time claims, issuer variants, unknown kid) are refused,
  and so are tokens of a pool that is deleted or listed but not deployed;
- a flush empties one stage of one API; a new deployment alone keeps the cache;
- a canary at 0 % or 100 % takes no or all requests;
- the cache TTL is the deployed authorizer's, fixed when the entry is stored;
- ``reset`` empties the cache; ``stop`` releases its port and threads, a client's connection
  still open or not;
- concurrent requests each get their own token's answer.

AWS sources are cited where the review gave one, or where ``dataplane.gateway`` and
``dataplane.cache`` cite one for the same behaviour.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import http.client
import json
import socket
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from moto.utilities.utils import load_resource

from demo.shared_api import (
    SharedApi,
    apigateway,
    cognito,
    create_shared_api,
    create_tenant_pool,
)
from localaws.apigateway.snapshots import MethodSnapshot
from localaws.dataplane.cache import AUTHORIZER_CACHE
from localaws.dataplane.gateway import DataPlane, _route
from localaws.dataplane.users import call, pool_id_of, sign_in
from localaws.server import LocalAws
from localaws.tests.test_dataplane import Clock, forged, publish

PRIVATE_KEY = jwt.PyJWK(load_resource("cognitoidp/resources/jwks-private.json")).key
PUBLIC_JWKS = load_resource("cognitoidp/resources/jwks-public.json")
ADMIN_SCOPE = "aws.cognito.signin.user.admin"


@pytest.fixture
def api(local_aws: LocalAws, aws_environment: dict[str, str]) -> Iterator[SharedApi]:
    local_aws.reset()
    yield create_shared_api()
    local_aws.reset()


# -- helpers ---------------------------------------------------------------------------------


def add_method(
    api: SharedApi,
    part: str,
    *,
    parent_path: str = "/",
    authorization: str = "COGNITO_USER_POOLS",
    authorizer_id: str | None = None,
    scopes: list[str] | None = None,
    api_key: bool = False,
    integration_response: bool = True,
    answer: str | None = None,
) -> None:
    """A GET method on a new resource ``part`` under ``parent_path``, MOCK-integrated; with
    ``answer``, its integration response answers that body."""
    client = apigateway()
    resources = client.get_resources(restApiId=api.rest_api_id)["items"]
    parent = next(item["id"] for item in resources if item["path"] == parent_path)
    resource_id = client.create_resource(restApiId=api.rest_api_id, parentId=parent, pathPart=part)[
        "id"
    ]
    method: Any = {"restApiId": api.rest_api_id, "resourceId": resource_id, "httpMethod": "GET"}
    settings: Any = {"authorizationType": authorization, "apiKeyRequired": api_key}
    if authorization == "COGNITO_USER_POOLS":
        settings["authorizerId"] = authorizer_id or api.authorizer_id
    if scopes:
        settings["authorizationScopes"] = scopes
    client.put_method(**method, **settings)
    client.put_method_response(**method, statusCode="200")
    client.put_integration(
        **method, type="MOCK", requestTemplates={"application/json": '{"statusCode": 200}'}
    )
    if integration_response:
        templates = {"application/json": answer} if answer is not None else {}
        client.put_integration_response(**method, statusCode="200", responseTemplates=templates)


def add_pool(api: SharedApi, pool_arn: str) -> None:
    """The pool on the authorizer, not deployed."""
    apigateway().update_authorizer(
        restApiId=api.rest_api_id,
        authorizerId=api.authorizer_id,
        patchOperations=[{"op": "add", "path": "/providerARNs", "value": pool_arn}],
    )


def get(
    local_aws: LocalAws,
    api: SharedApi,
    path: str,
    token: str | None,
    *,
    stage: str = "prod",
    method: str = "GET",
) -> int:
    return call(local_aws.invoke_url(api.rest_api_id, stage) + path, token, method=method).status


def fresh(local_aws: LocalAws, api: SharedApi, token: str, path: str = "/orders") -> int:
    """The answer with an empty cache: what the token's own checks say."""
    AUTHORIZER_CACHE.clear()
    return get(local_aws, api, path, token)


def operator_claims(api: SharedApi) -> dict[str, Any]:
    token = sign_in(api.operators_pool_arn, "ops")
    claims: dict[str, Any] = jwt.decode(token, options={"verify_signature": False})
    return claims


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def constant(draw: float) -> Callable[[], float]:
    return lambda: draw


def orders_path(api: SharedApi, stage: str = "prod") -> str:
    return f"/restapis/{api.rest_api_id}/{stage}/_user_request_/orders"


# -- where the data plane was kinder ---------------------------------------------------------


def test_cache_is_not_shared_between_authorizers(local_aws: LocalAws, api: SharedApi) -> None:
    """The cache is per authorizer and token, not per stage and token: an allow by one
    authorizer is not reused by another authorizer on the same stage that does not trust the
    pool."""
    tenant = create_tenant_pool("acme")
    other = apigateway().create_authorizer(
        restApiId=api.rest_api_id,
        name="tenant-only",
        type="COGNITO_USER_POOLS",
        providerARNs=[tenant],
        identitySource="method.request.header.Authorization",
        authorizerResultTtlInSeconds=300,
    )["id"]
    add_method(api, "tenant", authorizer_id=other)
    publish(api, flush=True)
    operator = sign_in(api.operators_pool_arn, "ops")
    assert get(local_aws, api, "/tenant", operator) == 401  # fresh: not trusted there
    AUTHORIZER_CACHE.clear()
    assert get(local_aws, api, "/orders", operator) == 200  # caches an allow
    assert get(local_aws, api, "/tenant", operator) == 401  # AWS: other authorizer, not trusted


def test_cached_id_token_allow_does_not_pass_a_scoped_method(
    local_aws: LocalAws, api: SharedApi
) -> None:
    """An ID token allowed on a method without scopes is not then allowed on a method requiring
    a scope: AWS wants an access token carrying one of them (developer guide, "Integrate a REST
    API with an Amazon Cognito user pool")."""
    add_method(api, "admin", scopes=[ADMIN_SCOPE])
    publish(api, flush=True)
    id_token = sign_in(api.operators_pool_arn, "ops")
    access = sign_in(api.operators_pool_arn, "ops", token_use="access")
    assert get(local_aws, api, "/admin", access) == 200  # the scope is right for access tokens
    assert get(local_aws, api, "/admin", id_token) == 401  # fresh: ID token refused
    AUTHORIZER_CACHE.clear()
    assert get(local_aws, api, "/orders", id_token) == 200  # caches an allow for the ID token
    assert get(local_aws, api, "/admin", id_token) == 401  # AWS: ID token never passes scopes


def test_cached_access_token_allow_does_not_pass_an_unscoped_method(
    local_aws: LocalAws, api: SharedApi
) -> None:
    """An access token allowed on a scoped method is not then allowed on a method without
    scopes, which needs an ID token (developer guide, as above)."""
    add_method(api, "admin", scopes=[ADMIN_SCOPE])
    publish(api, flush=True)
    access = sign_in(api.operators_pool_arn, "ops", token_use="access")
    assert get(local_aws, api, "/orders", access) == 401  # fresh: access token refused w/o scopes
    AUTHORIZER_CACHE.clear()
    assert get(local_aws, api, "/admin", access) == 200  # caches an allow
    assert get(local_aws, api, "/orders", access) == 401  # AWS: needs an ID token


def test_identity_validation_expression_matches_aud(local_aws: LocalAws, api: SharedApi) -> None:
    """For COGNITO_USER_POOLS, identityValidationExpression is matched against the token's
    ``aud`` (API reference, Authorizer), not against the raw header value."""
    token = sign_in(api.operators_pool_arn, "ops")
    aud = operator_claims(api)["aud"]
    client = apigateway()

    def expression(value: str) -> None:
        client.update_authorizer(
            restApiId=api.rest_api_id,
            authorizerId=api.authorizer_id,
            patchOperations=[
                {"op": "replace", "path": "/identityValidationExpression", "value": value}
            ],
        )
        publish(api, flush=True)

    expression("^eyJ.*")  # the raw JWT matches it, the aud (the app client id) does not
    kinder = get(local_aws, api, "/orders", token)
    expression(f"^{aud}$")  # exactly the app client id
    stricter = get(local_aws, api, "/orders", token)
    assert (kinder, stricter) == (401, 200)


def test_api_key_required_is_enforced(local_aws: LocalAws, api: SharedApi) -> None:
    """apiKeyRequired: AWS answers 403 Forbidden without a valid x-api-key."""
    add_method(api, "keyed", api_key=True)
    publish(api, flush=True)
    token = sign_in(api.operators_pool_arn, "ops")
    reply = call(local_aws.invoke_url(api.rest_api_id, "prod") + "/keyed", token)
    assert (reply.status, reply.message) == (403, "Forbidden")


def test_cached_allow_does_not_outlive_token_expiry(api: SharedApi) -> None:
    """A cached allow does not outlive the token's own ``exp``: expiry is checked on every
    request, not only when the token is first verified."""
    expires = int(time.time()) + 2
    short = forged({**operator_claims(api), "exp": expires})
    plane = DataPlane()
    assert plane.serve("GET", orders_path(api), {"authorization": short}).status == 200
    time.sleep(max(0.0, expires - time.time()) + 0.1)
    assert plane.serve("GET", orders_path(api), {"authorization": short}).status == 401


def test_mock_without_integration_response_is_500(local_aws: LocalAws, api: SharedApi) -> None:
    """MOCK integration with no integration response: AWS answers 500 (no output mapping)."""
    add_method(api, "broken", integration_response=False)
    publish(api, flush=True)
    token = sign_in(api.operators_pool_arn, "ops")
    assert get(local_aws, api, "/broken", token) == 500


def test_unsigned_aws_iam_is_403(local_aws: LocalAws, api: SharedApi) -> None:
    """AWS_IAM without a SigV4 signature: AWS answers 403 Missing Authentication Token."""
    add_method(api, "iam", authorization="AWS_IAM")
    publish(api, flush=True)
    reply = call(local_aws.invoke_url(api.rest_api_id, "prod") + "/iam", None)
    assert (reply.status, reply.message) == (403, "Missing Authentication Token")


def test_routing_prefers_literal_then_param_then_greedy(
    local_aws: LocalAws, api: SharedApi
) -> None:
    """A path several resources match goes to the most specific: a literal segment before a
    ``{param}``, a ``{param}`` before ``{proxy+}``."""
    for part, parent, answer in (
        ("{proxy+}", "/", "greedy"),
        ("items", "/", "items"),
        ("{id}", "/items", "param"),
        ("special", "/items", "literal"),
    ):
        add_method(api, part, parent_path=parent, authorization="NONE", answer=answer)
    publish(api, flush=True)
    base = local_aws.invoke_url(api.rest_api_id, "prod")
    chosen = {path: call(base + path, None).body for path in ("/items/special", "/items/42")}
    chosen.update({path: call(base + path, None).body for path in ("/items", "/other/x/y")})
    assert chosen == {
        "/items/special": "literal",
        "/items/42": "param",
        "/items": "items",
        "/other/x/y": "greedy",
    }


def test_route_precedence_does_not_rely_on_the_order_of_methods() -> None:
    """The same precedence whatever order the deployment lists its methods in (a snapshot
    sorts them by path, which alone happens to put literals first)."""

    def method(path: str) -> MethodSnapshot:
        return MethodSnapshot(path, "GET", "NONE", None, (), False, ("200",), {"type": "mock"})

    for request, paths, expected in (
        ("/x/b", ["/{p}/b", "/{proxy+}"], "/{p}/b"),
        ("/foo", ["/{zz}", "/{proxy+}"], "/{zz}"),
        ("/items/special", ["/items/{id}", "/items/special", "/{proxy+}"], "/items/special"),
    ):
        methods = [method(path) for path in paths]
        for ordered in (tuple(methods), tuple(reversed(methods))):
            chosen = _route(ordered, "GET", request)
            assert chosen is not None
            assert chosen.path == expected, (request, [m.path for m in ordered])


# -- what held ---------------------------------------------------------------------------------


def test_forged_tokens_are_refused(local_aws: LocalAws, api: SharedApi) -> None:
    claims = operator_claims(api)
    now = int(time.time())
    issuer = str(claims["iss"])
    public_pem = jwt.PyJWK(PUBLIC_JWKS["keys"][0]).key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )

    def hs256(secret: bytes) -> str:
        signed = b64(json.dumps({"alg": "HS256", "kid": "dummy", "typ": "JWT"}).encode())
        signed += "." + b64(json.dumps(claims).encode())
        return signed + "." + b64(hmac.new(secret, signed.encode(), hashlib.sha256).digest())

    def signed(**changes: Any) -> str:
        return forged({**claims, **changes})

    unsigned = b64(b'{"alg":"none","kid":"dummy"}') + "." + b64(json.dumps(claims).encode()) + "."
    without_token_use = {key: value for key, value in claims.items() if key != "token_use"}
    assert fresh(local_aws, api, signed()) == 200  # the forger is faithful
    cases = {
        "hs256-with-public-key": hs256(public_pem),
        "alg-none": unsigned,
        "exp-now": signed(exp=now),
        "nbf-future": signed(nbf=now + 600),
        "iat-future": signed(iat=now + 600),
        "other-region-same-pool": signed(iss=issuer.replace("us-east-1.", "eu-west-1.")),
        "iss-trailing-slash": signed(iss=issuer + "/"),
        "iss-http": signed(iss=issuer.replace("https", "http")),
        "no-token_use": forged(without_token_use),
        "unknown-kid": jwt.encode(claims, PRIVATE_KEY, algorithm="RS256", headers={"kid": "other"}),
    }
    assert {name: fresh(local_aws, api, token) for name, token in cases.items()} == dict.fromkeys(
        cases, 401
    )


def test_deleted_pool_and_undeployed_pool_are_refused(local_aws: LocalAws, api: SharedApi) -> None:
    pool = create_tenant_pool("acme")
    add_pool(api, pool)
    token = sign_in(pool, "alice")
    assert fresh(local_aws, api, token) == 401  # listed, not deployed
    apigateway().create_deployment(restApiId=api.rest_api_id, stageName="prod")
    assert fresh(local_aws, api, token) == 200
    cognito().delete_user_pool(UserPoolId=pool_id_of(pool))
    assert fresh(local_aws, api, token) == 401  # pool gone


def test_flush_is_per_api_and_stage_and_a_new_deployment_keeps_the_cache(
    local_aws: LocalAws, api: SharedApi
) -> None:
    """FlushStageAuthorizersCache "flushes all authorizer cache entries on a stage" (API
    reference): that stage of that API, nothing else."""
    other = create_shared_api("other-api")
    pool = create_tenant_pool("acme")
    token = sign_in(pool, "alice")
    client = apigateway()
    for each in (api, other):
        assert get(local_aws, each, "/orders", token) == 401  # a cached denial on both
        add_pool(each, pool)
        deployment = client.create_deployment(restApiId=each.rest_api_id)["id"]
        client.update_stage(
            restApiId=each.rest_api_id,
            stageName="prod",
            patchOperations=[{"op": "replace", "path": "/deploymentId", "value": deployment}],
        )
    # CreateDeployment + UpdateStage did not clear the cache (the strict reading).
    assert get(local_aws, api, "/orders", token) == 401
    client.flush_stage_authorizers_cache(restApiId=api.rest_api_id, stageName="prod")
    assert get(local_aws, api, "/orders", token) == 200
    assert get(local_aws, other, "/orders", token) == 401  # the other API's prod untouched
    assert get(local_aws, api, "/orders", token, stage="dev") == 401  # dev not flushed


def test_a_canary_at_0_takes_no_request_and_at_100_every_request(api: SharedApi) -> None:
    pool = create_tenant_pool("acme")
    client = apigateway()
    add_pool(api, pool)
    client.create_deployment(
        restApiId=api.rest_api_id, stageName="prod", canarySettings={"percentTraffic": 0.0}
    )
    token = sign_in(pool, "alice")
    draws = (0.0, 0.5, 0.999999)

    def statuses() -> list[int]:
        answers = []
        for draw in draws:
            AUTHORIZER_CACHE.clear()
            plane = DataPlane(pick=constant(draw))
            answers.append(plane.serve("GET", orders_path(api), {"authorization": token}).status)
        return answers

    assert statuses() == [401] * len(draws)  # only the base deployment, without the pool
    client.update_stage(
        restApiId=api.rest_api_id,
        stageName="prod",
        patchOperations=[
            {"op": "replace", "path": "/canarySettings/percentTraffic", "value": "100"}
        ],
    )
    assert statuses() == [200] * len(draws)  # only the canary, with the pool


def test_the_ttl_is_the_deployed_authorizers(api: SharedApi) -> None:
    """authorizerResultTtlInSeconds (API reference, Authorizer) as deployed: a TTL changed on
    the authorizer but not deployed does not apply, nor does a later one to a stored entry."""
    clock = Clock()
    plane = DataPlane(monotonic=clock)
    pool = create_tenant_pool("acme")
    client = apigateway()
    add_pool(api, pool)
    client.create_deployment(restApiId=api.rest_api_id, stageName="prod")
    client.update_authorizer(  # undeployed: the deployed 300 still applies
        restApiId=api.rest_api_id,
        authorizerId=api.authorizer_id,
        patchOperations=[{"op": "replace", "path": "/authorizerResultTtlInSeconds", "value": "0"}],
    )
    token = sign_in(pool, "alice")

    def status() -> int:
        return plane.serve("GET", orders_path(api), {"authorization": token}).status

    AUTHORIZER_CACHE.clear()
    assert status() == 200
    client.update_authorizer(
        restApiId=api.rest_api_id,
        authorizerId=api.authorizer_id,
        patchOperations=[{"op": "remove", "path": "/providerARNs", "value": pool}],
    )
    client.create_deployment(restApiId=api.rest_api_id, stageName="prod")  # now TTL 0 deployed
    clock.now += 299
    assert status() == 200  # the stored entry keeps its TTL
    clock.now += 1
    assert status() == 401


def test_paths_and_verbs_without_a_method_are_refused(local_aws: LocalAws, api: SharedApi) -> None:
    token = sign_in(api.operators_pool_arn, "ops")
    base = local_aws.invoke_url(api.rest_api_id, "prod")
    answers: dict[str, int] = {}
    for path in ("/orders", "/ORDERS", "/orders/x", ""):
        AUTHORIZER_CACHE.clear()
        answers[path] = call(base + path, token).status
    for verb in ("HEAD", "OPTIONS", "POST"):
        answers[verb] = call(base + "/orders", token, method=verb).status
    assert answers == {
        "/orders": 200,
        "/ORDERS": 403,
        "/orders/x": 403,
        "": 403,
        "HEAD": 403,
        "OPTIONS": 403,
        "POST": 403,
    }


def test_reset_clears_the_cache(local_aws: LocalAws, api: SharedApi) -> None:
    token = sign_in(api.operators_pool_arn, "ops")
    assert get(local_aws, api, "/orders", token) == 200
    assert AUTHORIZER_CACHE._stages
    local_aws.reset()
    assert not AUTHORIZER_CACHE._stages


def test_stop_releases_the_port_and_threads(aws_environment: dict[str, str]) -> None:
    """``stop`` of another LocalAws leaves no thread of its own and its data plane port
    refuses connections, though a client still holds a connection to it."""
    before = {thread.ident for thread in threading.enumerate()}
    aws = LocalAws().start()
    try:
        port = int(aws.data_plane_url.rsplit(":", 1)[1])
        keep_alive = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        keep_alive.request("GET", "/x")
        keep_alive.getresponse().read()  # the client leaves its connection open
    finally:
        aws.stop()
    keep_alive.close()
    left = [thread.name for thread in threading.enumerate() if thread.ident not in before]
    with socket.socket() as probe:
        probe.settimeout(1)
        refused = probe.connect_ex(("127.0.0.1", port)) != 0
    assert (left, refused) == ([], True)


def test_concurrent_requests_each_get_their_own_answer(local_aws: LocalAws, api: SharedApi) -> None:
    listed = sign_in(api.operators_pool_arn, "ops")
    unlisted = sign_in(create_tenant_pool("acme"), "alice")
    threads_per_token = 4
    start = threading.Barrier(2 * threads_per_token)
    answers: dict[str, list[int]] = {listed: [], unlisted: []}

    def requests(token: str) -> None:
        start.wait(5)
        for _ in range(20):
            answers[token].append(get(local_aws, api, "/orders", token))

    threads = [
        threading.Thread(target=requests, args=(token,))
        for token in (listed, unlisted)
        for _ in range(threads_per_token)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert {token: set(statuses) for token, statuses in answers.items()} == {
        listed: {200},
        unlisted: {401},
    }
    assert [len(statuses) for statuses in answers.values()] == [20 * threads_per_token] * 2
