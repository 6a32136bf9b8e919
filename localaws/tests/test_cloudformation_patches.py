"""DescribeStacks reports each parameter as CloudFormation does: the string it was given, list
types included (moto renders the Python list it resolved them to)."""

from __future__ import annotations

import json

import boto3


def test_list_parameters_read_back_as_given(aws_environment: dict[str, str]) -> None:
    cloudformation = boto3.client("cloudformation")
    parameters = {"Stages": "dev,prod", "Ports": "80,443", "Name": "registrar", "Secret": "s3cr3t"}
    cloudformation.create_stack(
        StackName="list-parameters",
        TemplateBody=json.dumps(
            {
                "Parameters": {
                    "Stages": {"Type": "CommaDelimitedList"},
                    "Ports": {"Type": "List<Number>"},
                    "Name": {"Type": "String"},
                    "Secret": {"Type": "String", "NoEcho": True},
                },
                "Resources": {"Topic": {"Type": "AWS::SNS::Topic"}},
            }
        ),
        Parameters=[{"ParameterKey": k, "ParameterValue": v} for k, v in parameters.items()],
    )

    (stack,) = cloudformation.describe_stacks(StackName="list-parameters")["Stacks"]

    shown = {p["ParameterKey"]: p["ParameterValue"] for p in stack["Parameters"]}
    assert shown == {"Stages": "dev,prod", "Ports": "80,443", "Name": "registrar", "Secret": "****"}
