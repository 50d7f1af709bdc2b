"""What the GitHub workflows promise, held by a test (actionlint and zizmor check the rest).

Above all, that the real-AWS workflow survives its own cancel: the harness is the step's entry
process (``exec``), the run's id is known before it starts, and a job of its own, which runs
however the first one ended, sweeps by that id; a scheduled janitor sweeps what is older than
any run can last; and every job's time limit holds the budgets of its steps.
"""

from __future__ import annotations

import math
import re
import shlex
from pathlib import Path
from typing import Any, cast

import pytest
import yaml

from harness.deploy import HEALTH_TIMEOUT
from harness.teardown import TEARDOWN_TIMEOUT

WORKFLOWS = Path(__file__).resolve().parents[1] / ".github" / "workflows"
ALL = ["test.yml", "aws.yml", "janitor.yml"]

#: The AWS provider's default timeouts (minutes) for what terraform/ creates and destroys
#: slowly: aws_security_group create 10 / delete 15, aws_instance create 10 / delete 20.
APPLY_BOUND = 10 + 10
DESTROY_BOUND = 20 + 15
#: Start-up and terraform init (the provider's download), and the scenarios: no bound in
#: code, a budget.
INIT_BUDGET = 5
SCENARIOS_BUDGET = 10
#: The one PUT of the application, after the instance asked for it (harness/delivery.py).
DELIVERY_PUT = 1
#: The longest a cancelled job's ``if: always()`` steps get, all together.
ALWAYS_AFTER_CANCEL = 5

SWEEP = ".venv/bin/state-api-sweep"


def load(name: str) -> dict[str, Any]:
    workflow: dict[str, Any] = yaml.safe_load((WORKFLOWS / name).read_text())
    # YAML 1.1 reads the key "on" as True.
    workflow["on"] = cast(dict[Any, Any], workflow).pop(True, workflow.get("on"))
    return workflow


def jobs(workflow: dict[str, Any]) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = workflow["jobs"]
    return found


def steps(job: dict[str, Any]) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = job["steps"]
    return found


def the_step(job: dict[str, Any], command: str) -> dict[str, Any]:
    """The one step of ``job`` whose ``run:`` holds ``command``."""
    [step] = [s for s in steps(job) if command in s.get("run", "")]
    return step


def argument(tokens: list[str], option: str) -> str:
    """The value of ``option`` in a command's words (``--opt VALUE`` or ``--opt=VALUE``)."""
    for i, token in enumerate(tokens):
        if token == option:
            return tokens[i + 1]
        if token.startswith(f"{option}="):
            return token.split("=", 1)[1]
    raise AssertionError(f"{option} is not given in: {shlex.join(tokens)}")


def minutes(duration: str) -> float:
    """A sweep's age (``90m``, ``4h``, ``1d``) in minutes."""
    found = re.fullmatch(r"(\d+)([smhd])", duration)
    assert found, f"not a duration: {duration!r}"
    return int(found.group(1)) * {"s": 1 / 60, "m": 1, "h": 60, "d": 24 * 60}[found.group(2)]


@pytest.fixture(scope="module")
def aws() -> dict[str, Any]:
    return load("aws.yml")


@pytest.fixture(scope="module")
def acceptance(aws: dict[str, Any]) -> dict[str, Any]:
    return jobs(aws)["acceptance"]


@pytest.fixture(scope="module")
def cleanup(aws: dict[str, Any]) -> dict[str, Any]:
    return jobs(aws)["cleanup"]


@pytest.fixture(scope="module")
def test_command(acceptance: dict[str, Any]) -> list[str]:
    """The words of the acceptance job's test step."""
    return shlex.split(the_step(acceptance, "--target=aws")["run"])


@pytest.mark.parametrize("name", ALL)
def test_every_action_is_pinned_to_a_commit_and_no_job_writes(name: str) -> None:
    workflow = load(name)
    assert workflow["permissions"] == {}
    for job in jobs(workflow).values():
        assert "write" not in {v for k, v in job["permissions"].items() if k != "id-token"}
        assert job["timeout-minutes"] > 0
        for step in steps(job):
            if "uses" in step:
                _, ref = step["uses"].split("@")
                assert re.fullmatch("[0-9a-f]{40}", ref), f"{step['uses']} is not pinned to a SHA"


