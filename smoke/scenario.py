"""The smoke test's steps, against any :class:`~smoke.account.Account`: a real one, the local
AWS, or one that only prints what it would call.

Under one unique prefix: deploy the example shared API and the registrar; register two tenants
(the example tenant stack, twice); sign in a user of each tenant's pool and call every stage
with the token (200); delete one tenant (401 for it, 200 for the other, on every stage); run
``reconcile --dry-run`` (no drift); then delete everything it made, even when a step failed,
the resources the stacks retain included (the registry table, the operators' pool, the
uploaded code).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import partial
from typing import TypeVar

from smoke.account import Account, AlreadyExists, StackKind

# How long a stage may take to give a user the answer the registration promised. An answer
# that differs at first is still a failure (SUCCESS came before the change was live); the wait
# only measures when it became right. Network errors (a new API's DNS) are not answers.
SETTLE_SECONDS = 60.0
POLL_SECONDS = 2.0
TENANTS = ("a", "b")
_T = TypeVar("_T")


@dataclass
class Step:
    name: str
    ok: bool
    detail: str = ""
    seconds: float = 0.0


@dataclass
class Report:
    account_id: str
    region: str
    prefix: str
    dry_run: bool = False
    steps: list[Step] = field(default_factory=list)
    cleanup: list[Step] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return bool(self.steps) and all(step.ok for step in self.steps + self.cleanup)

    def lines(self) -> list[str]:
        out = [f"smoke: account {self.account_id}, region {self.region}, prefix {self.prefix}"]
        for title, steps in (("steps", self.steps), ("cleanup", self.cleanup)):
            out.append(f"{title}:")
            out += [
                f"  {'ok  ' if s.ok else 'FAIL'} {s.seconds:6.1f} s  {s.name}"
                + (f": {s.detail}" if s.detail else "")
                for s in steps
            ]
        left = [s.name for s in self.cleanup if not s.ok]
        verdict = "passed" if self.passed else "FAILED"
        if self.dry_run:
            verdict = "dry run, nothing called" if self.passed else "dry run FAILED"
        out.append(
            f"smoke: {verdict}; {sum(s.ok for s in self.steps)}/{len(self.steps)} steps passed"
            + (f"; left behind, delete by hand: {', '.join(left)}" if left else "")
        )
        return out


class StepFailed(Exception):
    """A step's check did not hold; the steps after it are skipped, the cleanup is not."""


@dataclass
class _Made:
    """What the smoke made, in order, so that cleanup can undo it in reverse."""

    stacks: list[tuple[str, tuple[str, ...]]] = field(default_factory=list)
    uploads: list[str] = field(default_factory=list)


