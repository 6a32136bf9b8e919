"""What the API Gateway extension modules share: the lock on moto's models, moto's own methods
that ``apigateway.patches.install()`` replaced (the patches call them), and the lookup of an API.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from moto.apigateway.models import RestAPI, apigateway_backends

# moto's models are not thread-safe and the server is threaded: without this lock two
# concurrent UpdateAuthorizer calls would each validate a copy and the second commit would
# silently drop the first one's ARN, a lost update AWS never produces.
MODEL_LOCK = threading.RLock()
# "Class.attribute" -> moto's own method, for as long as install() has replaced it.
ORIGINALS: dict[str, Callable[..., Any]] = {}


def api_or_none(account_id: str, region: str, api_id: str) -> RestAPI | None:
    try:
        backend = apigateway_backends[account_id][region]
    except KeyError:
        # A region moto does not serve holds no API.
        return None
    return backend.apis.get(api_id)
