"""Parsing and checking a registration's properties: every refusal names the property and the
value, fits CloudFormation's console, and happens before anything changes."""

from __future__ import annotations

import pytest

from authorizer_pools.arns import UserPoolArn, arn_like
from authorizer_pools.errors import REASON_LIMIT, ResourceError
from authorizer_pools.properties import parse_properties
from authorizer_pools.settings import Settings

# The fast tier (make test-fast): no local AWS, seconds in all.
pytestmark = pytest.mark.fast

ACCOUNT = "123456789012"
POOL = f"arn:aws:cognito-idp:us-east-1:{ACCOUNT}:userpool/us-east-1_AbC123"


def settings(**overrides: object) -> Settings:
    values: dict[str, object] = {
        "partition": "aws",
        "account_id": ACCOUNT,
        "rest_api_id": "a1b2c3d4e5",
        "authorizer_id": "x9y8z7",
        "stage_names": ("dev", "prod"),
        "allowed_user_pool_arns": (f"arn:aws:cognito-idp:*:{ACCOUNT}:userpool/*",),
    }
    values.update(overrides)
    return Settings(**values)  # type: ignore[arg-type]


def props(**overrides: object) -> dict[str, object]:
    raw: dict[str, object] = {
        "ServiceToken": f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:pools",
        "UserPoolArn": POOL,
        "RestApiId": "a1b2c3d4e5",
        "AuthorizerId": "x9y8z7",
        "StageNames": ["dev", "prod"],
    }
    raw.update(overrides)
    return {key: value for key, value in raw.items() if value is not None}


def refusal(raw: dict[str, object], config: Settings | None = None) -> str:
    with pytest.raises(ResourceError) as caught:
        parse_properties(raw, config or settings())
    reason = str(caught.value)
    assert len(reason) <= REASON_LIMIT
    assert "Traceback" not in reason
    return reason


def test_a_full_set_of_properties_is_parsed_once_into_a_registration() -> None:
    parsed = parse_properties(props(), settings())
    assert parsed.user_pool_arn == UserPoolArn("aws", "us-east-1", ACCOUNT, "us-east-1_AbC123")
    assert (parsed.rest_api_id, parsed.authorizer_id) == ("a1b2c3d4e5", "x9y8z7")
    assert parsed.stage_names == ("dev", "prod")


def test_defaults_are_what_the_registrar_was_deployed_for() -> None:
    parsed = parse_properties(props(RestApiId=None, AuthorizerId=None, StageNames=None), settings())
    assert (parsed.rest_api_id, parsed.authorizer_id, parsed.stage_names) == (
        "a1b2c3d4e5",
        "x9y8z7",
        ("dev", "prod"),
    )


def test_stage_names_may_come_as_one_comma_separated_string_or_name_a_subset() -> None:
    assert parse_properties(props(StageNames="prod, dev"), settings()).stage_names == (
        "prod",
        "dev",
    )
    assert parse_properties(props(StageNames=["prod"]), settings()).stage_names == ("prod",)


