"""TerraformRun's way out when the teardown check cannot be made: the state is kept, and the
command it prints is the one that finishes the job for this run's own cloud (a rehearsal's
check must go to its emulator, never to real AWS)."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness import aws_inventory, teardown
from harness.cloud import RealAws
from harness.deploy import TerraformRun
from harness.errors import DeploymentError
from harness.runs import RunRecord


def test_a_check_that_cannot_be_made_keeps_the_run_and_prints_its_finish_command(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    record = RunRecord(run_id="unchecked", region="eu-west-1", allowed_cidrs=["203.0.113.7/32"])
    run = TerraformRun.create(record, "the-key", cloud=RealAws(), runs_dir=tmp_path)

    def no_check(run: TerraformRun, timeout: float) -> None:
        raise aws_inventory.CheckError("no credentials")

    monkeypatch.setattr(run, "destroy", lambda: None)
    monkeypatch.setattr(teardown, "check", no_check)
    with pytest.raises(DeploymentError) as failed:
        teardown.destroy_and_verify(run)
    message = str(failed.value)
    assert "could not check what remains: no credentials" in message
    assert message.endswith(f"check again with:\n  {run.finish_command()}")
    assert "--run-dir" in run.finish_command()
    assert (run.workdir / "run.json").is_file()  # kept: the finish command needs it
