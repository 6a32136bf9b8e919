"""Attack: a small but valid ServiceTimeout (1..~7 s; properties accept 1..3,600) makes every
request give up before doing anything: the give-up is ServiceTimeout - min(60, ServiceTimeout/4)
after signing, and the work's own deadline is 5 s (timing.ANSWER_RESERVE_SECONDS) before that,
i.e. already past. With an idle AWS, the Create answers FAILED "AWS stayed too busy", and the
rollback Delete (same properties) answers FAILED too, claiming "the removal is recorded": the
stack ends ROLLBACK_FAILED and every deletion retry fails the same way."""

from __future__ import annotations

from conftest import World


def test_a_small_service_timeout_leaves_the_stack_rollback_failed(world: World) -> None:
    pool = world.tenant_pool("acme")
    stack = world.create_tenant("tenant-acme", pool, ServiceTimeout=5)
    for exchange in stack.exchanges:
        print(exchange.request_type, exchange.status, exchange.reason)
    print("stack:", stack.status, "owners:", world.owners())
    # Nothing was busy and nothing was registered: the rollback must at least be able to end.
    assert stack.status == "ROLLBACK_COMPLETE"
    again = world.cloudformation.delete_stack("tenant-acme")
    print("delete retry:", again.status, again.exchanges[-1].reason)
    assert again.status == "DELETE_COMPLETE"
