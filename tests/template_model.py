"""template.yaml, read the way CloudFormation would deploy it, for tests.

Resolves the few intrinsic functions the template uses (Ref, Fn::Sub, Fn::Join, Fn::Split,
Fn::Select, Fn::If, Fn::Not, Fn::Equals, Fn::GetAtt) and resources' Conditions for given
parameter values, and evaluates the role's IAM policy for a request: so tests can check that
every call the function really made is allowed, and nothing broader is.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cfnlint.decode import decode  # type: ignore[import-untyped]

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE = ROOT / "template.yaml"
_SUB_VARIABLE = re.compile(r"\$\{([^}!]+)\}")


# What ``Ref: AWS::NoValue`` resolves to, until the list or map holding it drops it.
NO_VALUE = object()


def load_template(path: Path = TEMPLATE) -> dict[str, Any]:
    template, problems = decode(str(path))
    assert not problems, problems
    assert template is not None
    return dict(template)


@dataclass
class Deployment:
    """The template resolved for one set of parameter values in one account and region."""

    template: dict[str, Any]
    parameters: Mapping[str, str | list[str]]
    account: str = "123456789012"
    region: str = "us-east-1"
    partition: str = "aws"
    stack_name: str = "shared-authorizer-pools"
    table: str = "shared-authorizer-pools-Registry"
    # SAM names the function <stack>-Function-<suffix>; the tests' local Lambda uses this name.
    function_name: str = "shared-authorizer-pools-Function"

    def resolve(self, value: Any, local: Mapping[str, str] | None = None) -> Any:
        local = local or {}
        if isinstance(value, list):
            # AWS::NoValue takes its item out of a list, its key out of a map.
            items = [self.resolve(item, local) for item in value]
            return [item for item in items if item is not NO_VALUE]
        if not isinstance(value, Mapping):
            return value
        if len(value) != 1:
            pairs = {key: self.resolve(item, local) for key, item in value.items()}
            return {key: item for key, item in pairs.items() if item is not NO_VALUE}
        ((function, argument),) = value.items()
        if function == "Ref":
            return self._ref(argument, local)
        if function == "Fn::Sub":
            text, variables = (argument, {}) if isinstance(argument, str) else argument
            bound = {**local, **{k: self.resolve(v, local) for k, v in variables.items()}}
            return _SUB_VARIABLE.sub(lambda m: str(self._ref(m.group(1), bound)), text)
        if function == "Fn::Join":
            separator, items = argument
            return separator.join(self.resolve(items, local))
        if function == "Fn::Split":
            separator, text = argument
            return self.resolve(text, local).split(separator)
        if function == "Fn::Select":
            index, items = self.resolve(argument, local)
            # CloudFormation fails the stack on an index out of range, whichever branch holds it.
            assert 0 <= int(index) < len(items), f"Fn::Select index {index} of {items}"
            return items[int(index)]
        if function == "Fn::If":
            name, when_true, when_false = argument
            chosen = when_true if self.condition(name) else when_false
            return self.resolve(chosen, local)
        if function == "Fn::Not":
            (inner,) = argument
            return not self.resolve(inner, local)
        if function == "Fn::Equals":
            left, right = self.resolve(argument, local)
            return left == right
        if function == "Fn::GetAtt":
            logical_id, attribute = argument if isinstance(argument, list) else argument.split(".")
            return self._attribute(logical_id, attribute)
        return {function: self.resolve(argument, local)}

    def condition(self, name: str) -> bool:
        return bool(self.resolve(self.template["Conditions"][name]))

    def _ref(self, name: str, local: Mapping[str, str]) -> Any:
        if "." in name:
            return self._attribute(*name.split(".", 1))
        pseudo = {
            "AWS::NoValue": NO_VALUE,
            "AWS::Partition": self.partition,
            "AWS::Region": self.region,
            "AWS::AccountId": self.account,
            "AWS::StackName": self.stack_name,
        }
        for scope in (local, pseudo, self.parameters):
            if name in scope:
                return scope[name]
        if name in self.template["Parameters"]:
            return self.template["Parameters"][name].get("Default", "")
        return f"<{name}>"

    def _attribute(self, logical_id: str, attribute: str) -> str:
        if logical_id == "Registry" and attribute == "Arn":
            return f"arn:{self.partition}:dynamodb:{self.region}:{self.account}:table/{self.table}"
        if logical_id == "FunctionLogGroup" and attribute == "Arn":
            return (
                f"arn:{self.partition}:logs:{self.region}:{self.account}:"
                f"log-group:{self.stack_name}-FunctionLogGroup:*"
            )
        if logical_id == "FunctionRole" and attribute == "Arn":
            return f"arn:{self.partition}:iam::{self.account}:role/{self.stack_name}-FunctionRole"
        if logical_id == "Function" and attribute == "Arn":
            return (
                f"arn:{self.partition}:lambda:{self.region}:{self.account}:"
                f"function:{self.function_name}"
            )
        return f"<{logical_id}.{attribute}>"

    def resources(self) -> dict[str, dict[str, Any]]:
        """The resources CloudFormation creates (their Condition holds), intrinsic functions
        resolved."""
        return {
            logical_id: self.resolve(body)
            for logical_id, body in self.template["Resources"].items()
            if "Condition" not in body or self.condition(body["Condition"])
        }

    def role_statements(self) -> list[dict[str, Any]]:
        """Every IAM statement that ends up on the function's role."""
        statements: list[dict[str, Any]] = []
        for logical_id, resource in self.resources().items():
            if resource["Type"] == "AWS::IAM::Role":
                for policy in resource["Properties"].get("Policies", []):
                    statements += policy["PolicyDocument"]["Statement"]
            elif resource["Type"] == "AWS::IAM::RolePolicy" or self._attached_policy(logical_id):
                statements += resource["Properties"]["PolicyDocument"]["Statement"]
        return statements

    def _attached_policy(self, logical_id: str) -> bool:
        """An AWS::IAM::Policy attached to the function's role."""
        body = self.template["Resources"].get(logical_id, {})
        roles = body.get("Properties", {}).get("Roles", [])
        return body.get("Type") == "AWS::IAM::Policy" and {"Ref": "FunctionRole"} in roles

    def operator_statements(self) -> list[dict[str, Any]]:
        """Every IAM statement of the managed policies made for operators (OperatorPolicy and
        OperatorStagePolicy)."""
        statements: list[dict[str, Any]] = []
        for logical_id, resource in self.resources().items():
            if resource["Type"] == "AWS::IAM::ManagedPolicy" and logical_id.startswith("Operator"):
                statements += resource["Properties"]["PolicyDocument"]["Statement"]
        return statements

    def allows(
        self, action: str, resource: str, context: Mapping[str, str | list[str]] | None = None
    ) -> bool:
        """IAM's answer for the function's role."""
        return policy_allows(self.role_statements(), action, resource, context)


