"""CloudFormation's side of a custom resource's ResponseURL, over real HTTPS on loopback.

Reproduces the custom-resource response protocol of the CloudFormation user guide ("Custom
resources: request and response objects"):

- The ResponseURL is a pre-signed S3 URL (``X-Amz-Algorithm=AWS4-HMAC-SHA256 … X-Amz-Signature``)
  of an object in CloudFormation's response bucket for the Region,
  ``cloudformation-custom-resource-response-<region without dashes>`` (CloudFormation user guide,
  "Setting up VPC endpoints for CloudFormation"), addressed virtual-hosted style on
  ``s3.amazonaws.com`` as the URLs CloudFormation sends are. It is a secret: each URL here carries
  a fresh random 64-hex signature, so tests can grep logs for it.
- The function PUTs its answer there. This receiver is that bucket's S3 endpoint: a sender
  reaches it through ``endpoint_url`` (``AWS_ENDPOINT_URL_S3``), and the request's ``Host`` must
  be the bucket's host, as S3 routes a virtual-hosted request by it. S3 answers 200 with an
  empty body. A PUT to a URL that was not issued (wrong signature, another bucket) gets S3's
  403, an expired one 403 too, any other method S3's 405.
- CloudFormation checks the answer: JSON; ``Status`` SUCCESS or FAILED; ``Reason`` required on
  FAILED; ``PhysicalResourceId`` non-empty and at most 1 KB; ``StackId``, ``RequestId`` and
  ``LogicalResourceId`` echoed from the request; ``Data`` an object; the whole body at most
  4,096 bytes ("Response object is too long"). Problems are recorded with the answer instead of
  raised, so the server thread never dies and a test can assert on them.

The sender under test is crhelper's unmodified ``http.client.HTTPSConnection`` with
``ssl.create_default_context``, which honours ``SSL_CERT_FILE``: a throwaway CA is made with
``trustme`` and its PEM written to ``ca_file`` for child processes to trust.
"""

from __future__ import annotations

import datetime
import http.server
import json
import os
import secrets
import ssl
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any
from urllib.parse import parse_qs, quote, unquote, urlsplit

import trustme

MAX_BODY_BYTES = 4096
# How long an issued URL is valid (X-Amz-Expires).
VALIDITY_SECONDS = 7200
MAX_PHYSICAL_ID_BYTES = 1024
KNOWN_KEYS = frozenset(
    {
        "Status",
        "Reason",
        "PhysicalResourceId",
        "StackId",
        "RequestId",
        "LogicalResourceId",
        "NoEcho",
        "Data",
    }
)


@dataclass(frozen=True)
class IssuedUrl:
    """What a ResponseURL was issued for; ``signature`` is the secret part to grep logs for."""

    request_id: str
    stack_id: str
    logical_resource_id: str
    signature: str
    url: str
    # When S3 stops accepting it (X-Amz-Date + X-Amz-Expires), in seconds since the epoch.
    expires_at: float = float("inf")

    def __repr__(self) -> str:
        # Keep the secret out of assertion messages and logs.
        return f"IssuedUrl(request_id={self.request_id!r}, logical={self.logical_resource_id!r})"


@dataclass(frozen=True)
class ReceivedAnswer:
    """One PUT to an issued URL, with CloudFormation's verdict on it."""

    request_id: str
    body: bytes
    document: dict[str, Any] | None
    problems: tuple[str, ...]
    received_at: float

    @property
    def valid(self) -> bool:
        return not self.problems

    @property
    def status(self) -> str | None:
        value = self.document.get("Status") if self.document else None
        return value if isinstance(value, str) else None

    @property
    def reason(self) -> str | None:
        value = self.document.get("Reason") if self.document else None
        return value if isinstance(value, str) else None

    @property
    def physical_resource_id(self) -> str | None:
        value = self.document.get("PhysicalResourceId") if self.document else None
        return value if isinstance(value, str) else None

    @property
    def data(self) -> dict[str, Any] | None:
        value = self.document.get("Data") if self.document else None
        return value if isinstance(value, dict) else None


@dataclass(frozen=True)
class RejectedRequest:
    """A request S3 would have refused (never reaches CloudFormation)."""

    method: str
    status: int
    reason: str


