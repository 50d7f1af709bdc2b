"""The spec is held to planted faults: with a proxy in front of a healthy service breaking one
promise of the README at a time (tests/fault_proxy.py), the scenarios of features/ must fail,
and with no fault they must pass.

Each fault runs the scenarios in a nested pytest session (``--target=url`` at the proxy),
stopping at the first failure, the features that state the promise first. Faults that need no
key run against a service without one and a session given no key, as the spec runs against any
deployment whose key it is not told (the auth scenarios are skipped there): such a fault must
be caught without them. Two services serve every fault, one with a key and one without.
"""

from __future__ import annotations

import subprocess
import sys
import xml.etree.ElementTree as ElementTree  # nosec B405 - our own pytest's report
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest

from harness.paths import REPO_ROOT
from tests.fault_proxy import Fault, FaultProxy, faults
from tests.live import running_server

pytestmark = pytest.mark.slow  # real servers, and nested pytest sessions

#: The key of the keyed service: a test double's, on loopback only.
API_KEY = "Fault-Proxy-Key-0123456789abcdefgh"
#: The feature modules that run against a deployment (infrastructure reads terraform/ only,
#: persistence and teardown need a target that a URL is not).
SERVICE_FEATURES = (
    "test_update.py",
    "test_logs.py",
    "test_status.py",
    "test_errors.py",
    "test_auth.py",
)
FAULTS = faults(API_KEY)


@dataclass(frozen=True)
class SpecRun:
    """What a nested session of the spec said: its exit code, and each failed scenario with
    the first line of its failure."""

    exit_code: int
    failures: list[tuple[str, str]]
    output: str


def proxied(workdir: Path, api_key: str | None) -> Iterator[FaultProxy]:
    with running_server(workdir, api_key, auth=api_key is not None) as server:
        yield from FaultProxy(server.base_url).serving()


@pytest.fixture(scope="module")
def keyed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FaultProxy]:
    yield from proxied(tmp_path_factory.mktemp("keyed"), API_KEY)


@pytest.fixture(scope="module")
def keyless(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FaultProxy]:
    yield from proxied(tmp_path_factory.mktemp("keyless"), None)


def run_spec(proxy: FaultProxy, api_key: str | None, first: Sequence[str], report: Path) -> SpecRun:
    modules = [*first, *(module for module in SERVICE_FEATURES if module not in first)]
    command = [sys.executable, "-m", "pytest", *(f"features/{module}" for module in modules)]
    command += ["--target=url", f"--base-url={proxy.base_url}", "-x", "-q"]
    command += ["-p", "no:cacheprovider", f"--junitxml={report}"]
    if api_key is not None:
        command.append(f"--api-key={api_key}")
    finished = subprocess.run(  # nosec B603 - this interpreter, fixed arguments
        command, cwd=REPO_ROOT, capture_output=True, text=True, timeout=600, check=False
    )
    failures = []
    if report.exists():
        for case in ElementTree.parse(report).iter("testcase"):  # nosec B314 - our own file
            for failure in case.iter("failure"):
                message = (failure.get("message") or "").splitlines()
                failures.append((case.get("name", "?"), message[0] if message else ""))
    return SpecRun(finished.returncode, failures, finished.stdout[-3000:] + finished.stderr[-2000:])


#: Failures that say the deployment could not be reached at all: a broken proxy or a dead
#: service, not a broken promise.
UNREACHABLE = ("ConnectionError", "ConnectTimeout", "ReadTimeout", "NotHealthy")


def caught(run: SpecRun) -> bool:
    """The spec failed on a scenario whose service answered: an assertion, or an answer a
    step could not use (an error status, a body that is not JSON), never one it never got."""
    return (
        run.exit_code == pytest.ExitCode.TESTS_FAILED
        and bool(run.failures)
        and not any(word in message for _, message in run.failures for word in UNREACHABLE)
    )


@pytest.mark.parametrize("with_key", [True, False], ids=["keyed", "keyless"])
def test_the_spec_passes_with_no_fault(
    keyed: FaultProxy, keyless: FaultProxy, with_key: bool, tmp_path: Path
) -> None:
    proxy = keyed if with_key else keyless
    proxy.fault = None
    run = run_spec(proxy, API_KEY if with_key else None, SERVICE_FEATURES, tmp_path / "r.xml")
    assert run.exit_code == pytest.ExitCode.OK, run.output


@pytest.mark.parametrize("fault", FAULTS, ids=[fault.name for fault in FAULTS])
def test_the_spec_catches_the_fault(
    keyed: FaultProxy, keyless: FaultProxy, fault: Fault, tmp_path: Path
) -> None:
    proxy = keyed if fault.needs_key else keyless
    proxy.fault = fault
    try:
        run = run_spec(
            proxy, API_KEY if fault.needs_key else None, fault.features, tmp_path / "r.xml"
        )
    finally:
        proxy.fault = None
    assert caught(run), f"{fault.name} ({fault.breaks}) got through:\n{run.output}"
    print(f"{fault.name}: caught by {run.failures[0][0]}: {run.failures[0][1][:200]}")
