"""``LocalAws``: moto's server behind the control-plane model, on a free loopback port.

Reproduces what unmodified boto3 code sees of AWS when ``AWS_ENDPOINT_URL`` points at it
(boto3 documentation, "Configuring service-specific endpoints": the variable applies to every
service), with every gap between moto and AWS that ``moto_gaps`` lists made up for (API
Gateway's authorizers, deployments and canaries, DynamoDB transactions as cheap as DynamoDB's,
DescribeStacks' parameters) and its control plane modelled by ``middleware.control_plane``.
The server is moto's own ``DomainDispatcherApplication`` with
``MotoRequestHandler`` (``moto/moto_server/threaded_moto_server.py``), on a threaded werkzeug
server bound to 127.0.0.1 port 0, so tests never fight over a port.

Usable as a context manager, from a pytest session fixture, or from a script; ``stop()`` closes
open connections, joins every server thread and releases the port.
"""

from __future__ import annotations

import contextlib
import json
import logging
import signal
import socket
import threading
from collections.abc import Iterable
from types import TracebackType
from typing import TYPE_CHECKING, Any

from moto.moto_api._internal.models import moto_api_backend
from moto.moto_server.werkzeug_app import (
    DomainDispatcherApplication,
    MotoRequestHandler,
    create_backend_app,
)
from werkzeug.serving import ThreadedWSGIServer

from localaws import moto_gaps
from localaws.apigateway import patches as apigateway_patches
from localaws.cloudformation import records as cloudformation_records
from localaws.dataplane.cache import AUTHORIZER_CACHE
from localaws.dataplane.gateway import PREFIX, USER_REQUEST, DataPlane
from localaws.middleware.clocks import Clock
from localaws.middleware.control_plane import ControlPlane, ControlPlaneConfig

if TYPE_CHECKING:
    from _typeshed.wsgi import WSGIApplication

DEFAULT_REGION = "us-east-1"
PROXY_VARIABLES = (
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "ALL_PROXY",
    "http_proxy",
    "https_proxy",
    "all_proxy",
)


class _QuietHandler(MotoRequestHandler):
    """moto's request handler without werkzeug's one-line-per-request log."""

    # Set explicitly: werkzeug otherwise writes HTTP/1.1 onto the handler class it is given.
    protocol_version = "HTTP/1.1"

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        # Errors still go through log_error; only the per-request access line is dropped.
        return


class _TrackingServer(ThreadedWSGIServer):
    """A threaded werkzeug server that can close its open connections and join its threads."""

    # Non-daemon, joined in server_close(): a stopped LocalAws leaves no thread behind.
    daemon_threads = False
    block_on_close = True

    def __init__(self, host: str, port: int, app: WSGIApplication) -> None:
        self._open: set[socket.socket] = set()
        self._open_lock = threading.Lock()
        super().__init__(host, port, app, handler=_QuietHandler)

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._open_lock:
            self._open.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self._open_lock:
            self._open.discard(request)
        super().shutdown_request(request)

    def close_open_connections(self) -> None:
        # Keep-alive connections would otherwise hold their handler threads until the client
        # goes away; shutting the socket down ends the handler's wait for the next request.
        with self._open_lock:
            sockets = list(self._open)
        for sock in sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)


