"""Register tenants' Cognito user pools on one shared API Gateway authorizer.

A CloudFormation custom resource (``Custom::AuthorizerUserPool``): each tenant stack declares one
registration per user pool; the function adds the pool's ARN to the authorizer's ``providerARNs``
on Create, removes it on Delete, and redeploys the named stages so the change is live before
CloudFormation hears SUCCESS.
"""

# The one place the version is written: pyproject.toml reads it, every step the function
# logs carries it, and template.yaml's Version output repeats it (a test keeps the two equal).
__version__ = "0.3.0"
