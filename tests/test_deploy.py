"""TerraformRun's way out when the teardown check cannot be made: the state is kept, and the
command it prints is the one that finishes the job for this run's own cloud (a rehearsal's
check must go to its emulator, never to real AWS). And when the destroy left something: the
sweep, said loudly, and the check again."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness import aws_inventory, sweep, teardown
from harness.cloud import RealAws
from harness.deploy import TerraformRun
from harness.errors import DeploymentError
from harness.leftovers import Leftover
from harness.runs import RunRecord
from harness.sweep import Found, Outcome


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


def test_what_the_destroy_left_is_swept_said_loudly_and_checked_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The sweep and the check are test doubles here; the real ones run in
    test_aws_rehearsal.py (a stray instance and volume, swept)."""
    record = RunRecord(run_id="stray", region="eu-west-1", allowed_cidrs=["203.0.113.7/32"])
    said: list[str] = []
    run = TerraformRun.create(
        record, "the-key", cloud=RealAws(), runs_dir=tmp_path, progress=said.append
    )
    orphan = Leftover("ec2:instance", "i-orphan", "running")
    checks: list[list[Leftover]] = [[orphan], []]
    swept: list[str] = []

    def sweep_run(run_id: str, **options: object) -> Outcome:
        swept.append(run_id)
        return Outcome(deleted=[Found("ec2:instance", "i-orphan", run_id, "running")])

    monkeypatch.setattr(run, "destroy", lambda: None)
    monkeypatch.setattr(teardown, "check", lambda run, timeout: checks.pop(0))
    monkeypatch.setattr(sweep, "sweep_run", sweep_run)

    teardown.destroy_and_verify(run)

    assert swept == ["stray"]
    assert checks == []  # checked again after the sweep
    text = "\n".join(said)
    assert "WARNING: terraform destroy left 1 resource(s) tagged RunId=stray" in text
    assert "i-orphan" in text
    assert "WARNING: the sweep removed 1 resource(s) that terraform destroy left: i-orphan" in text
    assert "teardown verified" in said[-1]
    assert not run.workdir.exists()


def test_what_even_the_sweep_could_not_remove_fails_and_keeps_the_state(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    record = RunRecord(run_id="stuck", region="eu-west-1", allowed_cidrs=["203.0.113.7/32"])
    run = TerraformRun.create(
        record, "the-key", cloud=RealAws(), runs_dir=tmp_path, progress=lambda line: None
    )
    stuck = Leftover("ec2:volume", "vol-stuck", "available")
    monkeypatch.setattr(run, "destroy", lambda: None)
    monkeypatch.setattr(teardown, "check", lambda run, timeout: [stuck])
    monkeypatch.setattr(sweep, "sweep_run", lambda run_id, **options: Outcome())

    with pytest.raises(DeploymentError, match="terraform destroy left 1 resource"):
        teardown.destroy_and_verify(run)
    assert (run.workdir / "run.json").is_file()
