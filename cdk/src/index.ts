import * as path from 'path';
import {
  CfnResource,
  CustomResource,
  Duration,
  Fn,
  Lazy,
  Stack,
  Token,
  Validations,
  aws_apigateway as apigateway,
  aws_cloudwatch as cloudwatch,
  aws_cognito as cognito,
  aws_iam as iam,
  aws_lambda as lambda,
  aws_s3_assets as s3_assets,
  aws_sns as sns,
  aws_ssm as ssm,
  cloudformation_include as cfn_include,
} from 'aws-cdk-lib';
import { Construct, IConstruct } from 'constructs';

/** The registrar's own template and code, made by `make cdk` from the repository's template.yaml
 * (scripts/cdk_template.py) and `make build`'s function.zip: one source of truth. */
const ASSETS = path.join(__dirname, '..', 'assets');
/** What template.yaml's function prints its metrics under (resource/authorizer_pools/metrics.py). */
const NAMESPACE = 'CognitoAuthorizerPools';
const DIMENSION = 'Registrar';
/** CloudFormation waits at most an hour for a custom resource's answer (ServiceTimeout). */
const SERVICE_TIMEOUT = Duration.hours(1);
/** template.yaml's stage slots (FillsStageSlot1..10): API Gateway's default stages per API. */
const STAGE_SLOTS = 10;
const OPERATOR_POLICIES = ['OperatorPolicy', 'OperatorStagePolicy'];

/** A registrar tenant stacks can register their user pools with. */
export interface IAuthorizerPoolsRegistrar extends IConstruct {
  /** The ServiceToken of Custom::AuthorizerUserPool resources: the registrar function's ARN. */
  readonly serviceToken: string;
}

export interface AuthorizerPoolsRegistrarProps {
  /** The shared REST API. */
  readonly restApi: apigateway.IRestApi;
  /** Its COGNITO_USER_POOLS authorizer, whose providerARNs the registrar manages. */
  readonly authorizer: apigateway.IAuthorizer;
  /** The stages redeployed (and their authorizer cache flushed) after every change; at most 10. */
  readonly stages: apigateway.IStage[];
  /** Pools no registration may name: the shared API's own operators' pool. An empty list says,
   * on purpose, that there is none. */
  readonly protectedUserPoolArns: string[];
  /** IAM ArnLike patterns of the pools registrations may add. @default - any pool of this account */
  readonly allowedUserPoolArns?: string[];
  /** Pools any registration may name (a pooled tier's pool). @default - none */
  readonly sharedUserPoolArns?: string[];
  /** The shared API's own stack: its updates start a repair run within seconds.
   * @default - none; changes are repaired on the schedule */
  readonly sharedApiStackName?: string;
  /** Where the six alarms notify. @default - alarms without actions */
  readonly alarmTopic?: sns.ITopic;
  /** EventBridge schedule expression of the repair run; '' for none. @default 'rate(5 minutes)' */
  readonly repairSchedule?: string;
  /** Concurrent executions reserved for (and capping) the function. @default - none */
  readonly reservedConcurrency?: number;
  /** DEBUG, INFO, WARNING or ERROR. @default 'INFO' */
  readonly logLevel?: string;
  /** Days the function's log group keeps its events (a value CloudWatch Logs allows). @default 90 */
  readonly logRetentionInDays?: number;
}

/**
 * The registrar for one shared REST API: template.yaml included as it is, its function's code
 * the released zip. Tenant stacks register their pools with `UserPoolRegistration`.
 */
export class AuthorizerPoolsRegistrar extends Construct implements IAuthorizerPoolsRegistrar {
  /** A registrar deployed elsewhere, by its ServiceToken. */
  public static fromServiceToken(scope: Construct, id: string, serviceToken: string): IAuthorizerPoolsRegistrar {
    return new ImportedRegistrar(scope, id, serviceToken);
  }

  /** A registrar deployed from template.yaml as the stack `stackName`, by the SSM parameter it
   * publishes its ServiceToken in (so the tenant stack does not lock the registrar's export). */
  public static fromStackName(scope: Construct, id: string, stackName: string): IAuthorizerPoolsRegistrar {
    const token = ssm.StringParameter.valueForStringParameter(
      scope,
      `/authorizer-pools/${stackName}/service-token`,
    );
    return new ImportedRegistrar(scope, id, token);
  }

