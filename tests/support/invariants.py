"""What must be true of one shared API whatever happened: the invariant every test ends on."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from conftest import World


def assert_invariant(world: World, *owned: str, unmanaged: tuple[str, ...] = ()) -> None:
    expected = {world.api.operators_pool_arn, *unmanaged, *owned}
    listed = world.provider_arns()
    assert sorted(listed) == sorted(expected), "the authorizer lists the wrong pools"
    assert set(world.owners()) == set(owned), "the registry's owners are not the live ones"
    for stage in world.api.stage_names:
        assert set(world.served(stage) or ()) == expected, f"stage {stage} serves the wrong pools"
