"""Schemathesis holds a real server to its own OpenAPI document, every check on (the default):
no 5xx, no undocumented status, no response outside its schema, schema-valid input accepted,
schema-invalid input refused, and with a key configured, no update without it.

Bounded: a fixed number of examples per operation and a fixed seed, so a failure reproduces
with the command the output shows (``st run ... --seed``).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.targets.process import ServiceProcess
from tests.live import running_server, server_output

pytestmark = pytest.mark.slow  # a real server

REPO_ROOT = Path(__file__).resolve().parents[1]
CONFIG = REPO_ROOT / "tests" / "schemathesis.toml"
MAX_EXAMPLES = 150
SEED = 20261126
TIME_LIMIT = 240  # seconds; a run takes about 10 s here


def schemathesis_cli() -> str:
    beside_python = Path(sys.executable).parent / "st"
    if beside_python.exists():
        return str(beside_python)
    found = shutil.which("st")
    if found is None:
        pytest.fail("the Schemathesis CLI (st) is not installed: scripts/bootstrap.sh installs it")
    return found


@pytest.fixture(params=["with-key", "without-key"])
def server(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[ServiceProcess]:
    with running_server(tmp_path, auth=request.param == "with-key") as running:
        yield running


def test_the_service_keeps_to_its_openapi_document(server: ServiceProcess, tmp_path: Path) -> None:
    command = [schemathesis_cli(), "--config-file", str(CONFIG), "run"]
    command += [f"{server.base_url}/openapi.json"]
    if server.api_key:
        command += ["-H", f"X-API-KEY: {server.api_key}"]
    command += [
        "--max-examples",
        str(MAX_EXAMPLES),
        "--seed",
        str(SEED),
        "--workers",
        "2",
        "--request-timeout",
        "10",
        "--generation-database",
        "none",
        "--no-color",
    ]
    hooks = {"SCHEMATHESIS_HOOKS": "tests.schemathesis_hooks", "PYTHONPATH": str(REPO_ROOT)}
    result = subprocess.run(
        command,
        cwd=tmp_path,
        env={**os.environ, **hooks},
        capture_output=True,
        text=True,
        timeout=TIME_LIMIT,
        check=False,
    )
    report = f"{' '.join(command)}\n{result.stdout}\n{result.stderr}\n{server_output(server)}"
    assert result.returncode == 0, report
    assert "Traceback" not in server_output(server), report
