"""What the GitHub workflows promise, held by a test (actionlint and zizmor check the rest)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, cast

import pytest
import yaml

WORKFLOWS = Path(__file__).resolve().parents[1] / ".github" / "workflows"


def load(name: str) -> dict[str, Any]:
    workflow: dict[str, Any] = yaml.safe_load((WORKFLOWS / name).read_text())
    # YAML 1.1 reads the key "on" as True.
    workflow["on"] = cast(dict[Any, Any], workflow).pop(True, workflow.get("on"))
    return workflow


def steps(workflow: dict[str, Any]) -> list[dict[str, Any]]:
    [job] = workflow["jobs"].values()
    found: list[dict[str, Any]] = job["steps"]
    return found


@pytest.mark.parametrize("name", ["test.yml", "aws.yml"])
def test_every_action_is_pinned_to_a_commit_and_no_job_writes(name: str) -> None:
    workflow = load(name)
    assert workflow["permissions"] == {}
    for job in workflow["jobs"].values():
        assert "write" not in {v for k, v in job["permissions"].items() if k != "id-token"}
        assert job["timeout-minutes"] > 0
    for step in steps(workflow):
        if "uses" in step:
            _, ref = step["uses"].split("@")
            assert re.fullmatch("[0-9a-f]{40}", ref), f"{step['uses']} is not pinned to a SHA"


def test_the_test_workflow_runs_the_test_command_on_every_push_and_uploads_the_report() -> None:
    workflow = load("test.yml")
    assert "push" in workflow["on"]
    runs = [step.get("run", "") for step in steps(workflow)]
    assert "scripts/test.sh" in runs
    upload = steps(workflow)[-1]
    assert upload["uses"].startswith("actions/upload-artifact@")
    assert upload["if"] == "always()"
    assert "reports/allure-report/index.html" in upload["with"]["path"]


def test_the_aws_workflow_runs_alone_with_oidc_and_always_cleans_up() -> None:
    workflow = load("aws.yml")
    assert set(workflow["on"]) == {"workflow_dispatch", "schedule"}
    assert workflow["concurrency"]["cancel-in-progress"] is False
    [job] = workflow["jobs"].values()
    assert job["permissions"]["id-token"] == "write"
    all_steps = steps(workflow)
    text = yaml.safe_dump(workflow)
    assert "aws-access-key-id" not in text, "no long-lived keys"
    assert "secrets." not in text, "no long-lived keys"
    [credentials] = [s for s in all_steps if "configure-aws-credentials" in s.get("uses", "")]
    assert credentials["with"]["role-to-assume"]
    names = [s.get("name", s.get("uses", "")) for s in all_steps]
    test = next(i for i, s in enumerate(all_steps) if "--target=aws" in s.get("run", ""))
    cleanup = next(i for i, s in enumerate(all_steps) if "scripts/destroy.py" in s.get("run", ""))
    assert test < cleanup, names
    assert all_steps[test]["timeout-minutes"] < job["timeout-minutes"], "time left to clean up"
    for later in all_steps[cleanup:]:
        assert later["if"] == "always()", f"{later} would not run after a cancel or a failure"
    assert "--run-dir" in all_steps[cleanup]["run"]
    upload = all_steps[-1]
    assert upload["uses"].startswith("actions/upload-artifact@")
    assert ".runs" not in upload["with"]["path"], "the Terraform state holds the API key"
