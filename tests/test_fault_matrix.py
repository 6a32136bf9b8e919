"""The fault matrix: every AWS call the function (and the operator CLI) makes, failing for a
moment and failing for good, on the lifecycle step where the call matters.

Each cell must end in SUCCESS, or in FAILED answered by the function itself before its
deadline; and then the system must be consistent, or repaired by what comes next: the rollback
Delete CloudFormation sends after a failed Create, a retried ``delete_stack``, or ``reconcile``.
The repair is run, with the fault cleared, and checked. One exception: while CloudFormation
cannot be asked whether a request is its own, or DynamoDB refuses every write of the request's
record, nothing may change and no answer can be recorded, so none is sent (a later invocation
could not know it): the invocation fails, and Lambda's retry answers once the service has
recovered.

Consistent means the invariant of ``test_ownership``: the authorizer lists exactly the
operators' pool plus the pools with a live owner in the registry, each once, and every stage
serves exactly that. Every cell ends with ``reconcile --dry-run`` finding no drift.

The session prints the matrix (see :class:`MatrixReport`).
"""

from __future__ import annotations

import io
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

import pytest
from conftest import FUNCTION_TIMEOUT, TIME_SCALE, World
from support.storage import STATUS_SK, addressed_sk, records_a_pass

from authorizer_pools import cli, retries, timing
from localaws.awslambda.bootstrap import ScaledClock
from localaws.cloudformation.stacks import Exchange, InProcessFunction
from localaws.middleware.faults import InjectedFault
from localaws.middleware.journal import CallRecord
from localaws.middleware.routes import RequestInfo

Kind = Literal["transient", "permanent"]
Step = Literal["Create", "Delete", "reconcile"]
# Model seconds: a permanent fault makes the function give up within about 1.5 s of wall time.
SHORT_TIMEOUT = 20.0
TRANSIENT_TIMES = 2

# What each service answers. Transient: the throttling or conflict a busy account sees, twice.
# Permanent: an outage, every call a 5xx until the fault is cleared.
ErrorSpec = tuple[int, str, str]
ERRORS: dict[tuple[str, Kind], ErrorSpec] = {
    ("apigateway", "transient"): (
        409,
        "ConflictException",
        "Unable to complete operation due to concurrent modification. Please try again later.",
    ),
    ("apigateway", "permanent"): (
        500,
        "InternalFailure",
        "An internal error occurred. Please try again later.",
    ),
    ("dynamodb", "transient"): (
        400,
        "ProvisionedThroughputExceededException",
        "The level of configured provisioned throughput for the table was exceeded.",
    ),
    ("dynamodb", "permanent"): (
        500,
        "InternalServerError",
        "Internal server error",
    ),
    ("cognito-idp", "transient"): (
        429,
        "TooManyRequestsException",
        "Too many requests",
    ),
    ("cognito-idp", "permanent"): (
        500,
        "InternalErrorException",
        "Internal error",
    ),
    ("cloudformation", "transient"): (400, "Throttling", "Rate exceeded"),
    ("cloudformation", "permanent"): (500, "InternalFailure", "Internal failure"),
}


Target = Callable[[RequestInfo], bool]
TARGETS: dict[str, Target] = {
    # What a pass records once it saw the stages serve the list: after the authorizer changed.
    "served record": records_a_pass,
    # What a waiting request reads: the authorizer's status.
    "status reads": lambda info: addressed_sk(info) == STATUS_SK,
}


@dataclass(frozen=True)
class Cell:
    step: Step
    operation: str
    service: str
    # Which uses of the call fail (a key of TARGETS); None: every use, so the first one.
    target: str | None = None

    @property
    def call(self) -> str:
        return f"{self.operation} ({self.target})" if self.target else self.operation


