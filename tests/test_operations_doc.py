"""docs/operations.md stays true of the log lines the function really writes: the example line
has exactly the fields of a real one, and every field its Logs Insights queries name appears in
some real line (Logs Insights flattens JSON fields with dots: ``message.step``)."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from conftest import World, log_lines
from support.lifecycle import run_lifecycle
from support.verification import scheduled_run
from template_model import ROOT

from demo.world import REGISTRATION

OPERATIONS = ROOT / "docs" / "operations.md"


def flattened(line: dict[str, Any], prefix: str = "") -> set[str]:
    fields: set[str] = set()
    for key, value in line.items():
        name = f"{prefix}{key}"
        fields.add(name)
        if isinstance(value, dict):
            fields |= flattened(value, f"{name}.")
    return fields


def blocks(language: str) -> list[str]:
    """The fenced blocks of docs/operations.md opened with ```language."""
    found: list[str] = []
    current: list[str] | None = None
    kind = ""
    for line in OPERATIONS.read_text().splitlines():
        if line.startswith("```"):
            if current is None:
                current, kind = [], line.removeprefix("```")
            else:
                if kind == language:
                    found.append("\n".join(current))
                current = None
        elif current is not None:
            current.append(line)
    return found


@pytest.fixture
def real_lines(
    world: World, aws_environment: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> list[dict[str, Any]]:
    """Lines of a Create and a Delete in a Lambda-like process, a FAILED Create, a scheduled
    run that repairs drift, and an invoke that was not CloudFormation's."""
    lifecycle = run_lifecycle(world, {**aws_environment, "LOG_LEVEL": "INFO"})
    lines = [line for exchange in lifecycle.exchanges for line in log_lines(exchange.logs)]
    refused = world.create_tenant(
        "tenant-bad", "arn:aws:cognito-identity:us-east-1:123456789012:identitypool/x:1"
    )
    lines += [line for exchange in refused.exchanges for line in log_lines(exchange.logs)]
    pool = world.tenant_pool("globex")
    globex = world.create_tenant("tenant-globex", pool)
    world.remove_behind_the_registrys_back(pool)
    lines += log_lines(scheduled_run(world).logs)
    forged = world.cloudformation.build_event(
        "Delete",
        globex,
        REGISTRATION,
        world.registration(pool),
        physical_id=globex.resources[REGISTRATION].physical_id,
    )
    lines += log_lines(world.cloudformation.function.deliver(forged).logs)
    return lines


def test_the_example_line_has_exactly_the_fields_of_a_real_one(
    real_lines: list[dict[str, Any]],
) -> None:
    (example,) = [json.loads(block) for block in blocks("json") if '"aws_request_id"' in block]
    (real,) = [
        line
        for line in real_lines
        if isinstance(line.get("message"), dict) and line["message"].get("step") == "register"
    ][:1]
    assert flattened(example) == flattened(real)


# Example values of these fields in the queries are placeholders for the reader's own ids.
PLACEHOLDER_FIELDS = {"aws_request_id", "RequestId", "StackId"}
KEYWORDS = {"and", "or", "not", "like", "in", "asc", "desc", "by", "as"}
_FIELD = r"[A-Za-z_]\w*(?:\.\w+)*"


def values_of(lines: list[dict[str, Any]]) -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}

    def walk(line: dict[str, Any], prefix: str) -> None:
        for key, value in line.items():
            if isinstance(value, dict):
                walk(value, f"{prefix}{key}.")
            else:
                found.setdefault(f"{prefix}{key}", set()).add(str(value))

    for line in lines:
        walk(line, "")
    return found


def test_every_field_and_value_the_queries_name_is_in_a_real_line(
    real_lines: list[dict[str, Any]],
) -> None:
    (queries,) = [block for block in blocks("") if "| filter" in block]
    named: set[str] = set()
    compared: set[tuple[str, str]] = set()
    for line in queries.splitlines():
        if line.startswith("#") or not line.strip():
            continue
        command, _, rest = line.lstrip("| ").partition(" ")
        compared |= set(re.findall(rf'({_FIELD})\s*!?=\s*"([^"]*)"', rest))
        bare = re.sub(r'"[^"]*"', '""', rest)
        bare = re.sub(r"/(?:\\/|[^/])*/", "//", bare)
        named |= {
            name
            for name in re.findall(rf"(?<![\w.@])({_FIELD})(?![\w(])", bare)
            if name not in KEYWORDS
        }
        assert command in {"fields", "filter", "sort"}, line
    known = values_of(real_lines)
    assert named, queries
    assert named - set(known) == set()
    wrong = {
        (name, value)
        for name, value in compared
        if name not in PLACEHOLDER_FIELDS and value not in known.get(name, set())
    }
    assert wrong == set()
