"""EventBridge rules with CloudTrail and CloudFormation as their sources."""