# Every call on the Create path (GetRestApi is only made on an error path). On Create, GetItem
# first reads validation's shared check, UpdateItem first claims that check, Query first reads
# the registry's partition for the worker.
CREATE_CALLS = [
    Cell("Create", "DescribeStackResource", "cloudformation"),
    Cell("Create", "ListStackResources", "cloudformation"),
    Cell("Create", "DescribeUserPool", "cognito-idp"),
    Cell("Create", "GetAuthorizer", "apigateway"),
    Cell("Create", "GetStages", "apigateway"),
    Cell("Create", "TransactWriteItems", "dynamodb"),
    Cell("Create", "GetItem", "dynamodb"),
    Cell("Create", "UpdateItem", "dynamodb"),
    Cell("Create", "Query", "dynamodb"),
    Cell("Create", "UpdateAuthorizer", "apigateway"),
    Cell("Create", "GetExport", "apigateway"),
    Cell("Create", "CreateDeployment", "apigateway"),
    Cell("Create", "UpdateStage", "apigateway"),
    Cell("Create", "FlushStageAuthorizersCache", "apigateway"),
]
# Every call on the Delete path. Here GetItem fails only on the waiting request's reads of the
# authorizer's status, and UpdateItem only on the pass's record of what it saw served, after
# the removal.
DELETE_CALLS = [
    Cell("Delete", "DescribeStackResource", "cloudformation"),
    Cell("Delete", "DescribeStacks", "cloudformation"),
    Cell("Delete", "UpdateItem", "dynamodb"),
    Cell("Delete", "GetItem", "dynamodb", "status reads"),
    Cell("Delete", "UpdateItem", "dynamodb", "served record"),
    Cell("Delete", "Query", "dynamodb"),
    Cell("Delete", "TransactWriteItems", "dynamodb"),
    Cell("Delete", "GetAuthorizer", "apigateway"),
    Cell("Delete", "UpdateAuthorizer", "apigateway"),
    Cell("Delete", "GetStages", "apigateway"),
    Cell("Delete", "CreateDeployment", "apigateway"),
    Cell("Delete", "UpdateStage", "apigateway"),
    Cell("Delete", "FlushStageAuthorizersCache", "apigateway"),
]
# The CLI's own calls: reading the registry's whole partition, and what each stage serves.
RECONCILE_CALLS = [
    Cell("reconcile", "Query", "dynamodb"),
    Cell("reconcile", "GetExport", "apigateway"),
]
KINDS: list[Kind] = ["transient", "permanent"]
# The calls that check the request with CloudFormation or write its record (first sight, the
# answer): a permanent fault there leaves the request unanswered until the service recovers,
# and Lambda's retry answers.
UNANSWERABLE = {
    ("Create", "DescribeStackResource", None),
    ("Create", "UpdateItem", None),
    ("Create", "TransactWriteItems", None),
    ("Delete", "DescribeStackResource", None),
    ("Delete", "DescribeStacks", None),
    ("Delete", "UpdateItem", None),
}
MATRIX = [
    pytest.param(
        cell.step,
        cell.operation,
        cell.service,
        kind,
        cell.target,
        id=f"{cell.step}-{cell.operation}{f'[{cell.target}]' if cell.target else ''}-{kind}",
    )
    for cell in [*CREATE_CALLS, *DELETE_CALLS, *RECONCILE_CALLS]
    for kind in KINDS
]


# -- the report ----------------------------------------------------------------------------


@dataclass
class Row:
    cell: Cell
    kind: Kind
    outcome: str = "did not finish (the test failed: see above)"


RESULTS: list[Row] = []


class MatrixReport:
    """A pytest plugin, registered by this module's fixture: prints RESULTS at the end of the
    session, so conftest.py needs no hook of its own."""

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        if not RESULTS:
            return
        header = ("STEP", "CALL", "FAULT", "OUTCOME")
        rows = [header] + [
            (row.cell.step, row.cell.call, row.kind, row.outcome)
            for row in sorted(RESULTS, key=_matrix_order)
        ]
        widths = [max(len(row[column]) for row in rows) for column in range(3)]
        terminalreporter.write_sep("=", "fault matrix")
        for row in rows:
            cells = [text.ljust(width) for text, width in zip(row[:3], widths, strict=True)]
            terminalreporter.write_line("  ".join([*cells, row[3]]))


