"""``make demo``: the product's main job, played end to end on a local AWS.

A local AWS (moto's server with this project's API Gateway model: quotas, 409s, per-deployment
snapshots) starts on a free loopback port; the shared API of ``examples/shared-api.yaml`` is
made on it; then CloudFormation's side of the protocol is played for tenant stacks shaped like
``examples/tenant.yaml``: each event goes to the handler ``template.yaml`` names, in its own
Lambda-like process, and each answer is read back from a local HTTPS ResponseURL. Time runs
faster than the wall clock: API Gateway's quotas and the function's own waits by the same factor.

The story checks itself: every expectation is asserted, and the demo exits non-zero, naming the
step, when one fails. Everything it started is stopped when it ends, whether it passed or not.

Run: ``make demo`` (or ``python -m demo`` from the project root).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shlex
import signal
import ssl
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config
from cfnlint.decode import decode  # type: ignore[import-untyped]

from demo.output import Output
from demo.shared_api import (
    create_registry_table,
    create_shared_api,
    create_tenant_pool,
)
from demo.world import (
    ACCOUNT,
    FUNCTION_CLOCK,
    FUNCTION_NAME,
    REGION,
    REGISTRATION,
    World,
    registrar_cloudformation,
)
from localaws.awslambda.runtime import FunctionConfig
from localaws.cloudformation.response_receiver import ResponseReceiver
from localaws.cloudformation.stacks import Exchange, LambdaService, Stack
from localaws.dataplane.users import answers, sign_in
from localaws.middleware.control_plane import ControlPlaneConfig
from localaws.server import LocalAws

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE = ROOT / "template.yaml"
TIME_SCALE = 0.1  # ten times faster than real time
FUNCTION_TIMEOUT = 900.0  # template.yaml's, in model seconds
ANSWER_TIMEOUT = 120.0  # real seconds to wait for an answer before calling the stack hung
MALFORMED_ARN = "arn:aws:cognito-idp:us-east-1:123456789012:userpool/not a pool"
STEPS = 7
STATUS_STYLE = {True: "green", False: "yellow"}


class DemoFailed(Exception):
    """An expectation of the story did not hold."""


# -- the story -----------------------------------------------------------------------------


class Story:
    def __init__(self, output: Output, world: World, pooled_tier_pool: str) -> None:
        self.out = output
        self.world = world
        self.cloudformation = world.cloudformation
        # The pooled tier's pool, created with the shared API: no tenant stack holds it, so the
        # registrar's SharedUserPoolArns names it (template.yaml's parameter).
        self.pooled_tier_pool = pooled_tier_pool
        self.step = ""
        self.tokens: dict[str, str] = {}  # user label -> the ID token that user holds
        self.labels: dict[str, str] = {  # pool ARN -> a name people read
            world.api.operators_pool_arn: "operators",
            pooled_tier_pool: "pooled",
        }
        self.flushes_seen: dict[str, int] = {}

    def label(self, arn: str) -> str:
        return self.labels.get(arn, arn)

    @staticmethod
    def short(arn: str) -> str:
        pool_id = arn.rsplit("/", 1)[-1]
        return pool_id if len(pool_id) <= 20 else pool_id[:16] + "…"

    def stage_deployment(self, stage: str) -> tuple[str, str]:
        """The deployment a stage serves, and when it was made."""
        client = self.world.apigateway()
        api_id = self.world.api.rest_api_id
        deployment_id = client.get_stage(restApiId=api_id, stageName=stage)["deploymentId"]
        created = client.get_deployment(restApiId=api_id, deploymentId=deployment_id)
        return deployment_id, created["createdDate"].strftime("%H:%M:%S")

    # Helpers ---------------------------------------------------------------------------

    def begin(self, number: int, title: str) -> None:
        self.step = f"step {number} ({title})"
        self.out.line()
        self.out.line(self.out.paint(f"{number}. {title}", "bold"))

    def expect(self, condition: bool, message: str) -> None:
        if not condition:
            raise DemoFailed(f"{self.step}: {message}")

    def passed(self, message: str) -> None:
        self.out.line(f"   {self.out.paint('✓', 'green')} {message}")

    def show_exchange(self, exchange: Exchange) -> None:
        event = exchange.event
        properties = event["ResourceProperties"]
        pool = properties.get("UserPoolArn", "")
        sent = f"{event['RequestType']:<6} {exchange.stack_name}/{exchange.logical_id}"
        detail = f"UserPoolArn={self.label(pool)}"
        if "PhysicalResourceId" in event:
            detail += f"  PhysicalResourceId={self.short_id(event['PhysicalResourceId'])}"
        self.out.line(f"   → {sent}  {self.out.paint(detail, 'dim')}")
        status = self.out.paint(exchange.status, "green" if exchange.status == "SUCCESS" else "red")
        self.out.line(
            f"     ← {status}  PhysicalResourceId={self.short_id(exchange.physical_id)}"
            f"  ({exchange.seconds:.1f} s)"
        )
        if exchange.reason:
            self.out.line(f"       reason: {exchange.reason}")

    def short_id(self, physical_id: str) -> str:
        """``api:authorizer:arn…/pool`` with the pool id shortened; other ids as they are."""
        api, _, rest = physical_id.partition(":")
        authorizer, _, arn = rest.partition(":")
        if not arn.startswith("arn:"):
            return physical_id
        return f"{api}:{authorizer}:…/{self.short(arn)}"

    def show_state(self) -> None:
        world = self.world
        self.out.line("   providerARNs, with their owners in the registry")
        owners = world.owners()
        for arn in world.provider_arns():
            if arn in owners:
                note = ", ".join(owners[arn])
            else:
                note = self.out.paint(
                    "unmanaged (no registration named it: never removed)", "yellow"
                )
            self.out.line(f"     • {self.label(arn):<10} {self.short(arn):<20} {note}")
        self.out.line("   stages")
        for stage in world.api.stage_names:
            deployment_id, created = self.stage_deployment(stage)
            flushes = world.flushes(stage)
            new_flushes = flushes - self.flushes_seen.get(stage, 0)
            self.flushes_seen[stage] = flushes
            serves = ", ".join(self.label(arn) for arn in world.served(stage) or ()) or "nothing"
            self.out.line(
                f"     {stage:<5} deployment {deployment_id} ({created})  "
                f"cache flushes +{new_flushes}  serves: {serves}"
            )

    def all_at_once(self, what: str, actions: Sequence[Callable[[], Stack]]) -> list[Stack]:
        with self.out.waiting(what), ThreadPoolExecutor(max_workers=len(actions)) as pool:
            futures = [pool.submit(action) for action in actions]
            return [future.result() for future in futures]

    def registration(self, pool_arn: str) -> dict[str, Any]:
        # examples/tenant.yaml names only its pool (and CloudFormation's ServiceTimeout):
        # RestApiId, AuthorizerId and StageNames come from the function's configuration
        # (template.yaml's parameters).
        return {"UserPoolArn": pool_arn, "ServiceTimeout": 3600}

    def users_call(
        self, users: Mapping[str, str], expected: Mapping[str, int], *, fresh: bool = False
    ) -> None:
        """Each user (label -> pool ARN) calls ``GET /<stage>/orders`` on every stage with the
        token it holds (a new one when ``fresh``, or the first time): what the tenant sees."""
        for label, pool in users.items():
            if fresh or label not in self.tokens:
                self.tokens[label] = sign_in(pool, label.replace(" ", "-"))
            seen = answers(self.world.invoke_urls(), self.tokens[label]).items()
            shown = "  ".join(
                f"GET /{stage}/orders → {self.out.paint(str(status), STATUS_STYLE[status == 200])}"
                for stage, status in seen
            )
            self.out.line(f"   {label + ' user':<15} → {shown}")
            for stage, status in seen:
                self.expect(
                    status == expected[label],
                    f"{label}'s user got {status} from GET /{stage}/orders, "
                    f"expected {expected[label]}",
                )

    def expect_live(self, arns: Sequence[str], absent: Sequence[str] = ()) -> None:
        world = self.world
        listed = world.provider_arns()
        expected = [world.api.operators_pool_arn, *arns]
        self.expect(
            sorted(listed) == sorted(expected),
            f"providerARNs are {[self.label(a) for a in listed]}, "
            f"expected {[self.label(a) for a in expected]}",
        )
        for stage in world.api.stage_names:
            served = world.served(stage) or ()
            self.expect(
                set(served) == set(expected),
                f"stage {stage} serves {[self.label(a) for a in served]}, "
                f"expected {[self.label(a) for a in expected]}",
            )
        for arn in absent:
            self.expect(arn not in listed, f"{self.label(arn)} is still on the authorizer")

    # The steps -------------------------------------------------------------------------

    def run(self) -> None:
        self.shared_api()
        tenants = self.three_tenants()
        tenants = self.acme_moves(tenants)
        self.malformed_arn()
        pooled = self.pooled_tier(list(tenants.values()))
        self.drift_repaired([*tenants.values(), pooled])
        self.everyone_leaves([*tenants, "small-b"], [*tenants.values(), pooled])

    def shared_api(self) -> None:
        self.begin(1, "the shared API, as examples/shared-api.yaml declares it")
        world = self.world
        self.out.line(
            f"   REST API {world.api.rest_api_id}, authorizer {world.api.authorizer_id} "
            f"(COGNITO_USER_POOLS), stages {', '.join(world.api.stage_names)}"
        )
        self.show_state()
        self.expect(world.provider_arns() == [world.api.operators_pool_arn], "authorizer not set")
        self.users_call({"operators": world.api.operators_pool_arn}, {"operators": 200})
        self.passed("only the operators' pool is trusted")

    def three_tenants(self) -> dict[str, str]:
        self.begin(2, "three tenant stacks created at once (examples/tenant.yaml)")
        pools = {name: self.tenant_pool(name) for name in ("acme", "globex", "initech")}
        self.out.line("   before: each tenant's user tries (and every stage caches the answer)")
        self.users_call(pools, dict.fromkeys(pools, 401))
        stacks = self.all_at_once(
            "waiting for 3 answers",
            [
                lambda name=name, pool=pool: self.cloudformation.create_stack(  # type: ignore[misc]
                    f"tenant-{name}", {REGISTRATION: self.registration(pool)}
                )
                for name, pool in pools.items()
            ],
        )
        self.show_state()
        for stack in stacks:
            self.expect(
                stack.status == "CREATE_COMPLETE",
                f"{stack.name} is {stack.status}: {stack.exchanges[0].reason}",
            )
            self.expect(
                set(stack.exchanges[0].data) == {"UserPoolArn", "RestApiId", "AuthorizerId"},
                f"{stack.name}'s answer has no Data",
            )
        self.expect_live(list(pools.values()))
        self.users_call(pools, dict.fromkeys(pools, 200))
        for stage in self.world.api.stage_names:
            self.expect(self.world.flushes(stage) >= 1, f"stage {stage}'s cache was not flushed")
        self.passed("all three SUCCESS; each pool listed once and served on every stage")
        return pools

    def acme_moves(self, pools: dict[str, str]) -> dict[str, str]:
        self.begin(3, "tenant-acme moves to a new pool (a replacement, then the cleanup Delete)")
        old, new = pools["acme"], self.tenant_pool("acme", version=2)
        with self.out.waiting("waiting for the update and its cleanup"):
            stack = self.cloudformation.update_stack(
                "tenant-acme", {REGISTRATION: self.registration(new)}
            )
        self.show_state()
        update, cleanup = stack.exchanges[-2:]
        self.expect(stack.status == "UPDATE_COMPLETE", f"the stack is {stack.status}")
        self.expect(update.physical_id.endswith(new), "the Update did not answer a new id")
        self.expect(
            cleanup.request_type == "Delete" and cleanup.event["PhysicalResourceId"].endswith(old),
            "CloudFormation did not clean up the old registration",
        )
        self.tokens["acme v1"] = self.tokens.pop("acme")
        self.users_call({"acme v1": old, "acme": new}, {"acme v1": 401, "acme": 200})
        pools = {**pools, "acme": new}
        self.expect_live(list(pools.values()), absent=[old])
        self.passed("new pool live everywhere; the old one removed by the cleanup Delete")
        return pools

    def malformed_arn(self) -> None:
        self.begin(4, "a tenant stack with a malformed pool ARN")
        before = (self.world.provider_arns(), len(self.deployments()))
        self.labels[MALFORMED_ARN] = "'not a pool'"
        stack = self.cloudformation.create_stack(
            "tenant-typo", {REGISTRATION: self.registration(MALFORMED_ARN)}
        )
        self.show_state()
        create, rollback = stack.exchanges
        self.expect(create.status == "FAILED", "the malformed ARN was accepted")
        self.expect(
            create.reason.startswith(f"UserPoolArn {MALFORMED_ARN!r}"),
            f"the reason does not name the property and value: {create.reason!r}",
        )
        self.expect(
            rollback.request_type == "Delete" and rollback.status == "SUCCESS",
            "the rollback Delete did not succeed",
        )
        self.expect(stack.status == "ROLLBACK_COMPLETE", f"the stack is {stack.status}")
        after = (self.world.provider_arns(), len(self.deployments()))
        self.expect(after == before, "the failed stack changed the authorizer or deployed")
        self.passed("FAILED with a clear reason; the rollback Delete succeeded and changed nothing")

    def pooled_tier(self, tenant_pools: list[str]) -> str:
        self.begin(5, "two small tenants share one pool (pooled tier); one of them leaves")
        shared = self.pooled_tier_pool
        stacks = self.all_at_once(
            "waiting for 2 answers",
            [
                lambda name=name: self.cloudformation.create_stack(  # type: ignore[misc]
                    f"tenant-{name}", {REGISTRATION: self.registration(shared)}
                )
                for name in ("small-a", "small-b")
            ],
        )
        self.expect(
            all(stack.status == "CREATE_COMPLETE" for stack in stacks), "a pooled tenant failed"
        )
        self.expect(len(self.world.owners().get(shared, [])) == 2, "the pool has not two owners")
        left = self.cloudformation.delete_stack("tenant-small-a")
        self.show_state()
        self.expect(left.status == "DELETE_COMPLETE", f"tenant-small-a is {left.status}")
        self.expect(
            self.world.owners().get(shared) == [f"tenant-small-b/{REGISTRATION}"],
            "the remaining owner is not tenant-small-b",
        )
        self.expect_live([*tenant_pools, shared])
        self.users_call({"small-b": shared}, {"small-b": 200})
        self.passed("tenant-small-a left; the shared pool stays: tenant-small-b still owns it")
        return shared

    def drift_repaired(self, registered: list[str]) -> None:
        self.begin(6, "the shared API's own stack resets the pool list; reconcile repairs it")
        # As CloudFormation does for a stack's calls, retry API Gateway's throttling (one
        # CreateDeployment per 5 s per account) rather than fail the stack update.
        client = boto3.client(
            "apigateway", config=Config(retries={"max_attempts": 10, "mode": "standard"})
        )
        api = self.world.api
        for arn in registered:
            client.update_authorizer(
                restApiId=api.rest_api_id,
                authorizerId=api.authorizer_id,
                patchOperations=[{"op": "remove", "path": "/providerARNs", "value": arn}],
            )
        for stage in api.stage_names:
            client.create_deployment(restApiId=api.rest_api_id, stageName=stage)
        self.out.line("   (an update of shared-api.yaml set ProviderARNs back to its own list)")
        self.show_state()
        users = {self.label(arn): arn for arn in registered}
        self.out.line("   users signing in now (a token already cached stays allowed up to 300 s)")
        self.users_call(users, dict.fromkeys(users, 401), fresh=True)
        for arguments, expected in (
            (["reconcile", "--dry-run"], 1),
            (["reconcile"], 1),
            (["reconcile"], 0),
        ):
            status, report = self.operator_cli(arguments)
            self.out.line(
                f"   $ python -m authorizer_pools … {' '.join(arguments)}   (exit {status})"
            )
            for line in report.splitlines():
                self.out.line(f"     {line}")
            self.expect(status == expected, f"{' '.join(arguments)} exited {status}")
        self.show_state()
        self.users_call(users, dict.fromkeys(users, 200))
        self.expect_live(registered)
        self.passed("drift found, repaired, and a second reconcile finds none")

    def everyone_leaves(self, names: list[str], pools: list[str]) -> None:
        self.begin(7, "every tenant stack deleted at once")
        stacks = self.all_at_once(
            f"waiting for {len(names)} answers",
            [
                lambda name=name: self.cloudformation.delete_stack(f"tenant-{name}")  # type: ignore[misc]
                for name in names
            ],
        )
        self.show_state()
        for stack in stacks:
            self.expect(
                stack.status == "DELETE_COMPLETE",
                f"{stack.name} is {stack.status}: {stack.exchanges[-1].reason}",
            )
        users = {self.label(arn): arn for arn in pools}
        self.users_call(users, dict.fromkeys(users, 401))
        self.users_call({"operators": self.world.api.operators_pool_arn}, {"operators": 200})
        self.expect_live([], absent=pools)
        self.expect(self.world.owners() == {}, "the registry still lists owners")
        self.passed("all deleted; only the operators' pool is trusted and served")

    def operator_cli(self, arguments: list[str]) -> tuple[int, str]:
        finished = subprocess.run(
            [sys.executable, *operator_command(self.world), *arguments],
            capture_output=True,
            text=True,
            check=False,
            timeout=120,
        )
        return finished.returncode, (finished.stdout + finished.stderr).rstrip()

    # ------------------------------------------------------------------------------------

    def tenant_pool(self, tenant: str, version: int = 1) -> str:
        name = tenant if version == 1 else f"{tenant}-v{version}"
        arn = create_tenant_pool(name)
        self.labels[arn] = name
        return arn

    def deployments(self) -> list[Any]:
        client = boto3.client("apigateway")
        return list(client.get_deployments(restApiId=self.world.api.rest_api_id)["items"])


# -- running it ------------------------------------------------------------------------------


def function_settings(template: Path = TEMPLATE) -> tuple[Path, str]:
    """CodeUri and Handler, as template.yaml names them."""
    document, problems = decode(str(template))
    if problems or document is None:
        raise SystemExit(f"cannot read {template}: {problems}")
    function = document["Resources"]["Function"]["Properties"]
    return template.parent / str(function["CodeUri"]), str(function["Handler"])


def ca_bundle(receiver: ResponseReceiver, directory: Path) -> Path:
    """The machine's CAs plus the receiver's, for the function's SSL_CERT_FILE."""
    bundle = directory / "ca-bundle.pem"
    system = Path(ssl.get_default_verify_paths().cafile or "/etc/ssl/certs/ca-certificates.crt")
    bundle.write_text(
        (system.read_text() if system.is_file() else "") + Path(receiver.ca_file).read_text()
    )
    return bundle