def test_service_timeout_beside_the_service_token_is_accepted() -> None:
    assert parse_properties(props(ServiceTimeout="3600"), settings()).stage_names


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (props(UserPoolArn=None), "UserPoolArn is required"),
        (props(UserPoolArn="not-an-arn"), "UserPoolArn 'not-an-arn' is not a Cognito user pool"),
        (
            props(
                UserPoolArn="arn:aws:cognito-identity:us-east-1:123456789012:"
                "identitypool/us-east-1:0b1c2d3e-0000-4000-8000-000000000000"
            ),
            "is an identity pool ARN",
        ),
        (
            props(
                UserPoolArn=f"arn:aws-cn:cognito-idp:cn-north-1:{ACCOUNT}:userpool/cn-north-1_X1"
            ),
            "is in partition aws-cn; this function runs in aws",
        ),
        (
            props(UserPoolArn=f"arn:aws:cognito-idp:us-east-1:{ACCOUNT}:userpool/eu-west-1_X1"),
            "names pool eu-west-1_X1 of region eu-west-1 in region us-east-1",
        ),
        (
            props(UserPoolArn="arn:aws:cognito-idp:us-east-1:999999999999:userpool/us-east-1_X1"),
            "UserPoolArn 'arn:aws:cognito-idp:us-east-1:999999999999:userpool/us-east-1_X1' "
            "is not allowed by AllowedUserPoolArns",
        ),
        (props(UserPoolArn=["a", "b"]), "UserPoolArn ['a', 'b'] must be a string"),
        (props(RestApiId="a1/b2"), "RestApiId 'a1/b2' is not an API Gateway id"),
        # Only what the registrar was deployed for: another team's API, authorizer or stage.
        (
            props(RestApiId="zzzzzzzzzz"),
            "RestApiId 'zzzzzzzzzz' is not the REST API this registrar serves (a1b2c3d4e5)",
        ),
        (
            props(AuthorizerId="other1"),
            "AuthorizerId 'other1' is not the authorizer this registrar serves (x9y8z7)",
        ),
        (
            props(StageNames=["dev", "internal"]),
            "StageNames 'internal' is not a stage this registrar publishes (dev, prod)",
        ),
        (props(StageNames="dev,prod,dev"), "StageNames 'dev' is named more than once"),
        (props(ServiceTimeout="7200"), "ServiceTimeout '7200' must be a number of seconds, 60"),
        (props(ServiceTimeout="5"), "ServiceTimeout '5' must be a number of seconds, 60 to 3600"),
        (props(ServiceTimeout="soon"), "ServiceTimeout 'soon' must be a number of seconds"),
        (
            props(UserPoolArn="arn:aws:cognito-idp:" + "x" * 3000),
            "is longer than an ARN can be (2048)",
        ),
        (props(StageNames=["dev", "pr od"]), "StageNames 'pr od' is not a stage name"),
        (props(StageNames={"dev": 1}), "StageNames {'dev': 1} must be a list of stage names"),
        (props(UserpoolArn=POOL), "unknown property 'UserpoolArn'; did you mean UserPoolArn?"),
        (props(Colour="blue"), "unknown property 'Colour' (known: UserPoolArn"),
    ],
)
def test_bad_input_is_refused_with_the_property_and_the_value(
    raw: dict[str, object], expected: str
) -> None:
    assert expected in refusal(raw)


def test_an_oversized_event_is_refused_naming_its_largest_property() -> None:
    reason = refusal(props(StageNames=["dev"] + [f"s{n:04d}" for n in range(1200)]))
    assert reason.startswith("'StageNames' makes the ResourceProperties 1")
    assert reason.endswith("a registration takes at most 4,096")


def test_a_very_long_value_is_clipped_so_the_reason_still_names_the_property() -> None:
    reason = refusal(props(UserPoolArn="x" * 2000))
    assert reason.startswith("UserPoolArn 'xxxx")
    assert reason.endswith("(arn:PARTITION:cognito-idp:REGION:ACCOUNT:userpool/REGION_ID)")


def test_other_accounts_pools_are_allowed_when_the_stack_allows_them() -> None:
    other = "arn:aws:cognito-idp:eu-west-1:210987654321:userpool/eu-west-1_Zz9"
    config = settings(allowed_user_pool_arns=("arn:aws:cognito-idp:*:210987654321:userpool/*",))
    assert str(parse_properties(props(UserPoolArn=other), config).user_pool_arn) == other
    assert "not allowed" in refusal(props(UserPoolArn=POOL), config)


@pytest.mark.parametrize(
    ("pattern", "arn", "matches"),
    [
        ("arn:aws:cognito-idp:*:123456789012:userpool/*", POOL, True),
        ("arn:aws:cognito-idp:us-east-?:123456789012:userpool/us-east-1_*", POOL, True),
        ("arn:aws:cognito-idp:eu-*:123456789012:userpool/*", POOL, False),
        # Each of the six parts is matched on its own: a * does not run across a colon.
        ("arn:aws:cognito-idp:*:userpool/*", POOL, False),
        ("arn:aws:cognito-idp:*:*:userpool/us-east-1_AbC12?", POOL, True),
        ("arn:aws:cognito-idp:*:*:userpool/[abc]", POOL, False),
    ],
)
def test_allowed_pool_patterns_follow_iam_arnlike(pattern: str, arn: str, matches: bool) -> None:
    assert arn_like(pattern, arn) is matches


def test_a_protected_pool_is_refused_whatever_allowed_user_pool_arns_allows() -> None:
    # The shared API's operators' pool: a tenant that registered it would make it managed,
    # and deleting that registration would take it off the authorizer.
    reason = refusal(props(), settings(protected_user_pool_arns=(POOL,)))
    assert reason.startswith(f"UserPoolArn '{POOL}' is protected (ProtectedUserPoolArns)")
    assert parse_properties(props(), settings(protected_user_pool_arns=(POOL + "x",)))
