"""Which stack a pool belongs to: who may take up a pool another stack registered."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class PoolStacks:
    """What the registry holds of who registered a pool."""

    # The stack that holds the pool's claim; None before any registration since claims exist.
    holder: str | None
    # The stacks with a live owner of the pool.
    live: frozenset[str]
    # Every stack with an owner item of the pool, live or gone (gone ones expire).
    ever: frozenset[str]
    # A registration named the pool and the registry has not forgotten it.
    managed: bool


CLAIMED_ELSEWHERE = (
    "was registered by another stack, which no longer does: a pool goes to another stack only "
    "while a stack still registers it, unless in SharedUserPoolArns"
)


def claim_refusal(stack_id: str, pool: PoolStacks) -> str | None:
    """Why the stack ``stack_id`` may not take up ``pool`` (one CloudFormation lists as its
    own): the pool belonged to another stack, and no stack registers it any more. None when it
    may: it holds the claim, a stack still registers the pool (a move between a tenant's
    stacks; a claim left by a registration that failed after taking it), or the pool is new.
    A pool registered before claims existed belongs to the stacks of its owners."""
    if pool.holder == stack_id or pool.live:
        return None
    if pool.holder is not None or (pool.managed and stack_id not in pool.ever):
        return CLAIMED_ELSEWHERE
    return None
