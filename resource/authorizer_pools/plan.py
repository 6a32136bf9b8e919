"""What to do to the authorizer's pool list, decided from what it holds now. Pure: no AWS.

API Gateway changes the list one ARN per patch operation. We never send the whole list (two
tenants doing read-modify-write at once would lose one), and send only the change that is
needed, because what ``add`` of a listed ARN or ``remove`` of an unlisted one does is not
documented. API Gateway refuses an empty list, so the last pool is never removed.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence


class Change(enum.Enum):
    ADD = "add"
    REMOVE = "remove"
    NONE_PRESENT = "already-present"
    NONE_ABSENT = "already-absent"
    KEEP_LAST_POOL = "kept-last-pool"

    @property
    def changes_authorizer(self) -> bool:
        return self in (Change.ADD, Change.REMOVE)


def to_register(provider_arns: Sequence[str], arn: str) -> Change:
    return Change.NONE_PRESENT if arn in provider_arns else Change.ADD


def to_deregister(provider_arns: Sequence[str], arn: str) -> Change:
    if arn not in provider_arns:
        return Change.NONE_ABSENT
    if all(listed == arn for listed in provider_arns):
        return Change.KEEP_LAST_POOL
    return Change.REMOVE


def patch_operation(change: Change, arn: str) -> dict[str, str]:
    if not change.changes_authorizer:
        raise ValueError(f"{change.value} needs no patch")
    return {"op": change.value, "path": "/providerARNs", "value": arn}
