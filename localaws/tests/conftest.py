"""The local AWS's own fixtures: one LocalAws per test module, and the environment that points
unmodified boto3 at it (``AWS_ENDPOINT_URL`` and test credentials), set for this process while
the module runs.

Per module, not per session: ``make test`` runs test files on several workers, and a worker may
run the project's tests (tests/conftest.py, with their own LocalAws and environment) after these.
A session-wide environment pointing at this LocalAws would outlive its module and send a later
test's function, and its continuations, to the wrong local AWS."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from localaws.server import LocalAws


@pytest.fixture(scope="module")
def local_aws() -> Iterator[LocalAws]:
    with LocalAws() as aws:
        yield aws


@pytest.fixture(scope="module")
def aws_environment(local_aws: LocalAws) -> Iterator[dict[str, str]]:
    environment = local_aws.env()
    with pytest.MonkeyPatch.context() as patch:
        for name, value in environment.items():
            patch.setenv(name, value)
        yield environment
