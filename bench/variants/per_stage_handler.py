"""The function with one CreateDeployment per stage instead of one deployment pointed at every
stage (UpdateStage): the alternative ``make bench`` measures, not what the function does.

Bench code, not the product: the bench runs it from a code folder holding this file and
``resource/authorizer_pools``, as Lambda would.
"""

from authorizer_pools import convergence
from authorizer_pools.handler import handler

convergence.PUBLICATION = convergence.Publication(strategy="per-stage")

__all__ = ["handler"]
