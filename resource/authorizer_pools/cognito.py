"""The one Cognito question the registrar asks: does this user pool exist?"""

from __future__ import annotations

from . import aws, retries
from .arns import UserPoolArn
from .aws_errors import NotFound
from .timing import Deadline


def pool_exists(pool: UserPoolArn, deadline: Deadline) -> bool:
    """DescribeUserPool in the pool's own region (a pool may live in another region than the
    function). Raises what else goes wrong, such as IAM refusing a pool of another account."""
    try:
        retries.call(
            "DescribeUserPool",
            lambda: aws.cognito(pool.region).describe_user_pool(UserPoolId=pool.pool_id),
            deadline,
        )
    except NotFound:
        return False
    return True