def validate_answer(
    body: bytes, issued: IssuedUrl | None
) -> tuple[dict[str, Any] | None, list[str]]:
    """CloudFormation's checks of a custom-resource answer: (parsed document, problems)."""
    problems: list[str] = []
    if len(body) > MAX_BODY_BYTES:
        problems.append(f"Response object is too long ({len(body)} > {MAX_BODY_BYTES} bytes)")
    try:
        parsed: Any = json.loads(body)
    except ValueError as exc:
        return None, [*problems, f"body is not JSON: {exc}"]
    if not isinstance(parsed, dict):
        return None, [*problems, f"body is JSON {type(parsed).__name__}, not an object"]
    document: dict[str, Any] = parsed

    status = document.get("Status")
    if status not in ("SUCCESS", "FAILED"):
        problems.append(f"Status must be SUCCESS or FAILED, got {status!r}")
    reason = document.get("Reason")
    if reason is not None and not isinstance(reason, str):
        problems.append(f"Reason must be a string, got {type(reason).__name__}")
    if status == "FAILED" and not (isinstance(reason, str) and reason.strip()):
        problems.append("Reason is required when Status is FAILED")
    physical_id = document.get("PhysicalResourceId")
    if not isinstance(physical_id, str) or not physical_id:
        problems.append(f"PhysicalResourceId must be a non-empty string, got {physical_id!r}")
    elif len(physical_id.encode()) > MAX_PHYSICAL_ID_BYTES:
        problems.append(
            f"PhysicalResourceId is {len(physical_id.encode())} bytes (max {MAX_PHYSICAL_ID_BYTES})"
        )
    for key in ("StackId", "RequestId", "LogicalResourceId"):
        value = document.get(key)
        if not isinstance(value, str) or not value:
            problems.append(f"{key} must be echoed from the request, got {value!r}")
    if issued is not None:
        expected = {
            "StackId": issued.stack_id,
            "RequestId": issued.request_id,
            "LogicalResourceId": issued.logical_resource_id,
        }
        for key, want in expected.items():
            got = document.get(key)
            if isinstance(got, str) and got and got != want:
                problems.append(f"{key} {got!r} does not match the request's {want!r}")
    if "Data" in document and not isinstance(document["Data"], dict):
        problems.append(f"Data must be an object, got {type(document['Data']).__name__}")
    if "NoEcho" in document and not isinstance(document["NoEcho"], bool):
        problems.append(f"NoEcho must be a boolean, got {document['NoEcho']!r}")
    unknown = sorted(set(document) - KNOWN_KEYS)
    if unknown:
        # CloudFormation documents no other keys; refuse rather than guess it ignores them.
        problems.append(f"unknown keys in the answer: {', '.join(unknown)}")
    return document, problems


class _Server(http.server.ThreadingHTTPServer):
    # Joined in server_close(): a stopped receiver leaves no thread behind.
    daemon_threads = False
    block_on_close = True
    receiver: ResponseReceiver

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that does not trust the CA, or hangs up, fails here: record it instead of
        # printing a traceback from the server thread.
        exc = sys.exc_info()[1]
        self.receiver._record_rejection("-", 0, f"connection failed: {exc!r}")


class _Handler(http.server.BaseHTTPRequestHandler):
    server: _Server
    server_version = "AmazonS3"
    sys_version = ""
    # A client that connects and says nothing must not keep a thread (and stop()) waiting.
    timeout = 10

    def log_message(self, format: str, *args: Any) -> None:
        # The default writes the request line, pre-signed URL included, to stderr: a secret.
        return

    def do_PUT(self) -> None:
        self.server.receiver._handle_put(self)

    def _refuse(self) -> None:
        self.server.receiver._handle_other(self)

    do_GET = do_POST = do_DELETE = do_HEAD = do_PATCH = do_OPTIONS = _refuse


