"""The `aws` target rehearsed offline: moto's server for AWS, a test double for `terraform`.

Every case runs a real, nested `pytest --target=aws` session with the double first, so the
production path (harness/targets/aws.py, harness/deploy.py, the teardown check) runs as it
would against AWS. The double's "instance" is the real container from this tree's Dockerfile.
After each case nothing tagged with the run's id may remain: not in moto, not in Docker.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import boto3
import pytest

from harness.docker import Docker
from harness.naming import PROJECT
from harness.teardown import check

ROOT = Path(__file__).resolve().parents[1]
DOUBLE = ROOT / "tests" / "doubles" / "terraform_double.py"
REHEARSAL = ROOT / "tests" / "rehearsal"
REGION = "us-east-1"
RUN_ID = re.compile(r"\[aws\] run (run-[0-9a-f]+): applying")

pytestmark = pytest.mark.skipif(
    not Docker().engine_available(), reason="the rehearsal's instance is a container: no engine"
)


@dataclass
class Session:
    """What a nested pytest session did."""

    returncode: int
    output: str
    runs_dir: Path

    @property
    def run_id(self) -> str:
        found = RUN_ID.search(self.output)
        assert found, f"no run started:\n{self.output}"
        return found.group(1)

    def leftovers(self) -> list[str]:
        aws = check({"Project": PROJECT, "RunId": self.run_id}, region=REGION)
        docker = Docker().leftovers(self.run_id).describe()
        return [item.describe() for item in aws] + docker


@pytest.fixture
def rehearsal_env(
    moto_endpoint: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> dict[str, str]:
    """The nested session's environment; this test's own checks see the same AWS."""
    wrapper = tmp_path / "terraform"
    wrapper.write_text(f'#!/bin/sh\nexec "{sys.executable}" "{DOUBLE}" "$@"\n')
    wrapper.chmod(0o755)
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("AWS_", "TF_", "TERRAFORM"))
    }
    env.update(
        TERRAFORM=str(wrapper),
        AWS_ENDPOINT_URL=moto_endpoint,
        AWS_ACCESS_KEY_ID="testing",
        AWS_SECRET_ACCESS_KEY="testing",
        AWS_DEFAULT_REGION=REGION,
        PYTHONDONTWRITEBYTECODE="1",
    )
    for name in ("AWS_ENDPOINT_URL", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.setenv(name, env[name])
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    return env


def nested_pytest(tmp_path: Path, *args: str) -> list[str]:
    """Arguments to python for a nested `pytest --target=aws` session."""
    return [
        "-m",
        "pytest",
        *args,
        "--target=aws",
        "--allowed-cidr=127.0.0.1/32",
        f"--region={REGION}",
        f"--runs-dir={tmp_path / 'runs'}",
        "--teardown-timeout=5",
        "-p",
        "no:cacheprovider",
        "-q",
    ]


@dataclass
class Finished:
    returncode: int
    output: str


def run_script(env: dict[str, str], *argv: str, fault: str = "", timeout: float = 300) -> Finished:
    """Run ``python ARGV...`` from the repository root with the rehearsal's environment."""
    result = subprocess.run(
        [sys.executable, *argv],
        cwd=ROOT,
        env={**env, "TERRAFORM_DOUBLE_FAULT": fault},
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    return Finished(result.returncode, result.stdout + result.stderr)


def run_session(env: dict[str, str], tmp_path: Path, *args: str, fault: str = "") -> Session:
    finished = run_script(env, *nested_pytest(tmp_path, *args), fault=fault)
    return Session(finished.returncode, finished.output, tmp_path / "runs")


def test_a_green_run_tests_the_instance_then_destroys_it(
    rehearsal_env: dict[str, str], tmp_path: Path
) -> None:
    session = run_session(
        rehearsal_env, tmp_path, "features/test_status.py", "features/test_update.py"
    )
    assert session.returncode == 0, session.output
    assert re.search(r"\d+ passed", session.output)
    assert "teardown verified" in session.output
    assert session.leftovers() == []
    assert not (session.runs_dir / session.run_id).exists()


def test_a_failing_scenario_still_destroys(rehearsal_env: dict[str, str], tmp_path: Path) -> None:
    session = run_session(rehearsal_env, tmp_path, str(REHEARSAL / "failing_scenario.py"))
    assert session.returncode == 1, session.output
    assert "1 failed" in session.output
    assert "teardown verified" in session.output
    assert session.leftovers() == []


def test_an_apply_that_fails_half_way_still_destroys(
    rehearsal_env: dict[str, str], tmp_path: Path
) -> None:
    session = run_session(rehearsal_env, tmp_path, "features/test_status.py", fault="apply-midway")
    assert session.returncode == 1, session.output
    assert "terraform apply failed" in session.output
    assert "created security group" in session.output  # something existed to destroy
    assert "teardown verified" in session.output
    assert session.leftovers() == []


def test_an_api_that_never_becomes_healthy_times_out_and_destroys(
    rehearsal_env: dict[str, str], tmp_path: Path
) -> None:
    session = run_session(
        rehearsal_env,
        tmp_path,
        "features/test_status.py",
        "--health-timeout=3",
        fault="unhealthy",
    )
    assert session.returncode == 1, session.output
    assert "did not become healthy within 3s" in session.output
    assert "Traceback" not in session.output
    assert "teardown verified" in session.output
    assert session.leftovers() == []


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP], ids=["SIGTERM", "SIGHUP"])
def test_a_signal_mid_run_still_destroys(
    rehearsal_env: dict[str, str], tmp_path: Path, signum: signal.Signals
) -> None:
    started = tmp_path / "started"
    process = subprocess.Popen(
        [sys.executable, *nested_pytest(tmp_path, str(REHEARSAL / "slow_scenario.py"))],
        cwd=ROOT,
        env={**rehearsal_env, "REHEARSAL_STARTED": str(started)},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 120
        while not started.exists():
            assert process.poll() is None, process.communicate()[0]
            assert time.monotonic() < deadline, "the deployment never came up"
            time.sleep(0.2)
        process.send_signal(signum)
        output, _ = process.communicate(timeout=120)
    finally:
        if process.poll() is None:
            process.kill()
    session = Session(process.returncode, output, tmp_path / "runs")
    assert session.returncode != 0, output
    assert "teardown verified" in output
    assert session.leftovers() == []


def test_a_leftover_resource_fails_the_run(rehearsal_env: dict[str, str], tmp_path: Path) -> None:
    session = run_session(rehearsal_env, tmp_path, "features/test_status.py", fault="leave-volume")
    try:
        assert session.returncode == 1, session.output
        assert re.search(r"left 1 resource\(s\) tagged RunId=run-[0-9a-f]+", session.output)
        assert re.search(r"vol-[0-9a-f]+", session.output)
        assert (session.runs_dir / session.run_id).exists(), "the state must be kept"
    finally:
        ec2 = boto3.client(
            "ec2", region_name=REGION, endpoint_url=rehearsal_env["AWS_ENDPOINT_URL"]
        )
        for volume in ec2.describe_volumes(
            Filters=[{"Name": "tag:RunId", "Values": [session.run_id]}]
        )["Volumes"]:
            ec2.delete_volume(VolumeId=volume["VolumeId"])
    assert session.leftovers() == []


def test_a_failing_destroy_keeps_the_state_and_says_how_to_finish(
    rehearsal_env: dict[str, str], tmp_path: Path
) -> None:
    session = run_session(rehearsal_env, tmp_path, "features/test_status.py", fault="destroy")
    assert session.returncode == 1, session.output
    run_dir = session.runs_dir / session.run_id
    assert (run_dir / "terraform" / "terraform.tfstate").exists()
    printed = re.search(r"finish the cleanup with:\n\s*(.+)", session.output)
    assert printed, session.output
    command = shlex.split(printed.group(1))
    assert command == [
        sys.executable,
        str(ROOT / "scripts" / "destroy.py"),
        "--run-dir",
        str(run_dir),
    ]
    assert session.leftovers() != []
    # The printed command, as printed, finishes the job.
    finish = run_script(rehearsal_env, *command[1:])
    assert finish.returncode == 0, finish.output
    assert session.leftovers() == []
    assert not run_dir.exists()


def test_keep_then_reuse_tests_the_same_deployment_then_destroys_it(
    rehearsal_env: dict[str, str], tmp_path: Path
) -> None:
    kept = run_session(rehearsal_env, tmp_path, "features/test_status.py", "--keep")
    assert kept.returncode == 0, kept.output
    assert "teardown verified" not in kept.output
    run_dir = kept.runs_dir / kept.run_id
    outputs = json.loads((run_dir / "run.json").read_text())["outputs"]
    assert Docker().leftovers(kept.run_id).containers, "--keep must leave the instance running"
    assert "--target=aws --reuse" in kept.output

    reused = run_session(rehearsal_env, tmp_path, "features/test_status.py", "--reuse")
    assert reused.returncode == 0, reused.output
    assert f"reusing run {kept.run_id}" in reused.output
    assert "terraform apply" not in reused.output
    assert outputs["api_url"] in reused.output
    assert "teardown verified" in reused.output
    assert kept.leftovers() == []
    assert not run_dir.exists()


def test_a_base_url_is_tested_and_left_alone(rehearsal_env: dict[str, str], tmp_path: Path) -> None:
    kept = run_session(rehearsal_env, tmp_path, "features/test_status.py", "--keep")
    assert kept.returncode == 0, kept.output
    run_dir = kept.runs_dir / kept.run_id
    url = json.loads((run_dir / "run.json").read_text())["outputs"]["api_url"]
    try:
        session = run_session(
            rehearsal_env,
            tmp_path,
            "features/test_status.py",
            f"--base-url={url}",
            f"--api-key={(run_dir / 'api_key').read_text()}",
        )
        assert session.returncode == 0, session.output
        assert "terraform" not in session.output
        assert Docker().leftovers(kept.run_id).containers, "an existing deployment is not ours"
    finally:
        finish = run_script(rehearsal_env, "scripts/destroy.py", "--run-dir", str(run_dir))
    assert finish.returncode == 0, finish.output
    assert kept.leftovers() == []
