"""localaws.cloudformation.records: which stack holds a resource, as CloudFormation keeps it."""

from __future__ import annotations

import pytest

from localaws.cloudformation.records import Records

STACK = "arn:aws:cloudformation:us-east-1:123456789012:stack/tenant/1"


@pytest.mark.parametrize(
    ("status", "holds"),
    [
        ("CREATE_COMPLETE", True),
        ("UPDATE_ROLLBACK_COMPLETE", True),  # an update's rollback keeps what the stack had
        ("ROLLBACK_COMPLETE", False),  # a creation's rollback deleted what it made
        ("DELETE_COMPLETE", False),
    ],
)
def test_a_stack_holds_its_resources_until_they_are_deleted_with_it(
    status: str, holds: bool
) -> None:
    records = Records()
    records.add_stack(STACK, "tenant", "CREATE_IN_PROGRESS", 0.0)
    records.resource(
        STACK,
        "TenantPool",
        "CREATE_COMPLETE",
        0.0,
        resource_type="AWS::Cognito::UserPool",
        physical_id="us-east-1_pool",
    )
    records.stack_status(STACK, status, 1.0)

    assert records.holder_of("us-east-1_pool") == (STACK if holds else None)
