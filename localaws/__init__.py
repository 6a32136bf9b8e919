"""localaws: a strict local stand-in for the AWS services this project talks to.

The pieces, one module per concern:

- ``apigateway_ext``: installs into moto's API Gateway models the documented behaviour the
  custom resource relies on, made of: ``apigateway_authorizers`` (per-ARN ``/providerARNs``
  patches), ``apigateway_deployments`` (CreateDeployment keeping the stage, what a stage
  serves), ``apigateway_snapshots`` (each deployment's copy of the API), ``apigateway_canary``
  and ``apigateway_stage_updates`` (canary releases, UpdateStage), on ``apigateway_state`` (the
  model lock). ``apigateway_flush`` (FlushStageAuthorizersCache) and ``apigateway_export``
  (GetExport of a stage) answer in moto's place.
- ``control_plane``: a WSGI middleware that models API Gateway's control plane, made of:
  ``routes`` (which call a request is: service, region, account, operation), ``quotas``
  (per-account token buckets), ``conflicts`` (409 on concurrent modification), ``faults``
  (injected faults and stalls), ``journal`` (counters and a call journal) and ``dispatch`` (who
  answers: ``apigateway_flush``, ``apigateway_export``, ``lambda_async`` or moto), on ``clocks``
  (injectable time).
- ``server``: ``LocalAws``, moto's server app behind that middleware on a loopback port, and
  the data plane on another.
- ``dataplane``: API Gateway's data plane: each stage served, requests authorized by
  COGNITO_USER_POOLS authorizers against what the stage's deployment lists, on
  ``authorizer_cache`` (results per authorizer and token until the TTL or a flush).
  ``users`` is a tenant's user: signs in to a pool and calls a stage.
- ``dynamodb_ext``: DynamoDB transactions as cheap as DynamoDB's, and its TTL process.
- ``cloudformation_ext``: DescribeStacks reports list parameters as given (``dev,prod``).
- ``lambda_async``: Lambda's asynchronous Invoke: later, at least once, sometimes late.
- ``cloudformation``: CloudFormation's side of the custom-resource protocol, with the event
  shapes in ``events/``.
- ``response_receiver``: CloudFormation's side of the pre-signed ResponseURL, over real HTTPS.
- ``lambda_runtime``: invokes a handler the way AWS Lambda's Python runtime does
  (``lambda_bootstrap`` is its child-side script and imports nothing from this package).
- ``wire``: AWS error answers in each protocol's wire format, as botocore parses them.

Where AWS behaviour is not documented, these modules refuse rather than forgive: an emulator
kinder than AWS hides bugs. Each module cites the AWS documentation for what it reproduces.
The demo and the shared example API it stands up live beside ``smoke/``, in ``demo/``.
"""

from __future__ import annotations
