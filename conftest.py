"""The one place that knows about targets: options, the deployment fixture, capability skips.

Feature files never name a target; a scenario that needs a capability carries its tag (for
example ``@restart``), and the chosen target decides whether it can run it.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from harness.client import ApiClient
from harness.signals import signals_interrupt
from harness.targets import TARGETS, Endpoint, Target, TargetOptions, make_target
from harness.targets.base import TargetUnavailable

pytest_plugins = [
    "steps.common",
    "steps.status",
    "steps.update",
    "steps.logs",
    "steps.auth",
    "steps.persistence",
    "steps.teardown",
]

#: Scenario tags that name a capability the target must offer.
CAPABILITY_TAGS = ("restart",)


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("target", "where the scenarios run")
    group.addoption(
        "--target",
        choices=list(TARGETS),
        default="local",
        help="the deployment the scenarios run against (default: %(default)s)",
    )
    group.addoption("--base-url", help="the deployment to test with --target=url")
    group.addoption("--api-key", help="the API key of the deployment given by --base-url")
    group.addoption(
        "--keep", action="store_true", help="leave the deployment running after the tests"
    )
    group.addoption(
        "--reuse", action="store_true", help="test the deployment a previous --keep left"
    )


def pytest_configure(config: pytest.Config) -> None:
    # CI runners cancel with SIGTERM or SIGHUP: turn them into Ctrl-C so that every
    # fixture's teardown (and so every deployment's stop) still runs.
    signals_interrupt()


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    name = config.getoption("--target")
    target_class = TARGETS.get(name)
    for item in items:
        for capability in CAPABILITY_TAGS:
            if item.get_closest_marker(capability) is None:
                continue
            if target_class is None or capability not in target_class.capabilities:
                reason = (
                    f"the {config.getoption('--target')} target cannot {capability} the service"
                )
                item.add_marker(pytest.mark.skip(reason=reason))


@pytest.fixture(scope="session")
def target(pytestconfig: pytest.Config) -> Iterator[Target]:
    """The deployment under test, started once for the session and always stopped."""
    options = TargetOptions(
        base_url=pytestconfig.getoption("--base-url"),
        api_key=pytestconfig.getoption("--api-key"),
        keep=pytestconfig.getoption("--keep"),
        reuse=pytestconfig.getoption("--reuse"),
    )
    try:
        deployment = make_target(pytestconfig.getoption("--target"), options)
    except TargetUnavailable as exc:
        pytest.exit(str(exc), returncode=pytest.ExitCode.USAGE_ERROR)
    try:
        deployment.endpoint = deployment.start()
    except TargetUnavailable as exc:
        deployment.stop()
        pytest.exit(str(exc), returncode=pytest.ExitCode.USAGE_ERROR)
    try:
        yield deployment
    finally:
        deployment.stop()


@pytest.fixture(scope="session")
def endpoint(target: Target) -> Endpoint:
    """Where the deployment answers."""
    assert target.endpoint is not None
    return target.endpoint


@pytest.fixture
def client(endpoint: Endpoint) -> ApiClient:
    """A client of the deployment, holding its API key."""
    return ApiClient(endpoint.base_url, endpoint.api_key)