@pytest.mark.parametrize("name", ["aws.yml", "janitor.yml"])
def test_the_timeouts_add_up(name: str) -> None:
    """Each step of the AWS workflows has a budget, and each job holds the sum of its steps':
    the job's own limit never cuts a step short that is within its budget."""
    for job_id, job in jobs(load(name)).items():
        budgets: list[int] = [step.get("timeout-minutes", 0) for step in steps(job)]
        assert all(isinstance(b, int) and b > 0 for b in budgets), f"{job_id}: {budgets}"
        assert job["timeout-minutes"] >= sum(budgets), f"{job_id}: {budgets}"


def test_the_test_workflow_runs_the_test_command_on_every_push_and_uploads_the_report() -> None:
    workflow = load("test.yml")
    assert "push" in workflow["on"]
    [job] = jobs(workflow).values()
    runs = [step.get("run", "") for step in steps(job)]
    assert "scripts/test.sh" in runs
    upload = steps(job)[-1]
    assert upload["uses"].startswith("actions/upload-artifact@")
    assert upload["if"] == "always()"
    assert "reports/allure-report/index.html" in upload["with"]["path"]


def test_the_aws_workflow_runs_alone_with_oidc_and_its_run_id_is_known_before_it_starts(
    aws: dict[str, Any],
) -> None:
    assert set(aws["on"]) == {"workflow_dispatch", "schedule"}
    assert aws["concurrency"]["cancel-in-progress"] is False
    assert aws["env"]["RUN_ID"] == "gh-${{ github.run_id }}-${{ github.run_attempt }}"
    text = yaml.safe_dump(aws)
    assert "aws-access-key-id" not in text, "no long-lived keys"
    assert "secrets." not in text, "no long-lived keys"
    for job in jobs(aws).values():
        assert job["permissions"]["id-token"] == "write"
        [credentials] = [s for s in steps(job) if "configure-aws-credentials" in s.get("uses", "")]
        assert credentials["with"]["role-to-assume"] == "${{ vars.AWS_ROLE_ARN }}"
        assert credentials["with"]["allowed-account-ids"] == "${{ vars.AWS_ACCOUNT_ID }}"


def test_the_test_step_execs_pytest_with_the_run_id(
    acceptance: dict[str, Any], test_command: list[str]
) -> None:
    """`exec`: pytest replaces the step's bash, so the cancel's SIGINT reaches the harness.
    One command, nothing before or after it that bash would have to stay around for."""
    run = the_step(acceptance, "--target=aws")["run"]
    assert not re.search(r"[;&|\n`]|\$\(", run.strip()), f"more than one command: {run!r}"
    assert test_command[:4] == ["exec", ".venv/bin/pytest", "features/", "--target=aws"]
    assert argument(test_command, "--run-id") == "$RUN_ID"
    assert '--run-id "$RUN_ID"' in run, "quoted, as every shell variable"
    assert argument(test_command, "--region") == "$AWS_REGION"


def test_the_test_steps_budget_holds_every_bounded_phase(
    acceptance: dict[str, Any], test_command: list[str]
) -> None:
    """The step's limit holds init, apply, delivery, health, scenarios, destroy and the
    teardown check, each at its bound; the waits are given on the command line, so that a
    changed default cannot make the sum untrue unseen."""
    health = float(argument(test_command, "--health-timeout")) / 60
    teardown = float(argument(test_command, "--teardown-timeout")) / 60
    assert health * 60 >= HEALTH_TIMEOUT, "no shorter than a first boot may take by default"
    assert teardown * 60 >= TEARDOWN_TIMEOUT
    phases = {
        "init": INIT_BUDGET,
        "apply": APPLY_BOUND,
        "delivery": health + DELIVERY_PUT,
        "health": health,
        "scenarios": SCENARIOS_BUDGET,
        "destroy": DESTROY_BOUND,
        "teardown check": teardown,
    }
    step = the_step(acceptance, "--target=aws")
    assert step["timeout-minutes"] >= math.ceil(sum(phases.values())), phases


