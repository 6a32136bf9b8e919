// A CDK app as a platform team would write one: the shared API, the registrar for it, and one
// tenant registering its pool. Synthesized with AwsSolutions checks (cdk-nag) into the folder
// named by the first argument; tests/test_cdk.py reads what it writes.
//
//   node cdk/test/app.js OUTDIR [--without-example-acknowledgments]
const cdk = require('aws-cdk-lib');
const { aws_apigateway: apigateway, aws_cognito: cognito, aws_iam: iam } = cdk;
const { AwsSolutionsChecks } = require('cdk-nag');
const { AuthorizerPoolsRegistrar, UserPoolRegistration } = require('..');

const outdir = process.argv[2];
if (!outdir || outdir.startsWith('--')) {
  throw new Error('usage: node cdk/test/app.js OUTDIR [--without-example-acknowledgments]');
}
const app = new cdk.App({ outdir });
const env = { account: '123456789012', region: 'us-east-1' };

// The shared API: its authorizer trusts the operators' pool; tenants' pools are the registrar's.
const shared = new cdk.Stack(app, 'SharedApi', { env });
const operators = new cognito.UserPool(shared, 'OperatorsUserPool');
const api = new apigateway.RestApi(shared, 'Api', { deploy: false });
const authorizer = new apigateway.CognitoUserPoolsAuthorizer(shared, 'Authorizer', {
  cognitoUserPools: [operators],
});
api.root.addResource('orders').addMethod('GET', new apigateway.MockIntegration(), {
  authorizer,
  authorizationType: apigateway.AuthorizationType.COGNITO,
});
const deployment = new apigateway.Deployment(shared, 'Deployment', { api });
const stages = ['dev', 'prod'].map(
  (stageName) => new apigateway.Stage(shared, `Stage-${stageName}`, { deployment, stageName }),
);

const registrarStack = new cdk.Stack(app, 'Registrar', { env });
const registrar = new AuthorizerPoolsRegistrar(registrarStack, 'Registrar', {
  restApi: api,
  authorizer,
  stages,
  protectedUserPoolArns: [operators.userPoolArn],
  sharedApiStackName: shared.stackName,
});
const pipeline = new iam.Role(registrarStack, 'TenantPipeline', {
  assumedBy: new iam.ServicePrincipal('cloudformation.amazonaws.com'),
});
registrar.grantRegister(pipeline);
const operatorsRole = new iam.Role(registrarStack, 'Operators', {
  assumedBy: new iam.AccountRootPrincipal(),
});
registrar.grantOperate(operatorsRole);
new cdk.CfnOutput(registrarStack, 'FailedAnswersMetric', {
  value: JSON.stringify(registrarStack.resolve(registrar.metricAnswers('FAILED').toMetricConfig())),
});

// A tenant: its own pool, registered. The registrar is found by its stack's SSM parameter, so
// the tenant stack does not lock the registrar's export.
const tenant = new cdk.Stack(app, 'TenantAcme', { env });
const pool = new cognito.UserPool(tenant, 'TenantUserPool', {
  removalPolicy: cdk.RemovalPolicy.DESTROY,
});
pool.addClient('AppClient', { authFlows: { userSrp: true } });
const registration = new UserPoolRegistration(tenant, 'TenantPoolRegistration', {
  registrar: AuthorizerPoolsRegistrar.fromStackName(tenant, 'SharedRegistrar', registrarStack.stackName),
  userPool: pool,
});
new cdk.CfnOutput(tenant, 'RegisteredUserPoolArn', { value: registration.registeredUserPoolArn });

// The example's own shared API and pools are minimal on purpose: what a real one needs (access
// logs, WAF, a password policy, MFA) is the platform's choice, not the registrar's. Every
// finding on the registrar itself is acknowledged, with its reason, by the construct.
const exampleOnly = {
  'AwsSolutions-APIG1': 'example API: access logging is the platform team\'s choice',
  'AwsSolutions-APIG2': 'example API: one MOCK method with no request body',
  'AwsSolutions-APIG3': 'example API: WAF is the platform team\'s choice',
  'AwsSolutions-APIG6': 'example API: execution logging is the platform team\'s choice',
  'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs]':
    "example API: RestApi's own CloudWatch role",
  'AwsSolutions-COG1': "example pools: the tenant's password policy is the tenant's",
  'AwsSolutions-COG2': "example pools: MFA is the tenant's choice",
  'AwsSolutions-COG8': "example pools: the feature plan is the tenant's choice",
};
// (Without them, the checks must still find the example's gaps, and nothing of the registrar's.)
if (!process.argv.includes('--without-example-acknowledgments')) {
  for (const stack of [shared, tenant]) {
    for (const [id, reason] of Object.entries(exampleOnly)) {
      cdk.Validations.of(stack).acknowledge({ id, reason });
    }
  }
}
// CDK's own validation of the registrar's stack: the construct decides template.yaml's
// conditions at synthesis, so they are constant, and the template outgrows the validator's budget
// (cfn-lint checks the synthesized templates in tests/test_cdk.py). Acknowledged for this stack,
// which holds nothing else that has conditions.
for (const id of ['CloudFormation-Validate::W8003', 'CloudFormation-Validate::W9053']) {
  cdk.Validations.of(registrarStack).acknowledge({
    id,
    reason: "the registrar's conditions are decided at synthesis: constant, some alike",
  });
}
cdk.Validations.of(registrarStack).acknowledge({
  id: 'CloudFormation-Validate::W9052',
  reason: 'the registrar template outgrows the validation budget; cfn-lint checks it',
});
cdk.Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
app.synth();
