"""What each stage serves, and when it counts as serving the authorizer's list."""

from __future__ import annotations

from dataclasses import dataclass

from .authorizer import fingerprint


@dataclass(frozen=True)
class StageView:
    """A stage as API Gateway shows it (GetStages; GetExport when the pass verifies)."""

    name: str
    exists: bool
    deployment_id: str | None = None
    canary_deployment_id: str | None = None
    # The pool list the stage's deployment serves, when it was read (GetExport).
    exported: tuple[str, ...] | None = None


@dataclass(frozen=True)
class StageVerdict:
    name: str
    # The stage serves the authorizer's list (or does not exist: it serves nothing).
    serves: bool
    # A canary release serves another deployment on it: its share keeps its own list.
    canary: bool = False
    # It served the list through a deployment the ledger knows, and no longer does: someone
    # moved it (a late worker, a deployment of the shared API's own stack).
    drifted: bool = False
    # A deployment the ledger does not know, shown by its export to serve the list.
    adopted: bool = False


def has_canary(view: StageView) -> bool:
    """A canary release serves a deployment other than the stage's own."""
    return view.canary_deployment_id is not None and view.canary_deployment_id != view.deployment_id


def stage_verdict(
    view: StageView,
    ledger_deployment: str | None,
    ledger_fingerprint: str | None,
    wanted_fingerprint: str,
) -> StageVerdict:
    if not view.exists:
        return StageVerdict(view.name, serves=True)
    canary = has_canary(view)
    known = view.deployment_id is not None and view.deployment_id == ledger_deployment
    if view.exported is not None:
        serves = fingerprint(view.exported) == wanted_fingerprint
        return StageVerdict(
            view.name,
            serves=serves,
            canary=canary,
            drifted=not serves and ledger_fingerprint == wanted_fingerprint,
            adopted=serves and not known,
        )
    if known:
        return StageVerdict(
            view.name, serves=ledger_fingerprint == wanted_fingerprint, canary=canary
        )
    # Serving a deployment the ledger does not know: what it lists is unknown, so publish.
    return StageVerdict(
        view.name,
        serves=False,
        canary=canary,
        drifted=ledger_fingerprint == wanted_fingerprint,
    )


def seen_serving(
    now: StageView, before: StageVerdict, deployment_before: str | None, deployed: str | None
) -> bool:
    """Whether a stage, read again after a pass published (``now``), serves the list: the
    deployment this pass made it serve (``deployed``), or, when the pass left it alone, still
    the deployment it was seen serving the list on (a late call may have moved it). A stage
    that no longer exists serves nothing."""
    if not now.exists:
        return True
    if deployed is not None:
        return now.deployment_id == deployed
    return before.serves and now.deployment_id == deployment_before


def needs_flush_to_count(
    view: StageView,
    published_by_this_pass: bool,
    ledger_deployment: str | None,
    ledger_fingerprint: str | None,
    wanted_fingerprint: str,
) -> bool:
    """Whether a stage seen serving the list must have its authorizer cache flushed before it
    counts as served: it serves a deployment this registrar did not make for this list (the
    shared API's own, seen serving it in its export), so its cache may still hold allows from
    before. A stage this pass published was flushed then."""
    if not view.exists or published_by_this_pass:
        return False
    known = (ledger_deployment, ledger_fingerprint) == (view.deployment_id, wanted_fingerprint)
    return not known