class LocalAws:
    """moto + ``apigateway.patches`` + ``ControlPlane`` on ``http://127.0.0.1:<free port>``."""

    def __init__(
        self,
        config: ControlPlaneConfig | None = None,
        *,
        clock: Clock | None = None,
        region: str = DEFAULT_REGION,
    ) -> None:
        self.region = region
        self._config = config
        self._clock = clock
        self._server: _TrackingServer | None = None
        self._thread: threading.Thread | None = None
        self._control_plane: ControlPlane | None = None
        self._data_plane: _TrackingServer | None = None
        self._data_thread: threading.Thread | None = None

    # -- lifecycle -------------------------------------------------------------------------

    def start(self) -> LocalAws:
        if self._server is not None:
            raise RuntimeError("LocalAws is already running")
        moto_gaps.install()
        control_plane = ControlPlane(
            DomainDispatcherApplication(create_backend_app), self._config, clock=self._clock
        )
        server, thread = _serve(control_plane, "localaws")
        self._server, self._thread, self._control_plane = server, thread, control_plane
        # moto's backends are process-wide: a LocalAws starts as a new, empty account, whatever
        # one started earlier in this process left behind.
        self.reset()
        self._data_plane, self._data_thread = _serve(DataPlane(), "localaws-data")
        return self

    def stop(self) -> None:
        """Stop serving, close connections, join all threads, release the port. Idempotent."""
        server, thread = self._server, self._thread
        if server is None or thread is None:
            return
        if self._control_plane is not None:
            # A call held by an injected delay would otherwise keep its thread until it ends.
            self._control_plane.release_delays()
        for each, its_thread in ((server, thread), (self._data_plane, self._data_thread)):
            if each is None or its_thread is None:
                continue
            each.shutdown()  # stops serve_forever and waits for it
            each.close_open_connections()
            each.server_close()  # closes the listening socket, joins request threads
            its_thread.join()
        self._server = self._thread = self._data_plane = self._data_thread = None

    def __enter__(self) -> LocalAws:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # -- what clients need ---------------------------------------------------------------------

    @property
    def running(self) -> bool:
        return self._server is not None

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("LocalAws is not running")
        return int(self._server.server_address[1])

    @property
    def endpoint_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def data_plane_url(self) -> str:
        """Where every stage of every API is served (``dataplane.gateway``)."""
        if self._data_plane is None:
            raise RuntimeError("LocalAws is not running")
        return f"http://127.0.0.1:{self._data_plane.server_address[1]}"

    def invoke_url(self, api_id: str, stage_name: str) -> str:
        """The stage's base URL, standing for ``https://{api}.execute-api.{region}.amazonaws.com/
        {stage}``: append a resource path (``/orders``)."""
        return f"{self.data_plane_url}{PREFIX}{api_id}/{stage_name}/{USER_REQUEST}"

    def invoke_urls(self, api_id: str, stage_names: Iterable[str]) -> dict[str, str]:
        """Each stage's ``invoke_url``, by stage name."""
        return {stage: self.invoke_url(api_id, stage) for stage in stage_names}

    @property
    def control_plane(self) -> ControlPlane:
        if self._control_plane is None:
            raise RuntimeError("LocalAws has not been started")
        return self._control_plane

    def env(self) -> dict[str, str]:
        """Environment for a process (e.g. a Lambda child) that should talk to this server.

        Proxy variables are set empty (and NO_PROXY to loopback) so that a proxy configured on
        the machine can never see the traffic; callers building a child environment from
        os.environ should also drop them, see ``apply_env``.
        """
        env = {
            "AWS_ENDPOINT_URL": self.endpoint_url,
            "AWS_REGION": self.region,
            "AWS_DEFAULT_REGION": self.region,
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "NO_PROXY": "127.0.0.1,localhost",
            "no_proxy": "127.0.0.1,localhost",
        }
        env.update(dict.fromkeys(PROXY_VARIABLES, ""))
        return env

    def apply_env(self, base: dict[str, str]) -> dict[str, str]:
        """``base`` with this server's variables applied and proxy variables removed."""
        merged = {k: v for k, v in base.items() if k not in PROXY_VARIABLES}
        merged.update({k: v for k, v in self.env().items() if k not in PROXY_VARIABLES})
        for key in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN"):
            merged.pop(key, None)
        return merged

    def reset(self) -> None:
        """Forget every moto resource, the flush journal, CloudFormation's record of the local
        driver's stacks and the control plane's state."""
        moto_api_backend.reset()
        apigateway_patches.forget_history()
        AUTHORIZER_CACHE.clear()
        cloudformation_records.RECORDS.clear()
        if self._control_plane is not None:
            self._control_plane.reset()


def _serve(app: WSGIApplication, name: str) -> tuple[_TrackingServer, threading.Thread]:
    """``app`` on a free loopback port, served by its own thread."""
    server = _TrackingServer("127.0.0.1", 0, app)
    thread = threading.Thread(
        # A short poll interval: stop() waits for serve_forever to notice, up to one interval.
        target=server.serve_forever,
        args=(0.05,),
        name=f"{name}-{server.server_address[1]}",
        daemon=True,
    )
    thread.start()
    return server, thread


def silence_werkzeug() -> None:
    """Keep werkzeug's own logger to errors (moto server banners, per-request lines)."""
    logging.getLogger("werkzeug").setLevel(logging.ERROR)


silence_werkzeug()


def main() -> None:
    """Serve until interrupted (SIGINT or SIGTERM), printing the client environment as JSON.

    Run from the project root: ``python -m localaws.server``.
    """
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    with LocalAws() as aws:
        print(json.dumps(aws.env()), flush=True)
        stop.wait()


if __name__ == "__main__":
    main()
