"""The local data plane answers tenants' tokens as API Gateway does for a COGNITO_USER_POOLS
authorizer: what the *served* deployment lists, cached per token until flushed or expired."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Iterator
from typing import Any, Literal

import boto3
import jwt
import pytest
from moto.utilities.utils import load_resource

from demo.shared_api import SharedApi, create_shared_api, create_tenant_pool
from localaws.dataplane.cache import AUTHORIZER_CACHE
from localaws.dataplane.gateway import DataPlane
from localaws.dataplane.users import call, sign_in
from localaws.server import LocalAws


class Clock:
    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def api(local_aws: LocalAws, aws_environment: dict[str, str]) -> Iterator[SharedApi]:
    local_aws.reset()
    yield create_shared_api()
    local_aws.reset()


def change_pool_and_deploy(
    api: SharedApi, op: Literal["add", "remove"], pool_arn: str, *, flush: bool = True
) -> None:
    """``op`` ("add" or "remove") one pool on the authorizer, then publish to every stage."""
    boto3.client("apigateway").update_authorizer(
        restApiId=api.rest_api_id,
        authorizerId=api.authorizer_id,
        patchOperations=[{"op": op, "path": "/providerARNs", "value": pool_arn}],
    )
    publish(api, flush=flush)


def publish(api: SharedApi, *, flush: bool) -> None:
    client = boto3.client("apigateway")
    deployment = client.create_deployment(restApiId=api.rest_api_id)["id"]
    for stage in api.stage_names:
        client.update_stage(
            restApiId=api.rest_api_id,
            stageName=stage,
            patchOperations=[{"op": "replace", "path": "/deploymentId", "value": deployment}],
        )
        if flush:
            client.flush_stage_authorizers_cache(restApiId=api.rest_api_id, stageName=stage)


def orders(local_aws: LocalAws, api: SharedApi, stage: str, token: str | None) -> int:
    return call(local_aws.invoke_url(api.rest_api_id, stage) + "/orders", token).status


def test_a_listed_pools_token_gets_200_and_an_unlisted_one_401(
    local_aws: LocalAws, api: SharedApi
) -> None:
    operator = sign_in(api.operators_pool_arn, "ops")
    tenant = sign_in(create_tenant_pool("acme"), "alice")
    for stage in api.stage_names:
        assert orders(local_aws, api, stage, operator) == 200
        reply = call(local_aws.invoke_url(api.rest_api_id, stage) + "/orders", tenant)
        assert (reply.status, reply.message) == (401, "Unauthorized")


def test_only_what_the_stage_serves_counts_not_the_authorizer_as_it_is(
    local_aws: LocalAws, api: SharedApi
) -> None:
    pool = create_tenant_pool("acme")
    boto3.client("apigateway").update_authorizer(
        restApiId=api.rest_api_id,
        authorizerId=api.authorizer_id,
        patchOperations=[{"op": "add", "path": "/providerARNs", "value": pool}],
    )
    token = sign_in(pool, "alice")
    assert orders(local_aws, api, "prod", token) == 401  # on the authorizer, not deployed
    publish(api, flush=True)
    assert orders(local_aws, api, "prod", token) == 200


def test_a_removed_pools_token_keeps_working_until_the_stage_cache_is_flushed(
    local_aws: LocalAws, api: SharedApi
) -> None:
    pool = create_tenant_pool("acme")
    change_pool_and_deploy(api, "add", pool)
    token = sign_in(pool, "alice")
    assert orders(local_aws, api, "dev", token) == 200
    assert orders(local_aws, api, "prod", token) == 200

    change_pool_and_deploy(api, "remove", pool, flush=False)
    assert orders(local_aws, api, "dev", token) == 200  # the cached allow outlives the removal
    boto3.client("apigateway").flush_stage_authorizers_cache(
        restApiId=api.rest_api_id, stageName="dev"
    )
    assert orders(local_aws, api, "dev", token) == 401
    assert orders(local_aws, api, "prod", token) == 200  # prod was not flushed


def test_cached_results_expire_after_the_deployed_ttl(api: SharedApi) -> None:
    clock = Clock()
    plane = DataPlane(monotonic=clock)
    pool = create_tenant_pool("acme")
    change_pool_and_deploy(api, "add", pool)
    token = sign_in(pool, "alice")
    path = f"/restapis/{api.rest_api_id}/prod/_user_request_/orders"

    def status() -> int:
        return plane.serve("GET", path, {"authorization": token}).status

    assert status() == 200
    change_pool_and_deploy(api, "remove", pool, flush=False)
    clock.now += 299
    assert status() == 200
    clock.now += 1  # authorizerResultTtlInSeconds=300 in shared-api.yaml
    assert status() == 401


def test_a_denial_is_cached_too_until_the_flush(local_aws: LocalAws, api: SharedApi) -> None:
    pool = create_tenant_pool("acme")
    token = sign_in(pool, "alice")
    assert orders(local_aws, api, "prod", token) == 401
    change_pool_and_deploy(api, "add", pool, flush=False)
    assert orders(local_aws, api, "prod", token) == 401
    publish(api, flush=True)
    assert orders(local_aws, api, "prod", token) == 200


def test_ttl_zero_caches_nothing(local_aws: LocalAws, api: SharedApi) -> None:
    client = boto3.client("apigateway")
    client.update_authorizer(
        restApiId=api.rest_api_id,
        authorizerId=api.authorizer_id,
        patchOperations=[{"op": "replace", "path": "/authorizerResultTtlInSeconds", "value": "0"}],
    )
    pool = create_tenant_pool("acme")
    change_pool_and_deploy(api, "add", pool)
    token = sign_in(pool, "alice")
    assert orders(local_aws, api, "prod", token) == 200
    change_pool_and_deploy(api, "remove", pool, flush=False)
    assert orders(local_aws, api, "prod", token) == 401


def forged(claims: dict[str, Any], *, key: Any = None) -> str:
    if key is None:
        key = jwt.PyJWK(load_resource("cognitoidp/resources/jwks-private.json")).key
    return jwt.encode(claims, key, algorithm="RS256", headers={"kid": "dummy"})


def test_expired_tampered_foreign_and_access_tokens_are_refused(
    local_aws: LocalAws, api: SharedApi
) -> None:
    good = sign_in(api.operators_pool_arn, "ops")
    claims = jwt.decode(good, options={"verify_signature": False})
    assert orders(local_aws, api, "prod", forged(claims)) == 200  # the forger is faithful

    expired = forged({**claims, "exp": int(time.time()) - 1})
    header, payload, signature = good.split(".")
    changed = json.loads(base64.urlsafe_b64decode(payload + "=="))
    changed["cognito:username"] = "root"
    tampered = ".".join(
        [
            header,
            base64.urlsafe_b64encode(json.dumps(changed).encode()).decode().rstrip("="),
            signature,
        ]
    )
    from cryptography.hazmat.primitives.asymmetric import rsa  # noqa: PLC0415

    other_key = forged(claims, key=rsa.generate_private_key(public_exponent=65537, key_size=2048))
    other_pool = forged({**claims, "iss": claims["iss"].rsplit("/", 1)[0] + "/us-east-1_nope"})
    access = sign_in(api.operators_pool_arn, "ops", token_use="access")
    for token in (expired, tampered, other_key, other_pool, access, "", "Bearer x"):
        AUTHORIZER_CACHE.clear()
        assert orders(local_aws, api, "prod", token) == 401, token[:20]
    assert orders(local_aws, api, "prod", None) == 401


def test_unknown_paths_stages_and_apis_answer_missing_authentication_token(
    local_aws: LocalAws, api: SharedApi
) -> None:
    token = sign_in(api.operators_pool_arn, "ops")
    base = local_aws.data_plane_url
    for path in (
        f"/restapis/{api.rest_api_id}/prod/_user_request_/customers",
        f"/restapis/{api.rest_api_id}/staging/_user_request_/orders",
        "/restapis/nosuchapi/prod/_user_request_/orders",
        "/prod/orders",
    ):
        reply = call(base + path, token)
        assert (reply.status, reply.message) == (403, "Missing Authentication Token"), path
    assert (
        call(local_aws.invoke_url(api.rest_api_id, "prod") + "/orders", token, method="POST").status
        == 403
    )


def test_a_canary_serves_its_share_of_requests_from_its_own_deployment(api: SharedApi) -> None:
    draws = iter([0.95, 0.05])
    plane = DataPlane(pick=lambda: next(draws))
    pool = create_tenant_pool("acme")
    client = boto3.client("apigateway")
    client.update_authorizer(
        restApiId=api.rest_api_id,
        authorizerId=api.authorizer_id,
        patchOperations=[{"op": "add", "path": "/providerARNs", "value": pool}],
    )
    client.create_deployment(
        restApiId=api.rest_api_id,
        stageName="prod",
        canarySettings={"percentTraffic": 10.0},
    )
    token = sign_in(pool, "alice")
    path = f"/restapis/{api.rest_api_id}/prod/_user_request_/orders"
    AUTHORIZER_CACHE.clear()
    assert plane.serve("GET", path, {"authorization": token}).status == 401  # base: 90 %
    AUTHORIZER_CACHE.clear()
    assert plane.serve("GET", path, {"authorization": token}).status == 200  # canary: 10 %
