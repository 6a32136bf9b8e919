"""API Gateway's data plane: stages served, Cognito tokens authorized, results cached."""