class ResponseReceiver:
    """An HTTPS endpoint playing S3 + CloudFormation for custom-resource answers."""

    def __init__(self, region: str = "us-east-1", account_id: str = "123456789012") -> None:
        self.region = region
        self.account_id = account_id
        self._bucket = "cloudformation-custom-resource-response-" + region.replace("-", "")
        self.host = f"{self._bucket}.s3.amazonaws.com"
        self._lock = threading.Condition()
        self._issued: dict[str, IssuedUrl] = {}
        self._answers: dict[str, list[ReceivedAnswer]] = {}
        self._rejected: list[RejectedRequest] = []
        self._observers: list[Callable[[ReceivedAnswer], None]] = []
        self._ca_file: Path | None = None
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle -------------------------------------------------------------------------

    def start(self) -> ResponseReceiver:
        if self._server is not None:
            raise RuntimeError("ResponseReceiver is already running")
        ca = trustme.CA()
        handle, ca_file = tempfile.mkstemp(prefix="localaws-receiver-ca-", suffix=".pem")
        os.close(handle)
        ca.cert_pem.write_to_path(ca_file)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ca.issue_cert("127.0.0.1", "localhost").configure_cert(context)
        server = _Server(("127.0.0.1", 0), _Handler)
        # The handshake happens in the handler thread, so one stuck client cannot block accept().
        server.socket = context.wrap_socket(
            server.socket, server_side=True, do_handshake_on_connect=False
        )
        server.receiver = self
        # A short poll interval: stop() waits for serve_forever to notice, up to one interval.
        thread = threading.Thread(
            target=server.serve_forever, args=(0.05,), name="localaws-receiver", daemon=True
        )
        thread.start()
        self._ca_file, self._server, self._thread = Path(ca_file), server, thread
        return self

    def stop(self) -> None:
        """Stop serving, join threads, free the port and delete the CA file."""
        server, thread, ca_file = self._server, self._thread, self._ca_file
        if server is not None and thread is not None:
            server.shutdown()
            server.server_close()
            thread.join()
        if ca_file is not None:
            ca_file.unlink(missing_ok=True)
        self._server = self._thread = self._ca_file = None

    def __enter__(self) -> ResponseReceiver:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("ResponseReceiver is not running")
        return int(self._server.server_address[1])

    @property
    def endpoint_url(self) -> str:
        """Where S3 is, for this bucket: a sender's ``AWS_ENDPOINT_URL_S3``."""
        return f"https://localhost:{self.port}"

    @property
    def ca_file(self) -> str:
        """PEM of the throwaway CA: set SSL_CERT_FILE to it in the sender's environment."""
        if self._ca_file is None:
            raise RuntimeError("ResponseReceiver is not running")
        return str(self._ca_file)

    # -- URLs ------------------------------------------------------------------------------

    def response_url(
        self,
        request_id: str,
        *,
        stack_id: str | None = None,
        logical_resource_id: str = "TenantPool",
        signature_version: int = 4,
    ) -> str:
        """A fresh pre-signed-looking URL for one request (new random signature each time):
        Signature Version 4 query authentication, or the legacy Version 2 (``AWSAccessKeyId``,
        ``Expires``, ``Signature``: no signing time), as older CloudFormation URLs carried."""
        stack_id = stack_id or (
            f"arn:aws:cloudformation:{self.region}:{self.account_id}:stack/localaws/{uuid.uuid4()}"
        )
        signature = secrets.token_hex(32)
        now = datetime.datetime.now(datetime.UTC)
        key = quote(f"{stack_id}|{logical_resource_id}|{request_id}", safe="/")
        credential = quote(
            f"AKIA{secrets.token_hex(8).upper()}/{now:%Y%m%d}/{self.region}/s3/aws4_request",
            safe="",
        )
        expires_at = now.timestamp() + VALIDITY_SECONDS
        url = (
            f"https://{self.host}/{key}"
            f"?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Date={now:%Y%m%dT%H%M%SZ}"
            f"&X-Amz-Expires={VALIDITY_SECONDS}&X-Amz-SignedHeaders=host&X-Amz-Credential={credential}"
            f"&X-Amz-Signature={signature}"
        )
        if signature_version == 2:
            url = (
                f"https://{self.host}/{key}?AWSAccessKeyId=AKIA{secrets.token_hex(8).upper()}"
                f"&Expires={int(expires_at)}&Signature={signature}"
            )
        with self._lock:
            # A new URL for the same request id replaces the old one, as a new request would.
            self._issued[request_id] = IssuedUrl(
                request_id=request_id,
                stack_id=stack_id,
                logical_resource_id=logical_resource_id,
                signature=signature,
                url=url,
                expires_at=expires_at,
            )
        return url

    def issued(self, request_id: str) -> IssuedUrl:
        with self._lock:
            return self._issued[request_id]

    def secrets(self) -> list[str]:
        """Every signature issued so far: none of them may ever appear in a log."""
        with self._lock:
            return [issued.signature for issued in self._issued.values()]

    # -- answers ---------------------------------------------------------------------------

    def answers(self, request_id: str) -> list[ReceivedAnswer]:
        """Every answer received for the request, in order (more than one is a duplicate)."""
        with self._lock:
            return list(self._answers.get(request_id, []))

    def all_answers(self) -> dict[str, list[ReceivedAnswer]]:
        with self._lock:
            return {key: list(value) for key, value in self._answers.items()}

    def rejected(self) -> list[RejectedRequest]:
        """Requests S3 refused (wrong URL or method): they never reached CloudFormation."""
        with self._lock:
            return list(self._rejected)

    def wait_for(self, request_id: str, timeout: float) -> ReceivedAnswer:
        """The first answer for the request; TimeoutError if none arrives within ``timeout`` s."""
        deadline = time.monotonic() + timeout
        with self._lock:
            while not self._answers.get(request_id):
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError(
                        f"no custom-resource answer for request id {request_id!r} "
                        f"within {timeout} s"
                    )
                self._lock.wait(remaining)
            return self._answers[request_id][0]

    def on_answer(self, observer: Callable[[ReceivedAnswer], None]) -> None:
        """Run ``observer`` once an answer is taken, before S3's 200 leaves (the sender may die
        in between); forgotten by ``clear()``."""
        with self._lock:
            self._observers.append(observer)

    def clear(self) -> None:
        with self._lock:
            self._issued.clear()
            self._answers.clear()
            self._rejected.clear()
            self._observers.clear()

    # -- request handling (server threads) ---------------------------------------------------

    def _handle_put(self, handler: _Handler) -> None:
        parts = urlsplit(handler.path)
        if handler.headers.get("Host") != self.host:
            self._reject(handler, 403, "AccessDenied", "PUT to another bucket's host")
            return
        issued = self._issued_for(parts.path)
        query = parse_qs(parts.query)
        signed = query.get("X-Amz-Signature") or query.get("Signature")
        if issued is None or signed != [issued.signature]:
            self._reject(handler, 403, "SignatureDoesNotMatch", "PUT to a URL that was not issued")
            return
        if time.time() >= issued.expires_at:
            self._reject(handler, 403, "AccessDenied", "Request has expired")
            return
        length_header = handler.headers.get("Content-Length")
        if length_header is None:
            self._reject(handler, 411, "MissingContentLength", "PUT without Content-Length")
            return
        try:
            body = handler.rfile.read(int(length_header))
        except (ValueError, OSError):
            self._reject(handler, 400, "IncompleteBody", "unreadable body")
            return
        document, problems = validate_answer(body, issued)
        answer = ReceivedAnswer(
            request_id=issued.request_id,
            body=body,
            document=document,
            problems=tuple(problems),
            received_at=time.monotonic(),
        )
        with self._lock:
            self._answers.setdefault(issued.request_id, []).append(answer)
            self._lock.notify_all()
            observers = list(self._observers)
        for observer in observers:
            observer(answer)
        handler.send_response(200)
        handler.send_header("ETag", f'"{secrets.token_hex(16)}"')
        handler.send_header("x-amz-request-id", secrets.token_hex(8).upper())
        handler.send_header("Content-Length", "0")
        handler.end_headers()

    def _handle_other(self, handler: _Handler) -> None:
        self._reject(handler, 405, "MethodNotAllowed", f"{handler.command} is not allowed")

    def _issued_for(self, path: str) -> IssuedUrl | None:
        fields = unquote(path.lstrip("/")).split("|")
        if len(fields) != 3:
            return None
        with self._lock:
            issued = self._issued.get(fields[2])
        if issued is None or (issued.stack_id, issued.logical_resource_id) != tuple(fields[:2]):
            return None
        return issued

    def _record_rejection(self, method: str, status: int, reason: str) -> None:
        with self._lock:
            self._rejected.append(RejectedRequest(method, status, reason))

    def _reject(self, handler: _Handler, status: int, code: str, reason: str) -> None:
        self._record_rejection(handler.command, status, reason)
        body = (
            f'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>{code}</Code>'
            f"<Message>{reason}</Message></Error>"
        ).encode()
        handler.send_response(status)
        handler.send_header("Content-Type", "application/xml")
        handler.send_header("Content-Length", str(len(body)))
        handler.send_header("Connection", "close")
        handler.end_headers()
        if handler.command != "HEAD":
            handler.wfile.write(body)
        handler.close_connection = True