class Smoke:
    def __init__(self, account: Account, *, expected_account_id: str, prefix: str) -> None:
        self.account = account
        self.expected_account_id = expected_account_id
        self.prefix = prefix
        self.report = Report(expected_account_id, account.region, prefix, account.dry_run)
        self._made = _Made()

    def run(self) -> Report:
        """Every step until one fails, then the cleanup, whatever happened: a step's failure,
        an unexpected error between steps, or an interruption (Ctrl-C, SIGTERM)."""
        try:
            self._step("preflight: the credentials are the account named", self._preflight)
            self._steps()
        except StepFailed:
            pass
        except (Exception, KeyboardInterrupt) as error:
            self.report.steps.append(Step("interrupted", False, _reason(error)))
        finally:
            self._clean_up()
        return self.report

    # -- the steps -----------------------------------------------------------------------

    def _steps(self) -> None:
        registrar = f"{self.prefix}-registrar"
        code = self._step("upload the function's code", self._upload)
        api = self._step(
            f"deploy {self.prefix}-shared-api (examples/shared-api.yaml)",
            lambda: self._deploy(
                f"{self.prefix}-shared-api",
                "shared-api",
                {"ApiName": f"{self.prefix}-api"},
                retained=("OperatorsUserPool",),
            ),
        )
        stages = api["StageNames"].split(",")
        self._step(
            f"deploy {registrar} (template.yaml)",
            lambda: self._deploy(
                registrar,
                "registrar",
                {
                    "RestApiId": api["RestApiId"],
                    "AuthorizerId": api["AuthorizerId"],
                    "StageNames": api["StageNames"],
                    "ProtectedUserPoolArns": api["OperatorsUserPoolArn"],
                },
                retained=("Registry",),
                code=code,
            ),
        )
        urls = {stage: self.account.invoke_url(api["RestApiId"], stage) for stage in stages}
        tokens: dict[str, str] = {}
        for tenant in TENANTS:
            outputs = self._step(
                f"deploy {self._tenant_stack(tenant)} (examples/tenant.yaml)",
                partial(
                    self._deploy,
                    self._tenant_stack(tenant),
                    "tenant",
                    {"TenantName": f"{self.prefix}-{tenant}", "RegistrarStackName": registrar},
                ),
            )
            tokens[tenant] = self._step(
                f"sign in a user of tenant {tenant}'s pool",
                partial(self.account.sign_in, outputs["UserPoolId"], "smoke-user"),
                shown=False,  # a token is a credential: never printed
            )
            # Right after its own SUCCESS: a later check would let a late change pass.
            self._step(
                f"tenant {tenant}'s user is let in on every stage (200)",
                partial(self._expect, urls, tokens[tenant], 200),
            )
        gone, staying = TENANTS
        self._step(
            f"delete {self._tenant_stack(gone)}",
            lambda: self._delete(self._tenant_stack(gone)),
        )
        self._step(
            f"tenant {gone}'s user is refused on every stage (401)",
            lambda: self._expect(urls, tokens[gone], 401),
        )
        self._step(
            f"tenant {staying}'s user is still let in on every stage (200)",
            lambda: self._expect(urls, tokens[staying], 200),
        )
        self._step(
            f"python -m authorizer_pools --stack {registrar} reconcile --dry-run: no drift",
            lambda: self._reconcile(registrar),
        )

    def _preflight(self) -> str:
        found = self.account.caller_account()
        if found != self.expected_account_id:
            raise StepFailed(
                f"the credentials are account {found}, not {self.expected_account_id}: "
                "nothing was created"
            )
        return found

    def _upload(self) -> str:
        location = self.account.upload_function(f"{self.prefix}/function.zip")
        self._made.uploads.append(location)
        return location

    def _deploy(
        self,
        name: str,
        kind: StackKind,
        parameters: Mapping[str, str],
        retained: tuple[str, ...] = (),
        code: str | None = None,
    ) -> dict[str, str]:
        # Recorded before it is made: a stack that fails to create still has to be deleted. But
        # not one that was there already (a reused prefix): that is someone else's.
        self._made.stacks.append((name, retained))
        try:
            return self.account.deploy_stack(name, kind, parameters, code)
        except AlreadyExists:
            self._made.stacks.remove((name, retained))
            raise

    def _delete(self, name: str) -> None:
        for index, (made, retained) in enumerate(self._made.stacks):
            if made == name:
                self._delete_stack(name, retained)
                del self._made.stacks[index]
                return

    def _delete_stack(self, name: str, retained: tuple[str, ...]) -> None:
        # The resources a stack retains are read before it goes; they are deleted after.
        kept = self.account.retained_resources(name, retained)
        try:
            self.account.delete_stack(name)
        except Exception as error:
            if kept:  # deleting the stack by hand would leave these for good: name them
                left = ", ".join(f"{key} {value}" for key, value in kept.items())
                raise StepFailed(f"{_reason(error)}; it retains {left}") from error
            raise
        for logical_id, physical_id in kept.items():
            self.account.delete_retained(logical_id, physical_id)

    def _expect(self, urls: Mapping[str, str], token: str, status: int) -> str:
        late: list[str] = []
        for stage, url in urls.items():
            first, took = self._first_and_settled(url, token, status)
            if first is None:
                continue  # a dry run
            if took is None:
                raise StepFailed(f"{stage} answered {first}, not {status}, for {SETTLE_SECONDS} s")
            if first != status:
                late.append(
                    f"{stage} answered {first} right after SUCCESS, {status} {took:.0f} s later"
                )
        if late:
            raise StepFailed("; ".join(late))
        if self.account.dry_run:
            return "dry run: not called"
        return ", ".join(f"{stage} {status}" for stage in urls)

    def _first_and_settled(
        self, url: str, token: str, status: int
    ) -> tuple[int | None, float | None]:
        """The first answer (None on a dry run), and the seconds until ``status`` came (None
        when it never did)."""
        started = time.monotonic()
        first: int | None = None
        while True:
            answer = self.account.call(url, token)
            if answer is None and self.account.dry_run:
                return None, None
            if answer is not None:
                first = answer if first is None else first
                if answer == status:
                    return first, time.monotonic() - started
            if time.monotonic() - started > SETTLE_SECONDS:
                return first if first is not None else 0, None
            time.sleep(POLL_SECONDS)

    def _reconcile(self, registrar: str) -> str:
        status, output = self.account.reconcile_dry_run(registrar)
        if status != 0:
            raise StepFailed(f"exit status {status}: {output.strip()[-500:]}")
        return "exit status 0"

    def _tenant_stack(self, tenant: str) -> str:
        return f"{self.prefix}-tenant-{tenant}"

    # -- cleanup -------------------------------------------------------------------------

    def _clean_up(self) -> None:
        for name, retained in reversed(self._made.stacks):
            self._cleanup_step(f"delete {name}", partial(self._delete_stack, name, retained))
        self._made.stacks.clear()
        for location in self._made.uploads:
            self._cleanup_step(f"delete {location}", partial(self.account.delete_upload, location))

    # -- bookkeeping ---------------------------------------------------------------------

    def _step(self, name: str, action: Callable[[], _T], *, shown: bool = True) -> _T:
        started = time.monotonic()
        try:
            result = action()
        except Exception as error:
            self.report.steps.append(Step(name, False, _reason(error), time.monotonic() - started))
            raise StepFailed(name) from error
        detail = result if shown and isinstance(result, str) and len(result) < 120 else ""
        self.report.steps.append(Step(name, True, detail, time.monotonic() - started))
        return result

    def _cleanup_step(self, name: str, action: Callable[[], object]) -> None:
        started = time.monotonic()
        try:
            action()
        except Exception as error:  # every cleanup step runs, whatever the others did
            self.report.cleanup.append(
                Step(name, False, _reason(error), time.monotonic() - started)
            )
            return
        self.report.cleanup.append(Step(name, True, "", time.monotonic() - started))


def _reason(error: BaseException) -> str:
    if isinstance(error, StepFailed):
        return str(error)[:600]  # a check's own words
    return f"{type(error).__name__}: {error}"[:600]
