"""A tenant's whole lifecycle with the function in its own process, as Lambda runs it."""

from __future__ import annotations

from conftest import World, registrar_environment
from template_model import ROOT, load_template

from demo.world import REGISTRATION, registrar_cloudformation
from localaws.awslambda.runtime import FunctionConfig
from localaws.cloudformation.stacks import LambdaService, Stack


def run_lifecycle(world: World, environment: dict[str, str]) -> Stack:
    function = load_template()["Resources"]["Function"]["Properties"]
    config = FunctionConfig(
        code_dir=ROOT / function["CodeUri"],
        handler=function["Handler"],
        timeout=60,
        environment={**environment, **registrar_environment(world.api)},
    )
    with LambdaService(config) as service:
        cloudformation = registrar_cloudformation(service, world.receiver, service_timeout=90)
        pool = world.tenant_pool("acme")
        stack = cloudformation.create_stack("tenant-acme", {REGISTRATION: world.registration(pool)})
        cloudformation.delete_stack("tenant-acme")
    return stack
