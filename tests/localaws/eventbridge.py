"""EventBridge's scheduled rules, as far as crhelper's polling uses them.

crhelper (``_setup_polling``) puts a rule with ``ScheduleExpression: rate(N minutes)`` and a
target that is the function, with the event as the target's ``Input``; EventBridge then invokes
the function with that input every N minutes until the rule is deleted (EventBridge user guide,
"Creating rules that run on a schedule"; Lambda invokes such targets asynchronously). moto
stores rules and targets but never fires them; :class:`Schedules` does, on the same compressed
clock as the rest of the model. The first run comes one period after the rule is put.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

import boto3

_RATE = re.compile(r"rate\((\d+) minutes?\)")
_TICK = 0.5  # model seconds between looks at the rules


class Schedules:
    """Fires the scheduled rules that target ``function_arn`` by calling ``invoke`` with the
    target's input, each run in a thread of its own (EventBridge does not wait)."""

    def __init__(
        self,
        function_arn: str,
        invoke: Callable[[Mapping[str, Any]], object],
        *,
        time_scale: float = 1.0,
    ) -> None:
        self.function_arn = function_arn
        self.invoke = invoke
        self.time_scale = time_scale
        self.fired: list[str] = []  # rule names, once per run
        self._next: dict[str, float] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._runs: list[threading.Thread] = []

    def __enter__(self) -> Schedules:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()
        for run in self._runs:
            run.join()

    def _now(self) -> float:
        return time.monotonic() / self.time_scale

    def _loop(self) -> None:
        client = boto3.client("events")
        while not self._stop.wait(_TICK * self.time_scale):
            rules = client.list_rules().get("Rules", [])
            live = {rule["Name"] for rule in rules}
            for name in list(self._next):
                if name not in live:
                    del self._next[name]  # deleted: it fires no more
            for rule in rules:
                period = _RATE.fullmatch(rule.get("ScheduleExpression", "").strip())
                if period is None or rule.get("State") != "ENABLED":
                    continue
                seconds = int(period.group(1)) * 60.0
                due = self._next.setdefault(rule["Name"], self._now() + seconds)
                if self._now() < due:
                    continue
                self._next[rule["Name"]] = due + seconds
                targets = client.list_targets_by_rule(Rule=rule["Name"]).get("Targets", [])
                for target in targets:
                    if target["Arn"] == self.function_arn and "Input" in target:
                        self.fired.append(rule["Name"])
                        run = threading.Thread(
                            target=self.invoke, args=(json.loads(target["Input"]),), daemon=True
                        )
                        run.start()
                        self._runs.append(run)