@contextlib.contextmanager
def environment(variables: Mapping[str, str]) -> Iterator[None]:
    saved = {name: os.environ.get(name) for name in variables}
    os.environ.update(variables)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def run(
    output: Output, code_dir: Path, handler: str, time_scale: float, *, keep: bool = False
) -> None:
    started = time.monotonic()
    model = ControlPlaneConfig(model_enabled=True, time_scale=time_scale)
    with (
        LocalAws(model, region=REGION) as aws,
        ResponseReceiver(region=REGION, account_id=ACCOUNT) as receiver,
        tempfile.TemporaryDirectory(prefix="demo-") as scratch,
        environment(aws.env()),
    ):
        output.line(output.paint("make demo: the tenant lifecycle on a local AWS", "bold"))
        output.line(
            f"   local AWS {aws.endpoint_url} (moto + API Gateway's quotas and 409s), "
            f"running {1 / time_scale:g} times faster than real time"
        )
        shown = code_dir.relative_to(ROOT) if code_dir.is_relative_to(ROOT) else code_dir
        output.line(f"   function  {handler} from {shown}/, one process per execution")
        api, table = create_shared_api(), create_registry_table()
        pooled_tier_pool = create_tenant_pool("pooled")
        config = FunctionConfig(
            code_dir=code_dir,
            handler=handler,
            timeout=FUNCTION_TIMEOUT,
            function_name=FUNCTION_NAME,
            environment={
                **aws.env(),
                "SSL_CERT_FILE": str(ca_bundle(receiver, Path(scratch))),
                # CloudFormation's response bucket is the receiver.
                "AWS_ENDPOINT_URL_S3": receiver.endpoint_url,
                # template.yaml's parameters, as its Environment passes them.
                "REST_API_ID": api.rest_api_id,
                "AUTHORIZER_ID": api.authorizer_id,
                "STAGE_NAMES": ",".join(api.stage_names),
                "ALLOWED_USER_POOL_ARNS": "",
                "PROTECTED_USER_POOL_ARNS": api.operators_pool_arn,
                "SHARED_USER_POOL_ARNS": pooled_tier_pool,
                "REGISTRY_TABLE": table,
                "LOG_LEVEL": "INFO",
            },
            time_scale=time_scale,
            clock=FUNCTION_CLOCK,
        )
        with LambdaService(config) as service:
            cloudformation = registrar_cloudformation(
                service,
                receiver,
                service_timeout=ANSWER_TIMEOUT,
                lambda_async=aws.control_plane.lambda_async,
            )
            world = World(aws, api, cloudformation, receiver, table)
            story = Story(output, world, pooled_tier_pool)
            story.cloudformation.on_exchange = story.show_exchange
            story.run()
            output.line()
            output.always(f"demo: all {STEPS} steps passed in {time.monotonic() - started:.1f} s")
            if keep:
                keep_running(output, aws, world)


