"""How AWS error answers look on the wire, per protocol, so that botocore parses them.

Reproduces the error shapes botocore's parsers (``botocore/parsers.py``) read, which follow the
Smithy AWS protocol specifications:

- ``rest-json`` (API Gateway, Lambda): the error code travels in the ``x-amzn-ErrorType`` header,
  the body is ``{"message": ...}``. API Gateway's own errors look exactly like this
  (``RestJSONParser._inject_error_code`` reads the header first).
- ``json`` (JSON 1.0/1.1 services addressed by ``X-Amz-Target``: DynamoDB, Cognito user pools):
  the code travels in the body as ``__type`` (``BaseJSONParser._do_error_parse``).
- ``query`` (STS, IAM, …): ``<ErrorResponse><Error><Type/><Code/><Message/></Error>…``.
- ``rest-xml`` (S3): ``<Error><Code/><Message/><RequestId/></Error>``.

Every synthesized answer carries an ``x-amzn-RequestId`` like AWS's, so botocore's
``ResponseMetadata.RequestId`` is filled in as it would be against AWS.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from http import HTTPStatus
from typing import Literal
from xml.sax.saxutils import escape

WireProtocol = Literal["rest-json", "json", "query", "rest-xml"]


@dataclass(frozen=True)
class HttpAnswer:
    """A complete HTTP answer, independent of the server framework that sends it."""

    status: int
    headers: tuple[tuple[str, str], ...]
    body: bytes

    @property
    def status_line(self) -> str:
        """The WSGI status string, e.g. ``"429 Too Many Requests"``."""
        try:
            phrase = HTTPStatus(self.status).phrase
        except ValueError:
            # Injected faults may use codes the stdlib does not name; WSGI still needs a phrase.
            phrase = "Unknown"
        return f"{self.status} {phrase}"

    def header(self, name: str) -> str | None:
        """The first header of that name (case-insensitive), or None."""
        wanted = name.lower()
        for key, value in self.headers:
            if key.lower() == wanted:
                return value
        return None


def new_request_id() -> str:
    """A request id shaped like AWS's (a UUID)."""
    return str(uuid.uuid4())


def error_answer(
    protocol: WireProtocol,
    status: int,
    code: str,
    message: str,
    *,
    extra_headers: tuple[tuple[str, str], ...] = (),
    json_content_type: str = "application/x-amz-json-1.1",
) -> HttpAnswer:
    """An AWS error answer in the given protocol's wire format.

    ``json_content_type`` matters only for the ``json`` protocol: AWS answers in the JSON
    version the request used (1.0 for DynamoDB, 1.1 for Cognito).
    """
    request_id = new_request_id()
    body: bytes
    headers: list[tuple[str, str]] = [("x-amzn-RequestId", request_id)]
    if protocol == "rest-json":
        body = json.dumps({"message": message}).encode()
        headers += [("Content-Type", "application/json"), ("x-amzn-ErrorType", code)]
    elif protocol == "json":
        body = json.dumps({"__type": code, "message": message}).encode()
        headers += [("Content-Type", json_content_type)]
    elif protocol == "query":
        # The Type element tells the client whose fault it was; AWS uses Receiver for 5xx.
        fault = "Receiver" if status >= 500 else "Sender"
        body = (
            "<ErrorResponse><Error>"
            f"<Type>{fault}</Type><Code>{escape(code)}</Code><Message>{escape(message)}</Message>"
            f"</Error><RequestId>{request_id}</RequestId></ErrorResponse>"
        ).encode()
        headers += [("Content-Type", "text/xml")]
    else:
        body = (
            '<?xml version="1.0" encoding="UTF-8"?>\n'
            f"<Error><Code>{escape(code)}</Code><Message>{escape(message)}</Message>"
            f"<RequestId>{request_id}</RequestId></Error>"
        ).encode()
        headers += [("Content-Type", "application/xml")]
    headers += list(extra_headers)
    headers.append(("Content-Length", str(len(body))))
    return HttpAnswer(status=status, headers=tuple(headers), body=body)


def empty_answer(status: int, extra_headers: tuple[tuple[str, str], ...] = ()) -> HttpAnswer:
    """A successful answer without a body (e.g. API Gateway's 202 for a cache flush)."""
    headers = (
        ("x-amzn-RequestId", new_request_id()),
        ("Content-Type", "application/json"),
        *extra_headers,
        ("Content-Length", "0"),
    )
    return HttpAnswer(status=status, headers=headers, body=b"")
