"""What one registration is: a user pool on one authorizer of one REST API.

Its physical id encodes exactly that, so a Delete can decide what to remove from the id alone:
during a replacement's cleanup the Delete may carry the *new* properties.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .arns import ArnError, UserPoolArn

# API Gateway ids are short lowercase alphanumerics (REST API ids have 10 characters,
# authorizer ids 6); allow a little more, but never a character that could split an id.
API_ID = re.compile(r"[A-Za-z0-9]{1,64}")


@dataclass(frozen=True, order=True)
class Registration:
    rest_api_id: str
    authorizer_id: str
    user_pool_arn: UserPoolArn

    @property
    def physical_id(self) -> str:
        """``<rest api id>:<authorizer id>:<user pool arn>``: deterministic, and never one crhelper
        invents (``<stack>_<logical id>_<random>``; stack names cannot contain a colon)."""
        return f"{self.rest_api_id}:{self.authorizer_id}:{self.user_pool_arn}"

    @property
    def attributes(self) -> dict[str, str]:
        """The resource's return values (``Fn::GetAtt``), sent as the answer's ``Data``."""
        return {
            "UserPoolArn": str(self.user_pool_arn),
            "RestApiId": self.rest_api_id,
            "AuthorizerId": self.authorizer_id,
        }

    @classmethod
    def from_physical_id(cls, physical_id: str) -> Registration | None:
        """The registration an id stands for, or None when this resource did not issue it."""
        parts = physical_id.split(":", 2)
        if len(parts) != 3 or not all(API_ID.fullmatch(part) for part in parts[:2]):
            return None
        try:
            pool = UserPoolArn.parse(parts[2])
        except ArnError:
            return None
        return cls(parts[0], parts[1], pool)
