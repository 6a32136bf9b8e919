"""A registration's resource properties, parsed and checked once, before anything changes.

CloudFormation sends every scalar as a string and lists as lists of strings. Each check refuses
with a message that names the property and its value; nothing here calls AWS (``validation.py``
checks that what the properties name exists).
"""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass

from .arns import ArnError, UserPoolArn, arn_like
from .errors import InvalidProperty, ResourceError, shown
from .registration import API_ID, Registration
from .settings import Settings, split_list

USER_POOL_ARN = "UserPoolArn"
REST_API_ID = "RestApiId"
AUTHORIZER_ID = "AuthorizerId"
STAGE_NAMES = "StageNames"
# ServiceToken is in every custom resource's properties; ServiceTimeout (how long CloudFormation
# waits for the answer) may be, as it is declared beside it. Neither is ours to check.
KNOWN_PROPERTIES = (
    USER_POOL_ARN,
    REST_API_ID,
    AUTHORIZER_ID,
    STAGE_NAMES,
    "ServiceToken",
    "ServiceTimeout",
)

# API Gateway stage names: letters, digits, hyphens and underscores, up to 128 characters.
STAGE_NAME = re.compile(r"[A-Za-z0-9_-]{1,128}")


@dataclass(frozen=True)
class RegistrationProperties:
    registration: Registration
    stage_names: tuple[str, ...]

    @property
    def user_pool_arn(self) -> UserPoolArn:
        return self.registration.user_pool_arn

    @property
    def rest_api_id(self) -> str:
        return self.registration.rest_api_id

    @property
    def authorizer_id(self) -> str:
        return self.registration.authorizer_id


# Bounds: what AWS accepts, or what the registrar was deployed for.
PROPERTIES_LIMIT = 4096  # bytes of ResourceProperties as JSON; a registration needs a few hundred
ARN_LIMIT = 2048  # IAM's maximum ARN length
SERVICE_TIMEOUT = "ServiceTimeout"
# CloudFormation accepts 1 to 3,600 s; below a minute a registration cannot reliably go live
# (one deployment, one pass, the answer) nor give up in time.
SERVICE_TIMEOUT_RANGE = (60, 3600)


@dataclass(frozen=True)
class Parsed:
    """A registration's properties, well formed, and the registrar's bounds they are outside of
    today: a stage it no longer publishes, a pool AllowedUserPoolArns no longer allows or that
    ProtectedUserPoolArns now names. A new registration is refused for any of them; a rollback
    to properties the owner had, or a Delete, is not (bounds may have changed since)."""

    properties: RegistrationProperties
    out_of_bounds: tuple[InvalidProperty, ...] = ()

    def strict(self) -> RegistrationProperties:
        """The properties, or the first bound they break."""
        if self.out_of_bounds:
            raise self.out_of_bounds[0]
        return self.properties

    @property
    def pool_out_of_bounds(self) -> bool:
        return any(problem.name == USER_POOL_ARN for problem in self.out_of_bounds)


def parse_properties(raw: Mapping[str, object], settings: Settings) -> RegistrationProperties:
    """Refuse anything the registrar was not deployed for, before anything is stored."""
    return read_properties(raw, settings).strict()


def read_properties(raw: Mapping[str, object], settings: Settings) -> Parsed:
    """The properties, or :class:`ResourceError` naming the first malformed one; the bounds
    they break, listed."""
    size = len(json.dumps(raw, default=str))
    if size > PROPERTIES_LIMIT:
        largest = max(raw, key=lambda name: len(json.dumps(raw[name], default=str)))
        raise ResourceError(
            f"{shown(largest, 40)} makes the ResourceProperties {size:,} bytes "
            f"({len(json.dumps(raw[largest], default=str)):,} of them); a registration takes at "
            f"most {PROPERTIES_LIMIT:,}"
        )
    _refuse_unknown(raw)
    pool = _user_pool_arn(raw.get(USER_POOL_ARN), settings)
    rest_api_id = _served(REST_API_ID, raw.get(REST_API_ID), settings.rest_api_id, "the REST API")
    authorizer_id = _served(
        AUTHORIZER_ID, raw.get(AUTHORIZER_ID), settings.authorizer_id, "the authorizer"
    )
    stage_names = stage_names_of(raw.get(STAGE_NAMES), settings.stage_names)
    _service_timeout(raw.get(SERVICE_TIMEOUT))
    out_of_bounds = _pool_bounds(pool, raw.get(USER_POOL_ARN), settings) + [
        InvalidProperty(
            STAGE_NAMES,
            name,
            f"is not a stage this registrar publishes ({', '.join(settings.stage_names)})",
        )
        for name in stage_names
        if name not in settings.stage_names
    ]
    registration = Registration(rest_api_id, authorizer_id, pool)
    return Parsed(RegistrationProperties(registration, stage_names), tuple(out_of_bounds))


