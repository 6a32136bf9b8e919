"""localaws: a strict local stand-in for the AWS services this project talks to.

One subpackage per service, one module per concern, and the harness beside them:

- ``apigateway``: moto's API Gateway models with the documented behaviour they lack
  (``patches`` installs ``authorizers``, ``deployments``, ``snapshots``, ``canary``,
  ``stage_updates`` over ``state``), and the calls answered in moto's place (``flush``,
  ``export``).
- ``middleware``: API Gateway's control plane as a WSGI middleware in front of moto
  (``control_plane``): ``routes``, ``quotas``, ``conflicts``, ``faults``, ``journal``,
  ``dispatch``, on ``clocks``.
- ``dataplane``: every stage served, requests authorized by COGNITO_USER_POOLS authorizers
  against what the stage's deployment lists (``gateway``, ``cache``); ``users`` signs a tenant's
  user in and calls a stage.
- ``cloudformation``: CloudFormation's side of the custom-resource protocol (``stacks``, with
  the event shapes in ``events/``), its record of each stack (``records``), the pre-signed
  ResponseURL over real HTTPS (``response_receiver``), and DescribeStacks as CloudFormation
  reports parameters (``patches``).
- ``awslambda``: a handler run the way AWS Lambda's Python runtime runs it (``runtime``, with
  ``bootstrap`` the child's own script), and asynchronous Invoke (``async_invoke``).
- ``dynamodb``: transactions as cheap as DynamoDB's, and its TTL process (``model``).
- ``eventbridge``: rules that send CloudTrail's and CloudFormation's events to a Lambda target.
- ``server``: ``LocalAws``, moto's server app behind the middleware on a loopback port, and the
  data plane on another; ``wire``: AWS error answers in each protocol's wire format.
- ``moto_gaps``: every documented AWS behaviour moto lacks that this package reproduces, in
  one table, with ``install()``.

Where AWS behaviour is not documented, these modules refuse rather than forgive: an emulator
kinder than AWS hides bugs. Each module cites the AWS documentation for what it reproduces.
Nothing here knows the product: the resource type, the property naming a pool and the
function's clock are parameters (``demo/world.py`` passes them).
"""

from __future__ import annotations
