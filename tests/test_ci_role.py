"""The CI role's policy (terraform/ci-role/policy.json.tftpl, rendered as Terraform renders it)
allows exactly the AWS actions the cloud path calls: every one that Terraform (init, apply,
plan, destroy) and the teardown check called in a rehearsal — under that very policy, which
the emulator's front enforces — and the sweep's and the reboot's, and nothing else."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from harness import ci_role, terraform
from harness.deploy import TerraformRun
from harness.hcl import load_directory
from harness.rehearsal import CREDENTIALS, INSTANCE_HOST_KEY_ID
from harness.rehearsal.authorize import ALWAYS_ALLOWED
from harness.rehearsal.emulator import Emulator
from harness.rehearsal.iam import Outcome, Request
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
REGION = "eu-west-1"
#: Allowed though no rehearsed deploy, plan, destroy or teardown check calls them, each for
#: the command that does (wired by the lead once those branches are merged):
CALLED_ELSEWHERE = {
    # state-api-sweep (harness/sweep.py): ends what a run left behind, in AWS's order.
    "ec2:TerminateInstances": "sweep",
    "ec2:RevokeSecurityGroupIngress": "sweep",
    "ec2:RevokeSecurityGroupEgress": "sweep",
    "ec2:DeleteSecurityGroup": "sweep",
    "ec2:DeleteNetworkInterface": "sweep: an interface left after its instance",
    "ec2:DeleteVolume": "sweep: a volume left after its instance",
    "ec2:ReleaseAddress": "sweep: an address tagged with the run",
    "ec2:DisassociateAddress": "sweep: an address tagged with the run, still associated",
    # the report's first-boot log on real AWS (the rehearsal reads the sandbox's log instead).
    "ec2:GetConsoleOutput": "aws target: the first boot's console output, real AWS only",
    # the aws target's restart scenario reboots the instance.
    "ec2:RebootInstances": "aws target: the restart scenario",
}


def run(env: dict[str, str], *argv: str) -> str:
    done = subprocess.run(
        [sys.executable, *argv], cwd=ROOT, env=env, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout + done.stderr


@dataclass(frozen=True)
class CloudPath:
    """What one whole cloud path asked of AWS as the role, and how the policy decided."""

    actions: set[str]
    authorizations: list[tuple[Request, Outcome]]


@pytest.fixture(scope="module")
def cloud_path(tmp_path_factory: pytest.TempPathFactory) -> CloudPath:
    """One whole cloud path under the enforced policy: deploy, a second plan (as --reuse
    runs it), destroy and the teardown check, then verify_teardown.py on its own."""
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
        authorizations = emulator.authorizations()
    assert {call.principal for call in calls} == {
        CREDENTIALS["AWS_ACCESS_KEY_ID"],
        INSTANCE_HOST_KEY_ID,
    }
    role = CREDENTIALS["AWS_ACCESS_KEY_ID"]
    return CloudPath({call.iam_action for call in calls if call.principal == role}, authorizations)


@pytest.fixture(scope="module")
def called(cloud_path: CloudPath) -> set[str]:
    return cloud_path.actions


def allowed_actions(document: dict[str, Any] | None = None) -> set[str]:
    """Every action an Allow statement names (Deny statements grant nothing)."""
    actions: set[str] = set()
    for statement in (document or ci_role.policy())["Statement"]:
        if statement["Effect"] != "Allow":
            continue
        listed = statement["Action"]
        actions.update([listed] if isinstance(listed, str) else listed)
    return actions


def test_the_policy_allows_every_action_the_cloud_path_calls(called: set[str]) -> None:
    missing = called - ALWAYS_ALLOWED - allowed_actions()

    assert not missing, f"the CI role would be refused: {sorted(missing)}"


def test_the_policy_allows_nothing_the_cloud_path_does_not_call(called: set[str]) -> None:
    extra = allowed_actions() - called - set(CALLED_ELSEWHERE)

    assert not extra, f"allowed but never called: {sorted(extra)}"


def test_every_call_was_allowed_and_every_allow_statement_was_needed(
    cloud_path: CloudPath,
) -> None:
    """Under the enforced policy nothing was refused, and each Allow statement allowed
    something; the sweep's own statement parts are covered by tests/test_ci_role_enforced.py."""
    refused = [
        (r.action, r.resource) for r, outcome in cloud_path.authorizations if not outcome.allowed
    ]
    used = {outcome.statement for _, outcome in cloud_path.authorizations}
    allows = {s["Sid"] for s in ci_role.policy()["Statement"] if s["Effect"] == "Allow"}

    assert not refused
    assert allows - used == set(), f"never needed: {sorted(allows - used)}"


def test_what_is_called_elsewhere_is_allowed() -> None:
    assert set(CALLED_ELSEWHERE) <= allowed_actions()


def test_terraform_attaches_the_document_the_rehearsal_enforces(tmp_path: Path) -> None:
    """The role's policy expression, as terraform/ci-role/main.tf writes it, evaluated by
    Terraform with the module's variables and defaults, is the document of harness.ci_role."""
    module = ci_role.CI_ROLE_DIR
    expression = load_directory(module).resource("aws_iam_role_policy", "acceptance").body["policy"]
    shutil.copy(module / "variables.tf", tmp_path / "variables.tf")
    (tmp_path / "main.tf").write_text(
        'output "policy" {\n  value = '
        + expression[2:-1].replace("${path.module}", str(module))
        + "\n}\n"
    )
    env = {**os.environ, "TF_VAR_github_repository": "octo-org/state-api"}
    for args in (("init", "-input=false"), ("apply", "-auto-approve", "-input=false")):
        done = terraform.run(args, cwd=tmp_path, env=env)
        assert done.returncode == 0, done.stderr
    shown = terraform.run(("output", "-json", "policy"), cwd=tmp_path, env=env)
    assert shown.returncode == 0, shown.stderr

    assert json.loads(json.loads(shown.stdout)) == ci_role.policy()


def test_the_policy_names_each_action_no_wildcards() -> None:
    assert not [action for action in allowed_actions() if "*" in action or "?" in action]
