"""What the ledger records about stages a pass did not publish (found by an adversarial review).

``Worker._publish`` decides which stages serve from one GetStages (before deploying), then,
after deploying the stages behind, reads GetStages again and records, for *every* stage it
counted as served, the deployment that second read shows (convergence.py, the loop building
``facts``). A stage that was counted as served from the first read but moved in between (a
late call of a stale worker, the console, the shared API's pipeline) gets its *new* deployment
recorded as serving the wanted list, although nobody looked at what that deployment serves.
From then on every ordinary pass trusts it (plan.stage_verdict: ``known``), and requests
naming that stage answer SUCCESS while it serves an old list.
"""

from __future__ import annotations

import threading

from conftest import REGISTRATION, World

STAGE_NAMES = ("dev", "prod")


def point(world: World, stage: str, deployment_id: str) -> None:
    world.apigateway().update_stage(
        restApiId=world.api.rest_api_id,
        stageName=stage,
        patchOperations=[{"op": "replace", "path": "/deploymentId", "value": deployment_id}],
    )


def test_a_stage_moved_while_another_is_published_is_recorded_as_serving(world: World) -> None:
    acme = world.tenant_pool("acme")
    # The shared API stack's own deployment: it lists only the operators' pool.
    (initial,) = [d["id"] for d in world.deployments()]
    world.create_tenant("tenant-acme", acme)
    assert world.live_everywhere(acme)
    # prod drifted (pointed back at the shared API's deployment): the next pass republishes it.
    point(world, "prod", initial)

    # While the worker's CreateDeployment for prod is in flight, dev is pointed back too (a
    # late UpdateStage of a worker whose lease expired, or the console).
    held = world.aws.control_plane.inject_delay("CreateDeployment", 2.0)

    def move_dev_meanwhile() -> None:
        assert held.held.wait(30)
        point(world, "dev", initial)
        held.release()

    mover = threading.Thread(target=move_dev_meanwhile)
    mover.start()
    first = world.cloudformation.update_stack(
        "tenant-acme", {REGISTRATION: world.registration(acme, StageNames=["prod"])}
    )
    mover.join()
    assert first.status == "UPDATE_COMPLETE", first.exchanges[-1].reason
    assert held.fired == 1, "dev was not moved in the window"
    # Every stage was seen serving again before the answer: dev was published once more.
    assert acme in (world.served("dev") or ()), "SUCCESS while dev serves an old deployment"

    # Any later request naming dev, with no pool change: the pass must notice that dev does
    # not serve acme, and publish it before answering SUCCESS.
    second = world.cloudformation.update_stack(
        "tenant-acme", {REGISTRATION: world.registration(acme, StageNames=list(STAGE_NAMES))}
    )
    assert second.status == "UPDATE_COMPLETE", second.exchanges[-1].reason
    assert acme in (world.served("dev") or ()), (
        "SUCCESS for StageNames [dev, prod] while dev serves a deployment without the pool"
    )