  public readonly serviceToken: string;
  /** The registrar function. */
  public readonly function: lambda.IFunction;
  /** OperatorPolicy and OperatorStagePolicy: what `python -m authorizer_pools list|reconcile` needs. */
  public readonly operatorPolicies: iam.IManagedPolicy[];
  /** The template as included, for escape hatches (`template.getResource('Function')`). */
  public readonly template: cfn_include.CfnInclude;
  private readonly operatorRoles: iam.IRole[] = [];

  constructor(scope: Construct, id: string, props: AuthorizerPoolsRegistrarProps) {
    super(scope, id);
    if (props.stages.length === 0 || props.stages.length > STAGE_SLOTS) {
      throw new Error(`stages: ${props.stages.length} given; a registrar publishes 1 to 10 stages`);
    }
    // template.yaml's AllowedPattern for StageNames, which a substituted parameter skips: the
    // function would refuse the name at every request instead (settings.py).
    for (const stage of props.stages) {
      if (!Token.isUnresolved(stage.stageName) && !/^[A-Za-z0-9_-]{1,64}$/.test(stage.stageName)) {
        throw new Error(
          `stages: '${stage.stageName}' is not 1 to 64 letters, digits, hyphens or underscores`,
        );
      }
    }
    const others = Stack.of(this)
      .node.findAll()
      .filter((c) => c !== this && c instanceof AuthorizerPoolsRegistrar);
    if (others.length) {
      throw new Error(
        `${this.node.path}: ${others[0].node.path} is already a registrar of this stack; the ` +
          "registrar's template has fixed logical ids, so deploy each one in a stack of its own",
      );
    }
    const parameters: Record<string, unknown> = {
      RestApiId: props.restApi.restApiId,
      AuthorizerId: props.authorizer.authorizerId,
      StageNames: props.stages.map((stage) => stage.stageName),
      ProtectedUserPoolArns: props.protectedUserPoolArns.length ? props.protectedUserPoolArns : [''],
    };
    const optional: Record<string, unknown> = {
      AllowedUserPoolArns: props.allowedUserPoolArns,
      SharedUserPoolArns: props.sharedUserPoolArns,
      SharedApiStackName: props.sharedApiStackName,
      AlarmTopicArn: props.alarmTopic?.topicArn,
      RepairSchedule: props.repairSchedule,
      ReservedConcurrency: props.reservedConcurrency,
      LogLevel: props.logLevel,
      LogRetentionInDays: props.logRetentionInDays,
    };
    for (const [name, value] of Object.entries(optional)) {
      if (value !== undefined) {
        parameters[name] = value;
      }
    }
    this.template = new cfn_include.CfnInclude(this, 'Template', {
      templateFile: path.join(ASSETS, 'template.json'),
      parameters,
    });
    this.decideConditionsOnWhatWasGiven(props);
    const code = new s3_assets.Asset(this, 'Code', { path: path.join(ASSETS, 'function.zip') });
    const fn = this.template.getResource('Function');
    fn.addPropertyOverride('CodeUri', { Bucket: code.s3BucketName, Key: code.s3ObjectKey });

    this.serviceToken = Token.asString(fn.getAtt('Arn'));
    this.function = lambda.Function.fromFunctionAttributes(this, 'Function', {
      functionArn: this.serviceToken,
      sameEnvironment: true,
    });
    this.operatorPolicies = OPERATOR_POLICIES.map((logicalId) => {
      const policy = this.template.getResource(logicalId);
      // Attached from the policy's side, so that a role imported into this app is attached too
      // (Role.addManagedPolicy does nothing for an imported role).
      policy.addPropertyOverride(
        'Roles',
        Lazy.list({ produce: () => this.operatorRoles.map((role) => role.roleName) }, { omitEmpty: true }),
      );
      return iam.ManagedPolicy.fromManagedPolicyArn(this, logicalId, policy.ref);
    });
    this.acknowledgeWhatTheTemplateMeans();
  }

