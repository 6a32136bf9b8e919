"""Attack: a continuation whose first registry call (``requests.seen``) fails answers FAILED
without taking back the owner the request's first invocation made live.

Update A -> B while CreateDeployment is throttled: invocation 0 adds B's owner and hands over.
DynamoDB then throttles the ``requests`` partition while continuation 1 runs. It answers
FAILED ("Nothing was done yet" says answering.run, which holds only for invocation 0), and
CloudFormation rolls back to A. B's owner stays live: pool B stays trusted by the shared
authorizer for a stack that no longer names it, and no later request will ever remove it
(CloudFormation never learned B's physical id)."""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import Any

from conftest import REGISTRATION, World
from test_continuation import busy_for, on_continuation, settled

from localaws.routes import RequestInfo


def requests_partition_update(info: RequestInfo) -> bool:
    return b'"requests#' in info.body


def test_a_continuation_that_cannot_read_its_record_leaves_the_new_pool_trusted(
    world: World,
) -> None:
    old, new = world.tenant_pool("acme-v1"), world.tenant_pool("acme-v2")
    assert world.create_tenant("tenant-acme", old).status == "CREATE_COMPLETE"
    busy = busy_for(world, 150.0)
    installed = threading.Event()
    faults: list[Any] = []

    def dynamodb_hiccup(event: Mapping[str, Any]) -> None:
        if installed.is_set():
            return
        installed.set()
        # DynamoDB throttles the requests partition for this continuation (a burst), e.g.
        # 60 times: longer than the continuation's own retries within its deadline.
        faults.append(
            world.aws.control_plane.inject(
                "UpdateItem",
                400,
                "ProvisionedThroughputExceededException",
                "The level of configured provisioned throughput for the table was exceeded.",
                times=500,
                predicate=requests_partition_update,
                service="dynamodb",
            )
        )

    on_continuation(world, dynamodb_hiccup)

    def hiccup_over(exchange: Any) -> None:  # the burst ends once the update has answered
        for fault in faults:
            fault.remaining = 0

    world.cloudformation.on_exchange = hiccup_over
    stack = world.cloudformation.update_stack(
        "tenant-acme", {REGISTRATION: world.registration(new)}
    )
    world.cloudformation.on_exchange = None
    busy.cancel()
    settled(world)
    world.aws.control_plane.clear()

    update = stack.exchanges[1]
    print("update:", update.status, update.reason)
    assert update.status == "FAILED"
    assert stack.status == "UPDATE_ROLLBACK_COMPLETE"
    world.create_tenant("tenant-probe", world.tenant_pool("probe"))  # one more pass
    print("owners:", world.owners())
    # Expected: the refused/failed update's pool B is taken back, as on any other failure.
    assert new not in world.owners(), "B's owner survived the FAILED update (leaked)"
    assert world.gone_everywhere(new), "pool B is still trusted by the shared authorizer"