def test_the_ci_instance_lives_through_the_scenarios_and_not_much_longer(
    test_command: list[str],
) -> None:
    """Its time to live, counted from its first boot, covers delivery, health and the
    scenarios at their bounds, and is shorter than terraform/'s default for a run by hand."""
    ttl = int(argument(test_command, "--ttl-minutes"))
    health = float(argument(test_command, "--health-timeout")) / 60
    assert ttl >= (health + DELIVERY_PUT) + health + SCENARIOS_BUDGET
    assert ttl < 120


def test_after_a_cancel_the_jobs_own_always_steps_fit_and_none_destroys(
    acceptance: dict[str, Any],
) -> None:
    """After the test step, only steps that run always and fit in the ~5 minutes a cancelled
    job's always() steps get; the cleanup is the cleanup job's."""
    all_steps = steps(acceptance)
    test = all_steps.index(the_step(acceptance, "--target=aws"))
    after = all_steps[test + 1 :]
    assert after, "the report is made and uploaded after the test step"
    for step in after:
        assert step["if"] == "always()", f"{step} would not run after a cancel or a failure"
        assert "destroy" not in step.get("run", "")
    assert sum(step["timeout-minutes"] for step in after) <= ALWAYS_AFTER_CANCEL
    upload = all_steps[-1]
    assert upload["uses"].startswith("actions/upload-artifact@")
    assert ".runs" not in upload["with"]["path"], "the Terraform state holds the API key"


def test_the_cleanup_job_runs_always_after_the_acceptance_job_and_sweeps_by_run_id(
    acceptance: dict[str, Any], cleanup: dict[str, Any]
) -> None:
    assert cleanup["needs"] in ("acceptance", ["acceptance"])
    assert cleanup["if"] == "always()"
    assert cleanup["timeout-minutes"] > 0
    assert cleanup["environment"] == acceptance["environment"]
    assert cleanup["env"]["AWS_REGION"] == acceptance["env"]["AWS_REGION"]
    assert cleanup["permissions"] == acceptance["permissions"]
    sweep = the_step(cleanup, SWEEP)
    assert sweep["run"] == f'{SWEEP} --run-id "$RUN_ID" --region "$AWS_REGION"'
    assert "if" not in sweep, "the job's own condition is the only one"
    # Nothing from the cancelled job: no artifact, no state, no Terraform, no Node.
    text = yaml.safe_dump(cleanup)
    for needless in ("download-artifact", ".runs", "setup-terraform", "setup-node", "needs."):
        assert needless not in text


def test_the_janitor_sweeps_by_age_on_a_schedule_with_the_same_role() -> None:
    janitor = load("janitor.yml")
    aws = load("aws.yml")
    assert set(janitor["on"]) == {"schedule", "workflow_dispatch"}
    assert janitor["concurrency"]["cancel-in-progress"] is False
    [job] = jobs(janitor).values()
    acceptance = jobs(aws)["acceptance"]
    assert job["environment"] == acceptance["environment"]
    assert job["permissions"] == acceptance["permissions"]
    [credentials] = [s for s in steps(job) if "configure-aws-credentials" in s.get("uses", "")]
    [theirs] = [s for s in steps(acceptance) if "configure-aws-credentials" in s.get("uses", "")]
    for key in ("role-to-assume", "allowed-account-ids", "aws-region"):
        assert credentials["with"][key] == theirs["with"][key]
    words = shlex.split(the_step(job, SWEEP)["run"])
    assert words[0] == SWEEP
    assert argument(words, "--region") == "$AWS_REGION"
    assert "--run-id" not in words, "every run's leftovers, by age"


def test_the_janitor_never_touches_a_run_in_progress_nor_a_live_ci_instance(
    acceptance: dict[str, Any], cleanup: dict[str, Any], test_command: list[str]
) -> None:
    """Its age exceeds the longest a run of aws.yml can last (both jobs at their limits), and
    a CI instance's time to live plus the time it may take to boot (aws_instance's create)."""
    [job] = jobs(load("janitor.yml")).values()
    age = minutes(argument(shlex.split(the_step(job, SWEEP)["run"]), "--older-than"))
    ttl = int(argument(test_command, "--ttl-minutes"))
    assert age > acceptance["timeout-minutes"] + cleanup["timeout-minutes"]
    assert age > ttl + 10