def operator_command(world: World) -> list[str]:
    """``python -m authorizer_pools`` naming this demo's authorizer, registry, stages and
    protected pool (the registrar's parameters: the demo has no registrar stack for --stack)."""
    return [
        "-m",
        "authorizer_pools",
        *world.cli_target(),
        "--protected-user-pool-arns",
        world.api.operators_pool_arn,
    ]


def keep_running(output: Output, aws: LocalAws, world: World) -> None:
    """``make demo KEEP=1``: leave the local AWS and its stages up, say how to call them, and
    wait for Ctrl-C (the caller's ``with`` blocks then stop everything)."""
    api = world.api
    token = sign_in(api.operators_pool_arn, "operators")
    output.always(
        "\nThe local AWS keeps running until Ctrl-C. Try it (the token is an operators' user's,"
        " valid for an hour):\n"
        f"  curl -i -H 'Authorization: {token}' {world.invoke_urls()[api.stage_names[-1]]}/orders\n"
        f"  curl -i {world.invoke_urls()[api.stage_names[-1]]}/orders        # no token: 401\n"
        f"  export AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing"
        f" AWS_REGION={aws.region} AWS_DEFAULT_REGION={aws.region}"
        f" AWS_ENDPOINT_URL={aws.endpoint_url}\n"
        f"  aws apigateway get-authorizer"
        f" --rest-api-id {api.rest_api_id} --authorizer-id {api.authorizer_id}\n"
        f"  {shlex.join([str(Path(sys.executable)), *operator_command(world), 'list'])}"
    )
    # `kill` stops it as cleanly as Ctrl-C does.
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    while True:  # until Ctrl-C raises KeyboardInterrupt here
        time.sleep(1)


def main(argv: Sequence[str] | None = None) -> int:
    code_dir, handler = function_settings()
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quiet", action="store_true", help="print only the outcome")
    parser.add_argument("--code-dir", type=Path, default=code_dir, help="the function's code")
    parser.add_argument("--handler", default=handler, help="module.function to invoke")
    parser.add_argument(
        "--keep", action="store_true", help="leave the local AWS running until Ctrl-C"
    )
    parser.add_argument("--time-scale", type=float, default=TIME_SCALE, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    output = Output(sys.stdout, quiet=args.quiet)
    try:
        run(output, args.code_dir.resolve(), args.handler, args.time_scale, keep=args.keep)
    except DemoFailed as failure:
        output.always(f"demo FAILED at {failure}")
        return 1
    except KeyboardInterrupt:
        output.always("demo stopped" if args.keep else "demo interrupted")
        return 0 if args.keep else 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