def _matrix_order(row: Row) -> int:
    cells = [*CREATE_CALLS, *DELETE_CALLS, *RECONCILE_CALLS]
    return cells.index(row.cell) * len(KINDS) + KINDS.index(row.kind)


@pytest.fixture(autouse=True, scope="module")
def _matrix_report(request: pytest.FixtureRequest) -> None:
    plugins = request.config.pluginmanager
    if plugins.get_plugin("fault-matrix-report") is None:
        plugins.register(MatrixReport(), "fault-matrix-report")


# -- checks --------------------------------------------------------------------------------


def problems(world: World) -> list[str]:
    """How the system breaks the invariant (empty: consistent). Call with no fault injected."""
    expected = {world.api.operators_pool_arn, *world.owners()}
    listed = world.provider_arns()
    found = []
    if sorted(listed) != sorted(expected):
        found.append(
            f"the authorizer lists {sorted(listed)}, the registry wants {sorted(expected)}"
        )
    for stage in world.api.stage_names:
        served = set(world.served(stage) or ())
        if served != expected:
            found.append(f"stage {stage} serves {sorted(served)}, not {sorted(expected)}")
    return found


def assert_invariant(world: World, *owned: str, logs: str = "") -> None:
    assert set(world.owners()) == set(owned), f"the registry's owners: {world.owners()}"
    assert problems(world) == [], logs[-6000:]


def assert_answered_in_time(exchange: Exchange, timeout: float) -> None:
    """Answered once, by the function itself (not crhelper's timer), before its deadline."""
    assert exchange.answers == 1, exchange.logs[-6000:]
    assert not any(delivery.timed_out for delivery in exchange.deliveries), exchange.logs[-6000:]
    assert exchange.seconds < timeout * TIME_SCALE, exchange.logs[-6000:]
    assert "Execution timed out" not in exchange.reason, exchange.logs[-6000:]


def assert_answered_after_recovery(exchange: Exchange) -> None:
    """Not answered while the request could not be checked or recorded: the first invocation
    failed, and Lambda's retry answered, once."""
    assert not exchange.deliveries[0].ok, exchange.logs[-6000:]
    assert "RetryLater" in str(exchange.deliveries[0].error), exchange.logs[-6000:]
    assert exchange.answers == 1, exchange.logs[-6000:]


def recovers_later(world: World, cell: Cell, kind: Kind, timeout: float) -> bool:
    """For a permanent fault on the request's check or record, the service recovers once the
    first invocation has given up (before Lambda's retry)."""
    if kind != "permanent" or (cell.step, cell.operation, cell.target) not in UNANSWERABLE:
        return False
    threading.Timer(timeout * 2 * TIME_SCALE, world.aws.control_plane.clear).start()
    return True


def assert_failure_names(exchange: Exchange, cell: Cell, kind: Kind, row: Row) -> None:
    """The reason names the call that failed and the error it answered (README, "Launch day",
    Retries). Checked last, once the repair is known to work."""
    _, code, _ = ERRORS[(cell.service, kind)]
    if cell.operation not in exchange.reason or code not in exchange.reason:
        row.outcome += f"; BUG: reason {exchange.reason[:60]!r}…"
    assert cell.operation in exchange.reason, exchange.reason
    assert code in exchange.reason, exchange.reason


def timeout_for(kind: Kind) -> float:
    """The function's timeout for the cell (model seconds)."""
    return FUNCTION_TIMEOUT if kind == "transient" else SHORT_TIMEOUT


class NoJitter(random.Random):
    """Backoff without its jitter: each wait is the shortest the backoff allows."""

    def uniform(self, a: float, b: float) -> float:
        return a


def set_timeout(world: World, seconds: float) -> None:
    function = world.cloudformation.function
    assert isinstance(function, InProcessFunction)
    function.timeout = seconds


