"""The long wait: N registrations at once while API Gateway cannot publish for 20 minutes.

Other teams' deployments hold the account's CreateDeployment quota (429) and keep the API busy
(UpdateAuthorizer 409) for ``OUTAGE_SECONDS`` model seconds, then API Gateway recovers. Every
registration outlasts one Lambda invocation (900 s) and goes on in continuations of the
function (asynchronous invocations of itself, delivered by the local Lambda). All must answer
SUCCESS before their ServiceTimeout, and nothing may be left behind once they have: no
EventBridge rule, no continuation still queued or running, no request the registry still
carries unanswered.

The model runs compressed (``TIME_SCALE`` real seconds per model second): the outage is spent
waiting, and two shared cores stand in for the containers' CPUs only in the minutes before and
after it.
"""

from __future__ import annotations

import functools
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import boto3

from bench.launch_day import (
    PROJECT,
    REGISTRATION,
    SERVICE_TIMEOUT,
    Bench,
)
from demo.world import registrar_cloudformation
from localaws.cloudformation.stacks import LambdaService

OUTAGE_SECONDS = 20 * 60.0
TIME_SCALE = 0.5


@dataclass(frozen=True)
class Outage:
    tenants: int
    failures: int
    left_behind: int
    last_answer: float
    continuations: int

    def line(self) -> str:
        return (
            f"bench: outage N={self.tenants} failures={self.failures} "
            f"left_behind={self.left_behind} last_answer_s={self.last_answer:.0f} "
            f"service_timeout_s={SERVICE_TIMEOUT:.0f}"
        )


def run(bench: Bench, tenants: int, time_scale: float = TIME_SCALE) -> Outage:
    bench.runs += 1
    pools = bench.new_pools(tenants, f"outage-{bench.runs}")
    aws = bench.aws
    config, properties = bench.deployment(PROJECT, f"outage-{bench.runs}", time_scale)
    table = str(config.environment["REGISTRY_TABLE"])
    with LambdaService(config) as service:
        service.prewarm(tenants)
        cloudformation = registrar_cloudformation(
            service,
            bench.receiver,
            service_timeout=SERVICE_TIMEOUT * time_scale + 60,
            lambda_async=bench.aws.control_plane.lambda_async,
        )
        aws.control_plane.reset()
        aws.control_plane.lambda_async.attach(service, time_scale=time_scale)
        aws.control_plane.enable_model(time_scale=time_scale)
        for operation, status, code in (
            ("CreateDeployment", 429, "TooManyRequestsException"),
            ("UpdateAuthorizer", 409, "ConflictException"),
        ):
            aws.control_plane.inject(operation, status, code, "busy", service="apigateway")
        recovery = threading.Timer(OUTAGE_SECONDS * time_scale, aws.control_plane.clear)
        recovery.start()
        creates = [
            functools.partial(
                cloudformation.create_stack,
                f"tenant-{n:03d}",
                {REGISTRATION: {**properties, "UserPoolArn": pool}},
            )
            for n, pool in enumerate(pools)
        ]
        with ThreadPoolExecutor(max_workers=tenants) as executor:
            stacks = list(executor.map(lambda create: create(), creates))
        recovery.cancel()
        # Whatever is still queued or running after every answer is left behind.
        aws.control_plane.lambda_async.wait_idle(30 * time_scale)
        queued = aws.control_plane.lambda_async.pending
        continuations = len(aws.control_plane.lambda_async.deliveries)
    aws.control_plane.clear()
    aws.control_plane.disable_model()
    rules = len(boto3.client("events").list_rules()["Rules"])
    unanswered = _unanswered_requests(table)
    exchanges = [stack.exchanges[0] for stack in stacks]
    return Outage(
        tenants=tenants,
        failures=sum(1 for stack in stacks if stack.status != "CREATE_COMPLETE"),
        left_behind=queued + rules + unanswered,
        last_answer=max(e.seconds for e in exchanges) / time_scale,
        continuations=continuations,
    )


def _unanswered_requests(table: str) -> int:
    items = boto3.client("dynamodb").scan(TableName=table)["Items"]
    return sum(
        1 for item in items if item["pk"]["S"].startswith("requests#") and "answer" not in item
    )
