"""The same tenant and registrar as app.js, written against the construct library's Python
binding (jsii-pacmak's wheel): tests/test_cdk.py checks that both languages synthesize the same
registration and registrar.

    .venv-cdk/bin/python cdk/test/app.py OUTDIR
"""

import sys

import aws_cdk as cdk
from aws_cdk import aws_apigateway as apigateway
from aws_cdk import aws_cognito as cognito
from aws_cdk import aws_iam as iam
from cognito_authorizer_pools import AuthorizerPoolsRegistrar, UserPoolRegistration

app = cdk.App(outdir=sys.argv[1])
env = cdk.Environment(account="123456789012", region="us-east-1")

shared = cdk.Stack(app, "SharedApi", env=env)
operators = cognito.UserPool(shared, "OperatorsUserPool")
api = apigateway.RestApi(shared, "Api", deploy=False)
authorizer = apigateway.CognitoUserPoolsAuthorizer(
    shared, "Authorizer", cognito_user_pools=[operators]
)
api.root.add_resource("orders").add_method(
    "GET",
    apigateway.MockIntegration(),
    authorizer=authorizer,
    authorization_type=apigateway.AuthorizationType.COGNITO,
)
deployment = apigateway.Deployment(shared, "Deployment", api=api)
stages = [
    apigateway.Stage(shared, f"Stage-{name}", deployment=deployment, stage_name=name)
    for name in ("dev", "prod")
]

registrar_stack = cdk.Stack(app, "Registrar", env=env)
registrar = AuthorizerPoolsRegistrar(
    registrar_stack,
    "Registrar",
    rest_api=api,
    authorizer=authorizer,
    stages=stages,
    protected_user_pool_arns=[operators.user_pool_arn],
    shared_api_stack_name=shared.stack_name,
)

registrar.grant_register(
    iam.Role(
        registrar_stack,
        "TenantPipeline",
        assumed_by=iam.ServicePrincipal("cloudformation.amazonaws.com"),
    )
)
registrar.grant_operate(
    iam.Role(registrar_stack, "Operators", assumed_by=iam.AccountRootPrincipal())
)

tenant = cdk.Stack(app, "TenantAcme", env=env)
pool = cognito.UserPool(tenant, "TenantUserPool", removal_policy=cdk.RemovalPolicy.DESTROY)
pool.add_client("AppClient", auth_flows=cognito.AuthFlow(user_srp=True))
UserPoolRegistration(
    tenant,
    "TenantPoolRegistration",
    registrar=AuthorizerPoolsRegistrar.from_stack_name(
        tenant, "SharedRegistrar", registrar_stack.stack_name
    ),
    user_pool=pool,
)
app.synth()
