"""Who answers a call the control-plane model lets through: this package, where moto falls
short of AWS, else moto.

Reproduces:

- FlushStageAuthorizersCache, which moto does not route, and GetExport of a stage, whose moto
  version ignores the stage and knows no authorizer, answered by ``apigateway.flush`` and
  ``apigateway.export``. Both are reads of the API (never 409) and count in the account quota
  like every other call.
- Lambda's asynchronous ``Invoke`` of the functions attached to ``awslambda.async_invoke``
  (moto would need Docker): delivered later, on its own thread, at least once.
- CloudFormation's ``DescribeStackResource`` and ``DescribeStacks`` of the stacks the local
  driver runs, as CloudFormation records them phase by phase (``cloudformation.records``).
- DynamoDB applying each write, condition included, atomically (developer guide, "Condition
  expressions"; transactions are all-or-nothing). moto's models check and then write without a
  lock, so concurrent requests could both pass one condition; one request at a time restores
  the atomicity.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from localaws.apigateway.export import get_export
from localaws.apigateway.flush import flush_stage_authorizers_cache
from localaws.cloudformation import records as cloudformation_records
from localaws.dynamodb import model as dynamodb_model
from localaws.middleware.routes import EXPORT_TYPE, RequestInfo
from localaws.wire import HttpAnswer

if TYPE_CHECKING:
    from _typeshed.wsgi import WSGIApplication, WSGIEnvironment

    from localaws.awslambda.async_invoke import AsyncInvocations

# One DynamoDB request at a time; shared with ``dynamodb_model.expire_items`` so that TTL expiry is
# atomic with requests.
_DYNAMODB_LOCK = dynamodb_model.MODEL_LOCK


def dispatch(
    app: WSGIApplication,
    invocations: AsyncInvocations,
    info: RequestInfo,
    environ: WSGIEnvironment,
) -> HttpAnswer:
    """The answer to the call: from ``apigateway.flush`` or ``apigateway.export``, from
    ``invocations`` (Lambda's asynchronous invocations) or from ``app`` (moto's server
    application)."""
    if info.operation == "FlushStageAuthorizersCache":
        assert info.api_id is not None
        assert info.stage_name is not None
        return flush_stage_authorizers_cache(
            info.account_id, info.region, info.api_id, info.stage_name
        )
    if info.operation == "GetExport":
        assert info.api_id is not None
        assert info.stage_name is not None
        export_type = EXPORT_TYPE.search(info.path)
        assert export_type is not None
        return get_export(
            info.account_id,
            info.region,
            info.api_id,
            info.stage_name,
            export_type["type"],
            query=str(environ.get("QUERY_STRING", "")),
            accept=info.headers.get("accept"),
        )
    if info.operation == "Invoke" and info.service == "lambda":
        return invocations.invoke(info.path, info.headers, info.body)
    if info.service == "cloudformation":
        recorded = cloudformation_records.answer(info.operation, info.body)
        if recorded is not None:
            return recorded
    if info.service == "dynamodb":
        # One request at a time: DynamoDB's writes are atomic, moto's are not (see above).
        with _DYNAMODB_LOCK:
            return _call_wsgi(app, environ)
    return _call_wsgi(app, environ)


def _call_wsgi(app: WSGIApplication, environ: WSGIEnvironment) -> HttpAnswer:
    """Run a WSGI application to completion and keep its whole answer.

    Buffering lets the middleware hold an API until moto has finished changing it, and record
    the status. moto's answers are small.
    """
    status_line = "500 Internal Server Error"
    headers: list[tuple[str, str]] = []
    chunks: list[bytes] = []

    def start_response(
        status: str, response_headers: list[tuple[str, str]], exc_info: Any = None
    ) -> Callable[[bytes], object]:
        nonlocal status_line, headers
        status_line, headers = status, list(response_headers)
        return chunks.append

    result = app(environ, start_response)
    try:
        chunks.extend(result)
    finally:
        close = getattr(result, "close", None)
        if close is not None:
            close()
    return HttpAnswer(
        status=int(status_line.split(maxsplit=1)[0]), headers=tuple(headers), body=b"".join(chunks)
    )