def service_timeout(raw: Mapping[str, object]) -> float:
    """CloudFormation's patience for a request (``ServiceTimeout``, 3,600 s unless set): how
    long it waits for the answer. Never refuses: a value out of range (refused as a property of
    a new registration) means the default, and a Delete carrying one still gets a minute."""
    try:
        seconds = float(str(raw.get(SERVICE_TIMEOUT, "")))
    except ValueError:
        return float(SERVICE_TIMEOUT_RANGE[1])
    if not 0 < seconds <= SERVICE_TIMEOUT_RANGE[1]:
        return float(SERVICE_TIMEOUT_RANGE[1])
    return max(seconds, float(SERVICE_TIMEOUT_RANGE[0]))


def _served(name: str, value: object, served: str, what: str) -> str:
    """The registrar's API or authorizer: a registration may name it, and nothing else."""
    if value is None or value == "":
        return served
    if not isinstance(value, str) or not API_ID.fullmatch(value.strip()):
        raise InvalidProperty(name, value, "is not an API Gateway id (letters and digits)")
    if value.strip() != served:
        raise InvalidProperty(name, value, f"is not {what} this registrar serves ({served})")
    return served


def _service_timeout(value: object) -> None:
    if value is None or value == "":
        return
    low, high = SERVICE_TIMEOUT_RANGE
    try:
        seconds = float(str(value))
    except ValueError:
        seconds = float("nan")
    if not low <= seconds <= high:
        raise InvalidProperty(
            SERVICE_TIMEOUT, value, f"must be a number of seconds, {low} to {high}"
        )


def _refuse_unknown(raw: Mapping[str, object]) -> None:
    for name in raw:
        if name not in KNOWN_PROPERTIES:
            close = difflib.get_close_matches(name, KNOWN_PROPERTIES, n=1, cutoff=0.6)
            hint = f"; did you mean {close[0]}?" if close else ""
            known = ", ".join(KNOWN_PROPERTIES[:4])
            raise ResourceError(f"unknown property {shown(name)}{hint} (known: {known})")


def _user_pool_arn(value: object, settings: Settings) -> UserPoolArn:
    if value is None or value == "":
        raise ResourceError(f"{USER_POOL_ARN} is required")
    if not isinstance(value, str):
        raise InvalidProperty(USER_POOL_ARN, value, "must be a string")
    if len(value) > ARN_LIMIT:
        raise InvalidProperty(USER_POOL_ARN, value, f"is longer than an ARN can be ({ARN_LIMIT})")
    try:
        pool = UserPoolArn.parse(value.strip())
    except ArnError as error:
        raise InvalidProperty(USER_POOL_ARN, value, str(error)) from None
    if pool.partition != settings.partition:
        raise InvalidProperty(
            USER_POOL_ARN,
            value,
            f"is in partition {pool.partition}; this function runs in {settings.partition}",
        )
    return pool


def _pool_bounds(pool: UserPoolArn, value: object, settings: Settings) -> list[InvalidProperty]:
    if not any(arn_like(pattern, str(pool)) for pattern in settings.allowed_user_pool_arns):
        allowed = ", ".join(settings.allowed_user_pool_arns)
        return [
            InvalidProperty(
                USER_POOL_ARN, value, f"is not allowed by AllowedUserPoolArns ({allowed})"
            )
        ]
    if str(pool) in settings.protected_user_pool_arns:
        return [
            InvalidProperty(
                USER_POOL_ARN,
                value,
                "is protected (ProtectedUserPoolArns): the shared API's own pool, which no "
                "registration may name",
            )
        ]
    return []


def stage_names_of(value: object, default: tuple[str, ...]) -> tuple[str, ...]:
    """StageNames as a list of strings, or one comma-separated string (a CommaDelimitedList
    parameter passed through ``!Join``), each named once."""
    if value is None or value in ("", []):
        names = default
        if not names:
            raise ResourceError(
                f"{STAGE_NAMES} is required: the function has no default {STAGE_NAMES}"
            )
    elif isinstance(value, str):
        names = split_list(value)
    elif isinstance(value, list) and all(isinstance(item, str) for item in value):
        names = tuple(item.strip() for item in value)
    else:
        raise InvalidProperty(STAGE_NAMES, value, "must be a list of stage names")
    for name in names:
        if not STAGE_NAME.fullmatch(name):
            raise InvalidProperty(
                STAGE_NAMES, name, "is not a stage name (letters, digits, - and _)"
            )
    if not names:
        raise InvalidProperty(STAGE_NAMES, value, "must name at least one stage")
    for name in names:
        if names.count(name) > 1:
            raise InvalidProperty(STAGE_NAMES, name, "is named more than once")
    return names