def inject(world: World, cell: Cell, kind: Kind) -> InjectedFault:
    status, code, message = ERRORS[(cell.service, kind)]
    return world.aws.control_plane.inject(
        cell.operation,
        status,
        code,
        message,
        times=TRANSIENT_TIMES if kind == "transient" else None,
        predicate=TARGETS[cell.target] if cell.target else None,
        service=cell.service,
    )


def healed(world: World) -> None:
    """The fault is over; the next request has the function's usual time."""
    world.aws.control_plane.clear()
    set_timeout(world, FUNCTION_TIMEOUT)


# -- the CLI, on the function's compressed time ----------------------------------------------


@pytest.fixture
def compressed_cli(monkeypatch: pytest.MonkeyPatch) -> None:
    """The CLI on the same compressed clock as the function (their leases share one time
    scale), with a budget as short as the function's in a permanent-failure cell."""
    monkeypatch.setattr(timing, "clock", ScaledClock(TIME_SCALE))
    monkeypatch.setattr(cli, "BUDGET_SECONDS", SHORT_TIMEOUT)


@dataclass(frozen=True)
class CliRun:
    status: int
    out: str
    err: str
    seconds: float


def run_cli(world: World, capsys: pytest.CaptureFixture[str], *arguments: str) -> CliRun:
    capsys.readouterr()
    out = io.StringIO()
    started = time.monotonic()
    status = cli.main([*world.cli_target(), *arguments], out=out)
    seconds = time.monotonic() - started
    return CliRun(status, out.getvalue(), capsys.readouterr().err, seconds)


def assert_no_drift(world: World, capsys: pytest.CaptureFixture[str]) -> None:
    """The registry agrees with the authorizer and the stages, as the operator would check."""
    found = run_cli(world, capsys, "reconcile", "--dry-run")
    assert found.status == 0, found.out + found.err
    assert "no drift" in found.out


# -- the matrix ------------------------------------------------------------------------------


@pytest.mark.parametrize(("step", "operation", "service", "kind", "target"), MATRIX)
@pytest.mark.usefixtures("compressed_cli")
def test_fault_matrix(
    world: World,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    step: Step,
    operation: str,
    service: str,
    kind: Kind,
    target: str | None,
) -> None:
    if operation == "UpdateAuthorizer" and kind == "permanent":
        # A 5xx leaves the patch's outcome unknown: the function re-reads the authorizer and
        # decides again, at most 6 times a pass (authorizer._MAX_DECISIONS), then passes again
        # while more than 15 s are left. Whether those 6 decisions or the deadline end the last
        # pass is up to the backoff's jitter; without it, always the 6 decisions.
        monkeypatch.setattr(retries, "_rng", NoJitter())
    cell = Cell(step, operation, service, target)
    row = Row(cell, kind)
    RESULTS.append(row)
    run = {"Create": create_cell, "Delete": delete_cell, "reconcile": reconcile_cell}[step]
    row.outcome = run(world, capsys, row)
    assert_no_drift(world, capsys)


