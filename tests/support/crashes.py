"""Crashes at named points: an execution environment dies while it works on a request."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TYPE_CHECKING

from localaws.awslambda.runtime import LambdaContainer
from localaws.cloudformation.response_receiver import ReceivedAnswer
from localaws.cloudformation.stacks import LambdaService
from localaws.middleware.routes import RequestInfo
from localaws.wire import HttpAnswer

if TYPE_CHECKING:
    from conftest import World


class Crasher:
    """Kills the environments working on a request once, the instant AWS applied the first call
    ``call`` matches (before the function hears back), or, when ``call`` is None, the instant
    its answer reached S3."""

    def __init__(
        self,
        world: World,
        service: LambdaService,
        call: Callable[[RequestInfo], bool] | None,
    ) -> None:
        self.service = service
        self.call = call
        self.victims: list[LambdaContainer] = []
        self.fired = threading.Event()
        self._lock = threading.Lock()
        self._armed: list[LambdaContainer] | None = None
        if call is None:
            world.receiver.on_answer(self._answered)
        else:
            world.aws.control_plane.observe(self._before)
            world.aws.control_plane.after(self._after)

    def _before(self, info: RequestInfo) -> None:
        assert self.call is not None
        with self._lock:
            if not self.fired.is_set() and self._armed is None and self.call(info):
                # Who makes the call: the environments busy now (a continuation it starts
                # runs in another one).
                self._armed = self.service.busy()

    def _after(self, info: RequestInfo, answer: HttpAnswer) -> None:
        with self._lock:
            armed, self._armed = self._armed, None
        if armed and answer.status < 300:
            self._kill(armed)

    def _answered(self, answer: ReceivedAnswer) -> None:
        if not self.fired.is_set():
            self._kill(self.service.busy())

    def _kill(self, containers: list[LambdaContainer]) -> None:
        self.fired.set()
        self.victims += containers
        for container in containers:
            container.crash()