def policy_allows(
    statements: list[dict[str, Any]],
    action: str,
    resource: str,
    context: Mapping[str, str | list[str]] | None = None,
) -> bool:
    """IAM's answer for an identity policy: an explicit Deny that matches wins over any Allow;
    without an Allow that matches, the request is denied."""
    context = context or {}
    matching = [
        statement["Effect"]
        for statement in statements
        if any(_like(a, action, ignore_case=True) for a in listed(statement["Action"]))
        and any(_like(r, resource) for r in listed(statement["Resource"]))
        and _conditions_hold(statement.get("Condition", {}), context)
    ]
    return "Allow" in matching and "Deny" not in matching


def listed(value: str | list[str]) -> list[str]:
    """An IAM element that may be one string or a list, as a list."""
    return [value] if isinstance(value, str) else list(value)


def _like(pattern: str, value: str, ignore_case: bool = False) -> bool:
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.fullmatch(regex, value, re.IGNORECASE if ignore_case else 0) is not None


def _conditions_hold(conditions: Mapping[str, Any], context: Mapping[str, str | list[str]]) -> bool:
    for operator, keys in conditions.items():
        for key, patterns in keys.items():
            if operator == "ArnLike":
                # A key absent from the request makes a condition false (IAM's documented rule).
                value = context.get(key)
                if not isinstance(value, str):
                    return False
                if not any(_arn_like(p, value) for p in listed(patterns)):
                    return False
            elif operator == "ForAllValues:StringEquals":
                # Every value the request carries must be listed (true for no values at all).
                values = context.get(key, [])
                if not all(v in listed(patterns) for v in listed(values)):
                    return False
            elif operator == "ForAllValues:ArnLike":
                values = context.get(key, [])
                if not all(any(_arn_like(p, v) for p in listed(patterns)) for v in listed(values)):
                    return False
            elif operator == "ForAnyValue:ArnEquals":
                # Some value the request carries equals a listed ARN (false for no values).
                if not set(listed(context.get(key, []))) & set(listed(patterns)):
                    return False
            elif operator == "StringEquals":
                value = context.get(key)
                if not isinstance(value, str) or value not in listed(patterns):
                    return False
            elif operator == "StringEqualsIfExists":
                value = context.get(key)
                if value is not None and value not in listed(patterns):
                    return False
            elif operator == "Null":
                # "false": the key must be present; "true": absent.
                if (key in context and context[key] != []) != (str(patterns).lower() == "false"):
                    return False
            else:
                raise NotImplementedError(f"condition operator {operator}")
    return True


def _arn_like(pattern: str, arn: str) -> bool:
    pattern_parts, arn_parts = pattern.split(":", 5), arn.split(":", 5)
    return len(pattern_parts) == len(arn_parts) == 6 and all(
        _like(p, a) for p, a in zip(pattern_parts, arn_parts, strict=True)
    )