def create_cell(world: World, capsys: pytest.CaptureFixture[str], row: Row) -> str:
    """A new tenant's Create. A failed one is rolled back by CloudFormation's Delete, sent once
    the fault is over; the state it left before that is recorded."""
    cell, kind = row.cell, row.kind
    pool = world.tenant_pool("acme")
    timeout = timeout_for(kind)
    set_timeout(world, timeout)
    fault = inject(world, cell, kind)
    left_after_failure: list[list[str]] = []

    def on_exchange(exchange: Exchange) -> None:
        if exchange.request_type == "Create" and not exchange.succeeded:
            healed(world)
            left_after_failure.append(problems(world))

    world.cloudformation.on_exchange = on_exchange
    later = recovers_later(world, cell, kind, timeout)
    stack = world.create_tenant("tenant-acme", pool)
    healed(world)

    create = stack.exchanges[0]
    assert fault.fired >= 1, f"{cell.operation} was never called: the cell tests nothing"
    if kind == "transient":
        assert fault.fired == TRANSIENT_TIMES
    if later:
        assert_answered_after_recovery(create)
        assert create.succeeded, create.reason
        assert_invariant(world, pool, logs=create.logs)
        return f"unanswered while it failed; retry: SUCCESS in {create.seconds:.1f} s"
    assert_answered_in_time(create, timeout)
    if create.succeeded:
        assert stack.status == "CREATE_COMPLETE"
        assert_invariant(world, pool, logs=create.logs)
        return f"SUCCESS in {create.seconds:.1f} s"
    assert kind == "permanent", f"a transient fault failed the Create: {create.reason}"
    assert create.status == "FAILED"
    _, rollback = stack.exchanges
    assert rollback.request_type == "Delete"
    assert rollback.status == "SUCCESS", rollback.reason
    assert stack.status == "ROLLBACK_COMPLETE"
    (left,) = left_after_failure
    return failed_then_repaired(
        world, capsys, row, create, left, "rollback Delete", create.logs + rollback.logs, pool
    )


def delete_cell(world: World, capsys: pytest.CaptureFixture[str], row: Row) -> str:
    """A tenant stack's deletion. A failed one is retried once the fault is over, as an operator
    retries ``delete-stack`` after DELETE_FAILED."""
    cell, kind = row.cell, row.kind
    pool = world.tenant_pool("acme")
    created = world.create_tenant("tenant-acme", pool)
    assert created.status == "CREATE_COMPLETE", created.exchanges[0].reason
    timeout = timeout_for(kind)
    set_timeout(world, timeout)
    fault = inject(world, cell, kind)
    later = recovers_later(world, cell, kind, timeout)

    stack = world.cloudformation.delete_stack("tenant-acme")
    healed(world)

    delete = stack.exchanges[-1]
    assert delete.request_type == "Delete"
    assert fault.fired >= 1, f"{cell.operation} was never called: the cell tests nothing"
    if kind == "transient":
        assert fault.fired == TRANSIENT_TIMES
    if later:
        assert_answered_after_recovery(delete)
        assert delete.succeeded, delete.reason
        assert_invariant(world, logs=delete.logs)
        return f"unanswered while it failed; retry: SUCCESS in {delete.seconds:.1f} s"
    assert_answered_in_time(delete, timeout)
    if delete.succeeded:
        assert stack.status == "DELETE_COMPLETE"
        assert_invariant(world, logs=delete.logs)
        assert world.gone_everywhere(pool)
        return f"SUCCESS in {delete.seconds:.1f} s"
    assert kind == "permanent", f"a transient fault failed the Delete: {delete.reason}"
    assert delete.status == "FAILED"
    assert stack.status == "DELETE_FAILED"
    left = problems(world)

    stack = world.cloudformation.delete_stack("tenant-acme")

    retry = stack.exchanges[-1]
    assert retry.status == "SUCCESS", retry.reason
    assert stack.status == "DELETE_COMPLETE"
    return failed_then_repaired(
        world, capsys, row, delete, left, "retried delete_stack", delete.logs + retry.logs, pool
    )


def failed_then_repaired(
    world: World,
    capsys: pytest.CaptureFixture[str],
    row: Row,
    failed: Exchange,
    left: list[str],
    repair: str,
    logs: str,
    pool: str,
) -> str:
    """The outcome of a request that answered FAILED: what was left, and that ``repair`` (then
    ``reconcile`` if need be) leaves no owner and the pool served nowhere."""
    row.outcome = f"FAILED in {failed.seconds:.1f} s"
    how = repaired(world, capsys, row, left, repair, logs)  # may note a bug in row.outcome
    row.outcome += ", " + how
    assert set(world.owners()) == set()
    assert world.gone_everywhere(pool)
    assert_failure_names(failed, row.cell, row.kind, row)
    return row.outcome


