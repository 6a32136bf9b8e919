"""Lambda entry point: ``authorizer_pools.handler.handler``. Wiring only.

crhelper speaks CloudFormation's protocol (answering to the ResponseURL, a timer that answers
before Lambda's deadline); ``lifecycle`` does the work. The helper is built before anything that
could fail, so even a broken configuration gets a FAILED answer instead of an hour's wait.
"""

from __future__ import annotations

import contextlib
import logging
import os
import types
from collections.abc import Callable, Iterator
from typing import Any

import boto3
import crhelper.resource_helper
from crhelper import CfnResource

_LEVEL = os.environ.get("LOG_LEVEL", "INFO").upper()


class _ClientOnFirstUse:
    """A boto3 client made the first time it is used."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self._arguments = (args, kwargs)
        self._client: Any = None

    def __getattr__(self, name: str) -> Any:
        if self._client is None:
            args, kwargs = self._arguments
            self._client = boto3.client(*args, **kwargs)
        return getattr(self._client, name)


@contextlib.contextmanager
def _clients_on_first_use() -> Iterator[None]:
    """crhelper makes lambda, events and logs clients when it is built, which costs about as
    much as importing boto3 itself on every cold start; it uses them only to poll, which most
    requests never do. While it is built, its ``boto3.client`` makes them on first use."""
    module: Any = crhelper.resource_helper
    real = module.boto3
    module.boto3 = types.SimpleNamespace(client=_ClientOnFirstUse)
    try:
        yield
    finally:
        module.boto3 = real


with _clients_on_first_use():
    helper = CfnResource(
        json_logging=True,
        # crhelper's default, DEBUG, logs the whole event with its pre-signed ResponseURL.
        log_level=_LEVEL if _LEVEL in logging.getLevelNamesMapping() else "INFO",
        boto_level="WARNING",
        # crhelper sleeps 120 s before answering a Delete (to let logs flush); a tenant stack's
        # deletion must not wait for that.
        sleep_on_delete=0,
    )

from . import lifecycle, logs  # noqa: E402  (after the helper: see the module docstring)
from .errors import ResourceError  # noqa: E402
from .registration import Registration  # noqa: E402

logs.install_redaction()


def _answering(
    work: Callable[[Any, Any], Registration | None],
) -> Callable[[Any, Any], str | None]:
    """Answer with the registration's physical id and attributes; turn every failure into a
    reason CloudFormation can show, with the physical id a half-done Create must be rolled back
    with."""

    def run(event: Any, context: Any) -> str | None:
        try:
            registration = work(event, context)
        except ResourceError as error:
            if error.physical_id:
                helper.PhysicalResourceId = error.physical_id
            raise
        except Exception as error:
            logging.getLogger(__name__).exception("unexpected error")
            raise ResourceError(
                f"internal error {type(error).__name__}: {error} "
                f"(see the function's log, request {getattr(context, 'aws_request_id', '?')})"
            ) from error
        if registration is None:
            return None  # crhelper answers with the event's physical id
        helper.Data.update(registration.attributes)
        return registration.physical_id

    return run


helper.create(_answering(lifecycle.create))
helper.update(_answering(lifecycle.update))
helper.delete(_answering(lifecycle.delete))


def handler(event: dict[str, Any], context: Any) -> None:
    helper(event, context)
