"""Where the scenarios meet the targets: the options, the deployment fixture, capability skips.

Feature files never name a target; a scenario that needs a capability carries its tag (for
example ``@restart``), and the chosen target decides whether it can run it.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Literal

import pytest
from pytest_bdd.scenario import scenario_wrapper_template_registry

from harness import ci
from harness.client import ApiClient
from harness.paths import RUNS_DIR
from harness.run_ids import check_new_run_id
from harness.runs import TTL_MINUTES_MAX, TTL_MINUTES_MIN, ttl_minutes
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

#: The plugin that writes the report (it attaches each deployment's life once it is stopped).
REPORT_PLUGIN = "harness.report.plugin"
pytest_plugins = [
    "steps.common",
    "steps.status",
    "steps.update",
    "steps.logs",
    "steps.auth",
    "steps.persistence",
    "steps.teardown",
    "steps.errors",
    "steps.infrastructure",
    REPORT_PLUGIN,
    # pytest-xdist's --dist loadgroup (scripts/test.sh), made to work on pytest 9.2.
    "tests.xdist_loadgroup",
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
        "--reboot-timeout",
        type=float,
        help="aws: seconds a reboot (the restart scenario) may take until the service answers "
        "again (default: 360; rehearsed: 90)",
    )
    group.addoption(
        "--teardown-timeout",
        type=float,
        help="aws: seconds to wait for destroyed resources to disappear (default: 180)",
    )
    group.addoption(
        "--ttl-minutes",
        type=ttl_minutes,
        help=f"aws: the instance terminates itself this many minutes after its first boot, "
        f"{TTL_MINUTES_MIN} to {TTL_MINUTES_MAX} (default: terraform/'s ttl_minutes, 120)",
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
    ci_output = _terminal_writer(pytestconfig, "stdout")
    # --api-key="" (an unset $API_KEY) means the deployment has no key.
    api_key = pytestconfig.getoption("--api-key") or None
    ci.mask(api_key, write=ci_output)
    options = TargetOptions(
        base_url=pytestconfig.getoption("--base-url"),
        api_key=api_key,
        keep=pytestconfig.getoption("--keep"),
        reuse=pytestconfig.getoption("--reuse"),
        region=pytestconfig.getoption("--region"),
        allowed_cidrs=tuple(pytestconfig.getoption("--allowed-cidr")),
        health_timeout=pytestconfig.getoption("--health-timeout"),
        reboot_timeout=pytestconfig.getoption("--reboot-timeout"),
        teardown_timeout=pytestconfig.getoption("--teardown-timeout"),
        ttl_minutes=pytestconfig.getoption("--ttl-minutes"),
        runs_dir=pytestconfig.getoption("--runs-dir"),
        rehearse=pytestconfig.getoption("--rehearse"),
        emulator_url=pytestconfig.getoption("--emulator-url"),
        progress=_terminal_writer(pytestconfig, "stderr"),
        ci_output=ci_output,
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
    finally:
        # Stopped and checked, or never started: what it went through goes to the report
        # (the plugin as pytest loaded it: importing it here would keep pytest from rewriting
        # its asserts).
        report = pytestconfig.pluginmanager.get_plugin(REPORT_PLUGIN)
        if report is not None:
            report.attach_life(pytestconfig, deployment)


def _terminal_writer(
    config: pytest.Config, stream: Literal["stdout", "stderr"]
) -> Callable[[str], None]:
    """A line writer to ``stream`` that pytest's output capture does not swallow: progress on
    stderr, and on stdout the workflow commands a CI runner reads there."""
    capture = config.pluginmanager.get_plugin("capturemanager")

    def write(line: str) -> None:
        if capture is None:
            print(line, file=getattr(sys, stream), flush=True)
            return
        with capture.global_and_fixture_disabled():
            # Looked up inside the block: sys.stdout and sys.stderr are the real ones there.
            print(line, file=getattr(sys, stream), flush=True)

    return write


@pytest.fixture(scope="session")
def endpoint(target: Target) -> Endpoint:
    """Where the deployment answers."""
    return target.endpoint


@pytest.fixture
def client(endpoint: Endpoint) -> ApiClient:
    """A client of the deployment, holding its API key."""
    return ApiClient(endpoint.base_url, endpoint.api_key)