  /** The template's wildcards are its design, each bounded by a condition or a partition: say
   * why to cdk-nag (AwsSolutions) and to CDK's own template validation, resource by resource. */
  private acknowledgeWhatTheTemplateMeans(): void {
    const allowedPools =
      'AwsSolutions-IAM5[Resource::{"Fn::If":["AllowsOnlyThisAccount",{"Fn::Sub":"arn:${AWS::Partition}:' +
      'cognito-idp:*:${AWS::AccountId}:userpool/*"},{"Ref":"AllowedUserPoolArns"}]}]';
    const poolsReason =
      'DescribeUserPool on the pools registrations may name (AllowedUserPoolArns, by default this ' +
      "account's): tenants create their pools after the registrar, so no list of ARNs exists.";
    for (const logicalId of ['FunctionRole', 'OperatorPolicy']) {
      Validations.of(this.template.getResource(logicalId)).acknowledge({ id: allowedPools, reason: poolsReason });
    }
    Validations.of(this.template.getResource('FunctionRole')).acknowledge({
      id: 'AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:cloudformation:<AWS::Region>:<AWS::AccountId>:stack/*/*]',
      reason:
        'Read-only DescribeStackResource/DescribeStacks/ListStackResources on the stack a request ' +
        'names: every request is checked against CloudFormation, and any tenant stack may send one.',
    });
    Validations.of(this.template.getResource('OperatorPolicy')).acknowledge({
      id: 'AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:cloudformation:<AWS::Region>:<AWS::AccountId>:stack/<AWS::StackName>/*]',
      reason: "DescribeStacks on the registrar's own stack, whose id suffix is known only after creation.",
    });
    for (const alarm of [
      'FailedAnswersAlarm',
      'RepairsAlarm',
      'FunctionErrorsAlarm',
      'ForgedRequestsAlarm',
      'UnrequestedRemovalsAlarm',
      'LastPoolKeptAlarm',
    ]) {
      // Read as one rule or the other, depending on how far the validator's budget goes.
      for (const id of ['CloudFormation-Validate::W1030', 'CloudFormation-Validate::F3033']) {
        Validations.of(this.template.getResource(alarm)).acknowledge({
          id,
          reason: 'AlarmActions is the topic only under Fn::If NotifiesATopic; an empty AlarmTopicArn gives no action.',
        });
      }
    }
  }

  /** Let a tenant pipeline (or its CloudFormation service role) register pools: Invoke of the
   * function itself only (not of its versions or its `repair` alias). */
  public grantRegister(grantee: iam.IGrantable): iam.Grant {
    return iam.Grant.addToPrincipal({
      grantee,
      actions: ['lambda:InvokeFunction'],
      resourceArns: [this.serviceToken],
    });
  }

  /** Attach the operator policies to a role of people or pipelines trusted to deploy the API
   * (a role of this app or an imported one). */
  public grantOperate(role: iam.IRole): void {
    this.operatorRoles.push(role);
  }

  /**
   * template.yaml's conditions on the parameters this construct fills in, decided here: their
   * values are the constructs' tokens (a stage's Ref, a pool's GetAtt, an Fn::ImportValue across
   * stacks), which CloudFormation does not allow in Conditions. What was given decides them.
   */
  private decideConditionsOnWhatWasGiven(props: AuthorizerPoolsRegistrarProps): void {
    const decided: Record<string, boolean> = {
      ProtectsPools: props.protectedUserPoolArns.length > 0,
    };
    for (let slot = 1; slot <= STAGE_SLOTS; slot++) {
      decided[`FillsStageSlot${slot}`] = slot <= props.stages.length;
    }
    if (props.allowedUserPoolArns !== undefined) {
      decided.AllowsOnlyThisAccount = props.allowedUserPoolArns.length === 0;
    }
    if (props.alarmTopic !== undefined) {
      decided.NotifiesATopic = true;
    }
    if (props.sharedApiStackName !== undefined) {
      decided.WatchesSharedApiStack = props.sharedApiStackName !== '';
    }
    if (props.repairSchedule !== undefined) {
      decided.RepairsOnSchedule = props.repairSchedule !== '';
    }
    if (props.reservedConcurrency !== undefined) {
      decided.ReservesConcurrency = props.reservedConcurrency !== 0;
    }
    for (const [name, holds] of Object.entries(decided)) {
      this.template.getCondition(name).expression = Fn.conditionEquals(holds ? 'given' : 'not given', 'given');
    }
  }

