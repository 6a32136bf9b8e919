"""The local AWS's own fixtures: one LocalAws per session, and the environment that points
unmodified boto3 at it (``AWS_ENDPOINT_URL`` and test credentials), set for this process."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from localaws.server import LocalAws


@pytest.fixture(scope="session")
def local_aws() -> Iterator[LocalAws]:
    with LocalAws() as aws:
        yield aws


@pytest.fixture(scope="session")
def aws_environment(local_aws: LocalAws) -> Iterator[dict[str, str]]:
    environment = local_aws.env()
    with pytest.MonkeyPatch.context() as patch:
        for name, value in environment.items():
            patch.setenv(name, value)
        yield environment
