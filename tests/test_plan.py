"""Deciding the one patch operation, from what the authorizer lists now."""

from __future__ import annotations

import pytest

from authorizer_pools.plan import Change, patch_operation, to_deregister, to_register

A = "arn:aws:cognito-idp:us-east-1:123456789012:userpool/us-east-1_A"
B = "arn:aws:cognito-idp:us-east-1:123456789012:userpool/us-east-1_B"


def test_register_adds_only_a_missing_pool() -> None:
    assert to_register([B], A) is Change.ADD
    assert to_register([A, B], A) is Change.NONE_PRESENT


def test_deregister_removes_a_listed_pool_but_never_the_last_one() -> None:
    assert to_deregister([A, B], A) is Change.REMOVE
    assert to_deregister([B], A) is Change.NONE_ABSENT
    assert to_deregister([A], A) is Change.KEEP_LAST_POOL


def test_one_operation_names_one_arn_and_never_the_whole_list() -> None:
    assert patch_operation(Change.ADD, A) == {"op": "add", "path": "/providerARNs", "value": A}
    assert patch_operation(Change.REMOVE, A)["op"] == "remove"
    with pytest.raises(ValueError, match="needs no patch"):
        patch_operation(Change.KEEP_LAST_POOL, A)