def repaired(
    world: World,
    capsys: pytest.CaptureFixture[str],
    row: Row,
    left: list[str],
    event: str,
    logs: str,
) -> str:
    """How the system stands after a failure that left ``left`` and the ``event`` that followed
    it (already run, and answered SUCCESS): consistent all along, or repaired by the event.

    An event that answers SUCCESS and leaves the system inconsistent is a bug, whatever could
    repair it later; the row says whether ``reconcile`` would."""
    still = problems(world)
    if not still:
        return f"consistent; {event} keeps it" if not left else f"→ repaired by {event}"
    run = run_cli(world, capsys, "reconcile")
    after = "repairs it" if not problems(world) else f"exit {run.status}, repairs nothing"
    row.outcome += (
        f", → NOT repaired: {event} answered SUCCESS, left inconsistent; reconcile {after}"
    )
    pytest.fail(
        f"{event} answered SUCCESS and left: {still}\nreconcile answered {run.status}:\n"
        f"{run.out}{run.err}\nfunction logs:\n{logs[-6000:]}"
    )


def reconcile_cell(world: World, capsys: pytest.CaptureFixture[str], row: Row) -> str:
    """``reconcile`` repairing drift: the shared API's stack set the list back to its own pool
    and redeployed, so a registered tenant is locked out until reconcile adds it back."""
    cell, kind = row.cell, row.kind
    pool = world.tenant_pool("acme")
    assert world.create_tenant("tenant-acme", pool).status == "CREATE_COMPLETE"
    world.remove_behind_the_registrys_back(pool)
    world.redeploy_every_stage()
    left = problems(world)
    assert left, "no drift to repair"
    fault = inject(world, cell, kind)

    run = run_cli(world, capsys, "reconcile")
    healed(world)

    assert fault.fired >= 1, f"{cell.operation} was never called: the cell tests nothing"
    assert run.seconds < SHORT_TIMEOUT * TIME_SCALE, run.out + run.err
    if run.status == cli.DRIFT_FOUND:
        assert fault.fired == TRANSIENT_TIMES
        assert "added back" in run.out
        assert_invariant(world, pool)
        return f"SUCCESS (drift repaired) in {run.seconds:.1f} s"
    assert kind == "permanent", f"a transient fault failed reconcile: {run.err}"
    assert run.status == cli.FAILED, run.out + run.err
    _, code, _ = ERRORS[(cell.service, kind)]
    assert run.err.startswith(f"error: {cell.operation} failed after "), run.err
    assert code in run.err
    assert "Traceback" not in run.err
    assert problems(world) == left, "a reconcile that failed on its first read changed something"

    repair = run_cli(world, capsys, "reconcile")

    assert repair.status == cli.DRIFT_FOUND, repair.out + repair.err
    assert "added back" in repair.out
    assert_invariant(world, pool)
    return f"FAILED (exit 2) in {run.seconds:.1f} s, drift left as it was → repaired by reconcile"


def test_the_matrix_has_a_row_for_every_call_a_create_and_a_delete_make(world: World) -> None:
    """The rows are the calls the function really makes (the journal names them), so a call
    added later cannot go untested."""
    pool = world.tenant_pool("acme")
    assert world.create_tenant("tenant-acme", pool).status == "CREATE_COMPLETE"
    on_create = world.calls()
    assert world.cloudformation.delete_stack("tenant-acme").status == "DELETE_COMPLETE"
    on_delete = world.calls()[len(on_create) :]

    def made(calls: list[CallRecord]) -> set[tuple[str, str]]:
        return {(call.operation, call.service) for call in calls}

    assert made(on_create) == {(cell.operation, cell.service) for cell in CREATE_CALLS}
    assert made(on_delete) == {(cell.operation, cell.service) for cell in DELETE_CALLS}
    before = len(world.calls())
    out = io.StringIO()
    assert cli.main([*world.cli_target(), "reconcile"], out=out) == 0, out.getvalue()
    on_reconcile = world.calls()[before:]
    assert made(on_reconcile) >= {(cell.operation, cell.service) for cell in RECONCILE_CALLS}
