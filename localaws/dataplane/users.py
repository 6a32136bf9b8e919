"""What a tenant's user does: sign in to the tenant's pool and call a stage with the token.

Signing in uses Cognito's admin flow (``AdminInitiateAuth`` with ``ADMIN_USER_PASSWORD_AUTH``)
on an app client made for it, as an operator's script would; the ID token it answers is what a
web client sends in the ``Authorization`` header. Calls go straight to the local data plane
over loopback, never through a proxy.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import boto3

if TYPE_CHECKING:
    from mypy_boto3_cognito_idp import CognitoIdentityProviderClient

SIGN_IN_CLIENT = "localaws-sign-in"


@dataclass(frozen=True)
class Reply:
    status: int
    body: str

    @property
    def message(self) -> str:
        """API Gateway's ``message`` for an error answer, else the body."""
        try:
            parsed = json.loads(self.body)
        except ValueError:
            return self.body
        return str(parsed.get("message", self.body)) if isinstance(parsed, dict) else self.body


def pool_id_of(pool_arn: str) -> str:
    return pool_arn.rsplit("/", 1)[1]


def sign_in(pool_arn: str, username: str, *, token_use: str = "id") -> str:
    """A fresh token (``id`` or ``access``) for ``username`` of the pool, creating the user and
    the sign-in client the first time."""
    cognito: CognitoIdentityProviderClient = boto3.client("cognito-idp")
    pool_id = pool_id_of(pool_arn)
    password = "Aa1!" + secrets.token_urlsafe(12)
    with contextlib.suppress(cognito.exceptions.UsernameExistsException):
        cognito.admin_create_user(UserPoolId=pool_id, Username=username, MessageAction="SUPPRESS")
    cognito.admin_set_user_password(
        UserPoolId=pool_id, Username=username, Password=password, Permanent=True
    )
    result = cognito.admin_initiate_auth(
        UserPoolId=pool_id,
        ClientId=_sign_in_client(cognito, pool_id),
        AuthFlow="ADMIN_USER_PASSWORD_AUTH",
        AuthParameters={"USERNAME": username, "PASSWORD": password},
    )["AuthenticationResult"]
    return result["IdToken"] if token_use == "id" else result["AccessToken"]


def _sign_in_client(cognito: CognitoIdentityProviderClient, pool_id: str) -> str:
    for client in cognito.list_user_pool_clients(UserPoolId=pool_id, MaxResults=60)[
        "UserPoolClients"
    ]:
        if client.get("ClientName") == SIGN_IN_CLIENT:
            return client["ClientId"]
    return cognito.create_user_pool_client(
        UserPoolId=pool_id,
        ClientName=SIGN_IN_CLIENT,
        GenerateSecret=False,
        ExplicitAuthFlows=["ALLOW_ADMIN_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"],
    )["UserPoolClient"]["ClientId"]


def answers(invoke_urls: Mapping[str, str], token: str, path: str = "/orders") -> dict[str, int]:
    """The status each stage (name -> ``LocalAws.invoke_url``) answers a GET of ``path`` with
    this token: what the user sees."""
    return {stage: call(url + path, token).status for stage, url in invoke_urls.items()}


def call(url: str, token: str | None, *, method: str = "GET", timeout: float = 10.0) -> Reply:
    """One request to an invoke URL (``LocalAws.invoke_url(...) + "/orders"``)."""
    parts = urlsplit(url)
    connection = http.client.HTTPConnection(
        parts.hostname or "127.0.0.1", parts.port, timeout=timeout
    )
    try:
        headers = {"Authorization": token} if token is not None else {}
        connection.request(method, parts.path or "/", headers=headers)
        response = connection.getresponse()
        return Reply(response.status, response.read().decode())
    finally:
        connection.close()
