"""``--dist loadgroup`` keeps each ``xdist_group`` on one worker (tests/xdist_loadgroup.py), as
scripts/test.sh's rehearsal relies on: tests/test_ci_role.py's deployment is a module fixture."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

import pytest

from harness.paths import REPO_ROOT

pytestmark = pytest.mark.slow  # a nested session with two workers

GROUPED = """
import pytest

pytestmark = pytest.mark.xdist_group("together")


@pytest.mark.parametrize("n", range(4))
def test_param(n):
    pass


def test_plain():
    pass


@pytest.mark.xdist_group(name="apart")
def test_other_group():
    pass
"""


def workers_of(tmp_path: Path, *plugin: str) -> dict[str, set[str]]:
    """Each test's id (without its group) mapped to the workers that ran it, in a nested
    ``pytest -n 2 --dist loadgroup`` of GROUPED, with our plugin or without it."""
    (tmp_path / "test_grouped.py").write_text(GROUPED)
    command = [sys.executable, "-m", "pytest", "-n", "2", "--dist", "loadgroup", "-v"]
    done = subprocess.run(  # nosec B603 - this interpreter, fixed arguments
        [*command, "-p", "no:cacheprovider", *plugin, "test_grouped.py"],
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(REPO_ROOT)},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    ran: dict[str, set[str]] = defaultdict(set)
    for worker, nodeid in re.findall(r"\[(gw\d)\] \[\s*\d+%\] PASSED (\S+)", done.stdout):
        ran[nodeid].add(worker)
    assert len(ran) == 6, done.stdout
    return ran


def test_a_group_runs_on_one_worker_and_its_ids_say_so(tmp_path: Path) -> None:
    ran = workers_of(tmp_path, "-p", "tests.xdist_loadgroup")

    together = [nodeid for nodeid in ran if nodeid.endswith("@together")]
    assert len(together) == 5, sorted(ran)
    assert "test_grouped.py::test_param[2]@together" in together
    assert len(set().union(*(ran[nodeid] for nodeid in together))) == 1, dict(ran)
    # A test with two groups' marks is in their joined group, as xdist names it.
    assert "test_grouped.py::test_other_group@apart_together" in ran, sorted(ran)
