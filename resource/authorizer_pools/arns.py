"""Cognito user pool ARNs: parsing them strictly, and matching them against IAM ARN patterns."""

from __future__ import annotations

import re
from dataclasses import dataclass

# arn:PARTITION:cognito-idp:REGION:ACCOUNT:userpool/POOL_ID, where the pool id is the region,
# an underscore and an alphanumeric suffix (Cognito's UserPoolIdType: [\w-]+_[0-9a-zA-Z]+).
_USER_POOL_ARN = re.compile(
    r"arn:(?P<partition>aws[a-z-]*):cognito-idp:(?P<region>[a-z]{2}(?:-[a-z]+)+-\d+):"
    r"(?P<account>\d{12}):userpool/(?P<pool_id>(?P<pool_region>[\w-]+)_[0-9a-zA-Z]+)"
)
EXPECTED_FORM = "arn:PARTITION:cognito-idp:REGION:ACCOUNT:userpool/REGION_ID"


class ArnError(ValueError):
    """Why a string is not an acceptable user pool ARN, phrased to follow the value."""


@dataclass(frozen=True, order=True)
class UserPoolArn:
    partition: str
    region: str
    account: str
    pool_id: str

    def __str__(self) -> str:
        return (
            f"arn:{self.partition}:cognito-idp:{self.region}:{self.account}:userpool/{self.pool_id}"
        )

    @classmethod
    def parse(cls, text: str) -> UserPoolArn:
        match = _USER_POOL_ARN.fullmatch(text)
        if match is None:
            raise ArnError(_explain_mismatch(text))
        if match["pool_region"] != match["region"]:
            raise ArnError(
                f"names pool {match['pool_id']} of region {match['pool_region']} "
                f"in region {match['region']}"
            )
        return cls(match["partition"], match["region"], match["account"], match["pool_id"])


def _explain_mismatch(text: str) -> str:
    if ":cognito-identity:" in text or ":identitypool/" in text:
        return f"is an identity pool ARN; give the user pool's ARN ({EXPECTED_FORM})"
    return f"is not a Cognito user pool ARN ({EXPECTED_FORM})"


def arn_like(pattern: str, arn: str) -> bool:
    """IAM's ``ArnLike``: each of the six colon-separated parts is matched on its own, with
    ``*`` for any run of characters and ``?`` for one; the last part may contain colons."""
    pattern_parts = pattern.split(":", 5)
    arn_parts = arn.split(":", 5)
    if len(pattern_parts) != 6 or len(arn_parts) != 6:
        return False
    return all(
        _wildcard(pattern_part).fullmatch(arn_part)
        for pattern_part, arn_part in zip(pattern_parts, arn_parts, strict=True)
    )


def _wildcard(pattern: str) -> re.Pattern[str]:
    return re.compile(
        "".join(
            ".*" if char == "*" else "." if char == "?" else re.escape(char) for char in pattern
        ),
        re.DOTALL,
    )
