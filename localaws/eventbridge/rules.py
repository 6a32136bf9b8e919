"""EventBridge, as far as a function's repair rules need it, with CloudTrail as its source.

Reproduces (EventBridge user guide, "Amazon EventBridge event patterns", "Content filtering in
Amazon EventBridge event patterns"; CloudTrail user guide, "Creating rules for AWS API calls via
CloudTrail"; CloudFormation user guide, "CloudFormation events in EventBridge"):

- an event matches a rule's pattern when every field the pattern names matches: a list of
  values matches when the event's value equals one of them, or matches one of its content
  filters (``prefix``, ``anything-but`` of a value, a list or a prefix); a nested object
  matches the event's nested object field by field; ``$or`` matches when any of its patterns
  does; a field the pattern names and the event lacks never matches (``anything-but``
  included);
- a matching rule's Lambda target (a function, or one of its aliases: ``AliasTarget``) is
  invoked asynchronously (``awslambda.async_invoke``: later, at least once,
  retried on failure) with the whole event;
- every API Gateway call that changed something (a 2xx ``PATCH``, ``POST``, ``PUT`` or
  ``DELETE`` of an API) becomes an "AWS API Call via CloudTrail" event from ``aws.apigateway``,
  with ``eventName``, ``requestParameters.restApiId`` and the caller's role in
  ``userIdentity.sessionContext.sessionIssuer.arn``. Here every caller signs with the same test
  credentials, so the role is told by the User-Agent: the function's calls (those carrying
  ``function_agent``, its ``user_agent_extra``) carry ``function_role``, everyone else's
  ``other_role``. CloudTrail
  delivers events minutes late, in batches, best effort; here at once, or all together when
  the test says so (:meth:`LocalEventBridge.held`): the model's "within seconds" is the
  rule's, not CloudTrail's.

Only the rules put here exist: nothing is delivered otherwise.
"""

from __future__ import annotations

import contextlib
import datetime
import threading
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from localaws.awslambda.async_invoke import AsyncInvocations, Deliverable
from localaws.middleware.routes import RequestInfo
from localaws.wire import HttpAnswer


def scheduled_event(
    rule_name: str, *, account_id: str = "123456789012", region: str = "us-east-1"
) -> dict[str, Any]:
    """The event a schedule rule sends its target (EventBridge user guide, "Creating a rule
    that runs on a schedule"; the event's fields as in "Amazon EventBridge events")."""
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": account_id,
        "time": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": region,
        "resources": [f"arn:aws:events:{region}:{account_id}:rule/{rule_name}"],
        "detail": {},
    }


class AliasTarget:
    """A rule's target naming a function's alias: each event is delivered through it (the
    alias's ARN in the invocation's context)."""

    def __init__(self, function: Any, alias: str) -> None:
        self.function = function
        self.alias = alias
        self.arn = f"{function.arn}:{alias}"

    def deliver(self, event: Mapping[str, Any]) -> Any:
        return self.function.deliver(event, qualifier=self.alias)


@dataclass(frozen=True)
class Rule:
    name: str
    pattern: Mapping[str, Any]
    target: Deliverable


def matches(pattern: Mapping[str, Any], event: Mapping[str, Any]) -> bool:
    """Whether ``event`` matches the EventBridge ``pattern``."""
    for field, wanted in pattern.items():
        if field == "$or":
            if not any(matches(branch, event) for branch in wanted):
                return False
            continue
        if field not in event:
            return False
        value = event[field]
        if isinstance(wanted, Mapping):
            if not isinstance(value, Mapping) or not matches(wanted, value):
                return False
        elif not any(_matches_one(filter_, value) for filter_ in wanted):
            return False
    return True


def _matches_one(filter_: Any, value: Any) -> bool:
    if not isinstance(filter_, Mapping):
        return bool(filter_ == value)
    if "prefix" in filter_:
        return isinstance(value, str) and value.startswith(str(filter_["prefix"]))
    if "anything-but" in filter_:
        excluded = filter_["anything-but"]
        if isinstance(excluded, Mapping):
            return not _matches_one(excluded, value)
        if isinstance(excluded, list):
            return value not in excluded
        return bool(value != excluded)
    raise ValueError(f"content filter not modelled here: {filter_}")


class LocalEventBridge:
    """The default event bus of one account and Region."""

    def __init__(
        self,
        invocations: AsyncInvocations,
        *,
        account_id: str,
        region: str,
        function_role: str,
        other_role: str,
        function_agent: str,
    ) -> None:
        self.invocations = invocations
        self.account_id = account_id
        self.region = region
        self.function_role = function_role
        # What the function's User-Agent carries (its user_agent_extra): how a call is told to
        # be the function's when every caller signs with the same test credentials.
        self.function_agent = function_agent
        self.other_role = other_role
        self._rules: list[Rule] = []
        self._lock = threading.Lock()
        self._held: list[tuple[Rule, Mapping[str, Any]]] | None = None
        # Every event put on the bus, and each (rule, event) it was delivered for.
        self.events: list[Mapping[str, Any]] = []
        self.delivered: list[tuple[str, Mapping[str, Any]]] = []

    def put_rule(self, name: str, pattern: Mapping[str, Any], target: Deliverable) -> None:
        with self._lock:
            self._rules.append(Rule(name, pattern, target))

    def put_event(self, source: str, detail_type: str, detail: Mapping[str, Any]) -> None:
        event = {
            "version": "0",
            "id": str(uuid.uuid4()),
            "detail-type": detail_type,
            "source": source,
            "account": self.account_id,
            "time": "2026-12-01T00:00:00Z",
            "region": self.region,
            "resources": [],
            "detail": dict(detail),
        }
        with self._lock:
            self.events.append(event)
            rules = [rule for rule in self._rules if matches(rule.pattern, event)]
            self.delivered += [(rule.name, event) for rule in rules]
            if self._held is not None:
                self._held += [(rule, event) for rule in rules]
                return
        for rule in rules:
            self.invocations.submit(rule.target, event)

    @contextlib.contextmanager
    def held(self) -> Iterator[None]:
        """Events matched meanwhile are delivered together when the block ends (as CloudTrail
        delivers a batch of calls made within its few minutes)."""
        with self._lock:
            self._held = []
        try:
            yield
        finally:
            with self._lock:
                batch, self._held = self._held or [], None
            for rule, event in batch:
                self.invocations.submit(rule.target, event)

    def trail(self, info: RequestInfo, answer: HttpAnswer) -> None:
        """A ``ControlPlane.after`` observer: CloudTrail's event for each change of an API."""
        if not info.is_mutating or not 200 <= answer.status < 300:
            # Only API Gateway's changes of an API (is_mutating says so) are modelled.
            return
        agent = info.headers.get("user-agent", "")
        role = self.function_role if self.function_agent in agent else self.other_role
        self.put_event(
            "aws.apigateway",
            "AWS API Call via CloudTrail",
            {
                "eventSource": "apigateway.amazonaws.com",
                "eventName": info.operation,
                "awsRegion": info.region,
                "requestParameters": {"restApiId": info.api_id},
                "userIdentity": {
                    "type": "AssumedRole",
                    "sessionContext": {"sessionIssuer": {"type": "Role", "arn": role}},
                },
            },
        )
