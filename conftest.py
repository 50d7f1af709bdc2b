"""Where the scenarios meet the targets: the options, the deployment fixture, capability skips.

Feature files never name a target; a scenario that needs a capability carries its tag (for
example ``@restart``), and the chosen target decides whether it can run it.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from pytest_bdd.scenario import scenario_wrapper_template_registry

from harness.client import ApiClient
from harness.paths import RUNS_DIR
from harness.run_ids import check_new_run_id
from harness.signals import signals_interrupt
from harness.targets import (
    RESTART,
    TARGETS,
    TEARDOWN,
    Endpoint,
    StartFailed,
    StopFailed,
    Target,
    TargetOptions,
    TargetUnavailable,
    make_target,
)

pytest_plugins = [
    "steps.common",
    "steps.status",
    "steps.update",
    "steps.logs",
    "steps.auth",
    "steps.persistence",
    "steps.teardown",
    "steps.infrastructure",
    "harness.report.plugin",
]

#: Scenario tags that name a capability the target must offer.
CAPABILITY_TAGS = (RESTART, TEARDOWN)
#: The features whose scenarios start no deployment (they read terraform/): not slow.
NO_DEPLOYMENT = frozenset({"infrastructure.feature"})


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
    group.addoption("--region", help="aws: the region to deploy to (default: $AWS_REGION)")
    group.addoption(
        "--allowed-cidr",
        action="append",
        default=[],
        help="aws: a CIDR allowed to reach the API (repeatable; default: this machine's /32)",
    )
    group.addoption(
        "--health-timeout",
        type=float,
        help="aws: seconds the first boot may take to answer /health (default: 900)",
    )
    group.addoption(
        "--teardown-timeout",
        type=float,
        help="aws: seconds to wait for destroyed resources to disappear (default: 180)",
    )
    group.addoption(
        "--runs-dir",
        type=Path,
        help="aws: where each run keeps its Terraform working copy and state (default: .runs)",
    )
    group.addoption(
        "--rehearse",
        action="store_true",
        help="aws: rehearse offline: real Terraform against an AWS emulator, the instance's "
        "first boot in a sandbox container (needs Docker; no AWS account)",
    )
    group.addoption(
        "--run-id",
        help="the run's id, carried by everything it makes: 1-40 letters, digits or ._- "
        "(e.g. gh-123456789-1; default: a new one). aws: refused when its directory exists",
    )
    group.addoption(
        "--emulator-url",
        help="aws --rehearse: the AWS emulator to use (default: one started for the session; "
        "python -m harness.rehearsal.emulator starts one that outlives it, for --keep)",
    )


def pytest_configure(config: pytest.Config) -> None:
    # CI runners cancel with SIGTERM or SIGHUP: turn them into Ctrl-C so that every
    # fixture's teardown (and so every deployment's stop) still runs.
    signals_interrupt()
    run_id = config.getoption("--run-id")
    if run_id is not None:
        try:
            check_new_run_id(run_id, config.getoption("--runs-dir") or RUNS_DIR)
        except ValueError as exc:
            raise pytest.UsageError(f"--run-id: {exc}") from None


@pytest.hookimpl(tryfirst=True)  # before -m deselects by marker
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    kind = TARGETS[config.getoption("--target")]
    for item in items:
        if _needs_a_deployment(item):
            item.add_marker(pytest.mark.slow)
        for capability in CAPABILITY_TAGS:
            reason = kind.why_not(capability)
            if reason and item.get_closest_marker(capability) is not None:
                item.add_marker(pytest.mark.skip(reason=reason))


def _needs_a_deployment(item: pytest.Item) -> bool:
    """Whether a scenario runs against a deployment (all but those that read terraform/)."""
    function = getattr(item, "obj", None)
    scenario = scenario_wrapper_template_registry.get(function) if callable(function) else None
    return scenario is not None and Path(scenario.feature.filename).name not in NO_DEPLOYMENT


@pytest.fixture(scope="session")
def target(pytestconfig: pytest.Config) -> Iterator[Target]:
    """The deployment under test, started once for the session and always stopped."""
    options = TargetOptions(
        base_url=pytestconfig.getoption("--base-url"),
        # --api-key="" (an unset $API_KEY) means the deployment has no key.
        api_key=pytestconfig.getoption("--api-key") or None,
        keep=pytestconfig.getoption("--keep"),
        reuse=pytestconfig.getoption("--reuse"),
        region=pytestconfig.getoption("--region"),
        allowed_cidrs=tuple(pytestconfig.getoption("--allowed-cidr")),
        health_timeout=pytestconfig.getoption("--health-timeout"),
        teardown_timeout=pytestconfig.getoption("--teardown-timeout"),
        runs_dir=pytestconfig.getoption("--runs-dir"),
        rehearse=pytestconfig.getoption("--rehearse"),
        emulator_url=pytestconfig.getoption("--emulator-url"),
        progress=_terminal_writer(pytestconfig),
        **({"run_id": run_id} if (run_id := pytestconfig.getoption("--run-id")) else {}),
    )
    try:
        deployment = make_target(pytestconfig.getoption("--target"), options)
    except TargetUnavailable as exc:
        pytest.exit(str(exc), returncode=pytest.ExitCode.USAGE_ERROR)
    try:
        with deployment.deployed():
            yield deployment
    except StartFailed as exc:
        if exc.unavailable:
            pytest.exit(str(exc), returncode=pytest.ExitCode.USAGE_ERROR)
        pytest.fail(str(exc), pytrace=False)
    except StopFailed as exc:
        pytest.fail(str(exc), pytrace=False)


def _terminal_writer(config: pytest.Config) -> Callable[[str], None]:
    """A line writer to the terminal that pytest's output capture does not swallow."""
    capture = config.pluginmanager.get_plugin("capturemanager")

    def write(line: str) -> None:
        if capture is None:
            print(line, file=sys.stderr, flush=True)
            return
        with capture.global_and_fixture_disabled():
            print(line, file=sys.stderr, flush=True)

    return write


@pytest.fixture(scope="session")
def endpoint(target: Target) -> Endpoint:
    """Where the deployment answers."""
    return target.endpoint


@pytest.fixture
def client(endpoint: Endpoint) -> ApiClient:
    """A client of the deployment, holding its API key."""
    return ApiClient(endpoint.base_url, endpoint.api_key)
