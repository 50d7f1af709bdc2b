"""The CI role's policy (terraform/ci-role/policy.json) allows exactly the AWS actions the
cloud path calls: every one that Terraform (init, apply, plan, destroy) and the teardown
check called in a rehearsal, as the emulator's front recorded them, and nothing else."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from harness.deploy import TerraformRun
from harness.rehearsal import CREDENTIALS, INSTANCE_HOST_KEY_ID
from harness.rehearsal.emulator import Emulator
from tests.test_aws_rehearsal import RUN_ID

pytestmark = [
    pytest.mark.slow,
    pytest.mark.rehearsal,
    pytest.mark.usefixtures("rehearsal_tools"),
    # One worker for the module (scripts/test.sh: --dist loadgroup): its deployment, a
    # module fixture, ran once in each worker that drew one of its tests.
    pytest.mark.xdist_group("ci_role"),
]

ROOT = Path(__file__).resolve().parents[1]
POLICY = ROOT / "terraform" / "ci-role" / "policy.json"
REGION = "eu-west-1"
#: Called, and allowed to every principal whatever its policy says: no statement needed.
ALWAYS_ALLOWED = frozenset({"sts:GetCallerIdentity"})


def run(env: dict[str, str], *argv: str) -> str:
    done = subprocess.run(
        [sys.executable, *argv], cwd=ROOT, env=env, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout + done.stderr


@pytest.fixture(scope="module")
def called(tmp_path_factory: pytest.TempPathFactory) -> set[str]:
    """The IAM actions of one whole cloud path: deploy, a second plan (as --reuse runs it),
    destroy and the teardown check, then verify_teardown.py on its own."""
    runs = tmp_path_factory.mktemp("runs")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "TF_LOG"))}
    with Emulator() as emulator:
        deployed = run(
            env,
            "scripts/deploy.py",
            "--rehearse",
            f"--emulator-url={emulator.url}",
            f"--region={REGION}",
            f"--runs-dir={runs}",
            "--no-wait",
        )
        found = RUN_ID.search(deployed)
        assert found, deployed
        run_dir = runs / found.group(1)
        TerraformRun.load(run_dir, progress=lambda line: None).plan_changes()
        run(env, "scripts/destroy.py", "--run-dir", str(run_dir))
        run(
            {**env, **CREDENTIALS, "AWS_ENDPOINT_URL": emulator.url},
            "scripts/verify_teardown.py",
            f"--region={REGION}",
            f"--tag=RunId={found.group(1)}",
        )
        calls = emulator.calls()
    assert {call.principal for call in calls} == {
        CREDENTIALS["AWS_ACCESS_KEY_ID"],
        INSTANCE_HOST_KEY_ID,
    }
    return {call.iam_action for call in calls if call.principal == CREDENTIALS["AWS_ACCESS_KEY_ID"]}


def allowed_actions() -> set[str]:
    document = json.loads(POLICY.read_text())
    actions: set[str] = set()
    for statement in document["Statement"]:
        assert statement["Effect"] == "Allow", statement
        listed = statement["Action"]
        actions.update([listed] if isinstance(listed, str) else listed)
    return actions


def test_the_policy_allows_every_action_the_cloud_path_calls(called: set[str]) -> None:
    missing = called - ALWAYS_ALLOWED - allowed_actions()

    assert not missing, f"the CI role would be refused: {sorted(missing)}"


def test_the_policy_allows_nothing_the_cloud_path_does_not_call(called: set[str]) -> None:
    extra = allowed_actions() - called

    assert not extra, f"allowed but never called: {sorted(extra)}"


def test_the_policy_names_each_action_no_wildcards() -> None:
    assert not [action for action in allowed_actions() if "*" in action or "?" in action]
