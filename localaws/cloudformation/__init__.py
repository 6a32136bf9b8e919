"""CloudFormation's side of the custom-resource protocol, its records and its reads."""