  /** One of the metrics the function prints (CognitoAuthorizerPools, per registrar). */
  public metric(metricName: string, props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return new cloudwatch.Metric({
      namespace: NAMESPACE,
      metricName,
      ...props,
      dimensionsMap: { [DIMENSION]: this.function.functionName, ...props?.dimensionsMap },
    });
  }

  /** Answers to CloudFormation with this status (SUCCESS or FAILED), summed. */
  public metricAnswers(status: string, props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.metric('Answers', { statistic: 'Sum', ...props, dimensionsMap: { Status: status } });
  }

  /** Seconds from a request to its change live on every stage. */
  public metricSecondsToLive(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.metric('SecondsToLive', { statistic: 'p99', ...props });
  }

  /** Invocations that were not CloudFormation's, refused. */
  public metricForgedRequests(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.metric('ForgedRequests', { statistic: 'Sum', ...props });
  }
}

class ImportedRegistrar extends Construct implements IAuthorizerPoolsRegistrar {
  constructor(scope: Construct, id: string, public readonly serviceToken: string) {
    super(scope, id);
  }
}

export interface UserPoolRegistrationProps {
  /** The registrar of the shared API. */
  readonly registrar: IAuthorizerPoolsRegistrar;
  /** The tenant's pool. It must be declared in this registration's own stack, unless it is one
   * of the registrar's sharedUserPoolArns (then set `sharedPool`). */
  readonly userPool: cognito.IUserPool;
  /** The pool is one of the registrar's sharedUserPoolArns, declared elsewhere. @default false */
  readonly sharedPool?: boolean;
  /** A subset of the registrar's stages to wait for. @default - all of them */
  readonly stageNames?: string[];
  /** How long CloudFormation waits for the answer: on a launch day API Gateway's quotas can keep
   * a registration waiting longer than one Lambda invocation. @default Duration.hours(1) */
  readonly serviceTimeout?: Duration;
}

/**
 * A tenant's user pool, trusted by the shared API's authorizer while this resource exists: a
 * Custom::AuthorizerUserPool answered once the pool is live on every stage.
 */
export class UserPoolRegistration extends Construct {
  /** The pool the authorizer trusts, as the registrar registered it. */
  public readonly registeredUserPoolArn: string;

  constructor(scope: Construct, id: string, props: UserPoolRegistrationProps) {
    super(scope, id);
    if (!declaredIn(Stack.of(this), props.userPool) && !props.sharedPool) {
      throw new Error(
        `userPool ${props.userPool.node.path}: the registrar accepts only a pool declared in the ` +
          "registering stack; declare it in this stack, or list it in the registrar's " +
          'sharedUserPoolArns and set sharedPool: true',
      );
    }
    const resource = new CustomResource(this, 'Resource', {
      serviceToken: props.registrar.serviceToken,
      resourceType: 'Custom::AuthorizerUserPool',
      serviceTimeout: props.serviceTimeout ?? SERVICE_TIMEOUT,
      properties: {
        UserPoolArn: props.userPool.userPoolArn,
        ...(props.stageNames ? { StageNames: props.stageNames } : {}),
      },
    });
    this.registeredUserPoolArn = resource.getAttString('UserPoolArn');
  }
}

/** Whether the pool's ARN is the Arn of an AWS::Cognito::UserPool resource of `stack` itself
 * (an L2 UserPool, or an L1 CfnUserPool however it is wrapped): what the registrar will check
 * against CloudFormation. By the template it renders to, not by class, so that it holds when the
 * app and this library load two copies of aws-cdk-lib. */
function declaredIn(stack: Stack, userPool: cognito.IUserPool): boolean {
  const arn = stack.resolve(userPool.userPoolArn);
  const attribute = arn?.['Fn::GetAtt'];
  if (!Array.isArray(attribute) || attribute[1] !== 'Arn') {
    return false;
  }
  return stack.node
    .findAll()
    .some(
      (c) =>
        CfnResource.isCfnResource(c) &&
        c.cfnResourceType === 'AWS::Cognito::UserPool' &&
        Stack.of(c) === stack &&
        stack.getLogicalId(c) === attribute[0],
    );
}
