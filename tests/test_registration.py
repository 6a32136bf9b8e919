"""The physical id: deterministic, carries what Delete needs, never confused with crhelper's."""

from __future__ import annotations

import pytest

from authorizer_pools.arns import UserPoolArn
from authorizer_pools.registration import Registration

# The fast tier (make test-fast): no local AWS, seconds in all.
pytestmark = pytest.mark.fast

POOL = UserPoolArn("aws", "us-east-1", "123456789012", "us-east-1_AbC123")


def test_the_id_encodes_api_authorizer_and_pool_and_decodes_back() -> None:
    registration = Registration("a1b2c3d4e5", "x9y8z7", POOL)
    assert registration.physical_id == (
        "a1b2c3d4e5:x9y8z7:arn:aws:cognito-idp:us-east-1:123456789012:userpool/us-east-1_AbC123"
    )
    assert Registration.from_physical_id(registration.physical_id) == registration
    assert Registration("a1b2c3d4e5", "x9y8z7", POOL).physical_id == registration.physical_id


@pytest.mark.parametrize(
    "foreign",
    [
        # What crhelper invents for a Create that failed without an id.
        "tenant-acme_TenantPoolRegistration_K3J9QX2M",
        "",
        "a1b2c3d4e5:x9y8z7:not-an-arn",
        "a1/b2:x9y8z7:arn:aws:cognito-idp:us-east-1:123456789012:userpool/us-east-1_AbC123",
    ],
)
def test_ids_this_resource_did_not_issue_are_recognised(foreign: str) -> None:
    assert Registration.from_physical_id(foreign) is None
