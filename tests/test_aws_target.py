"""The aws target's choices that need no AWS, no emulator and no Terraform: which recorded run
``--reuse`` may take, and where the allowed CIDR comes from.

Real and rehearsed runs share ``.runs/latest``; a rehearsal that took a real deployment for
its own would test it and then destroy it.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness.cloud import RealAws, runner_cidrs
from harness.deploy import TerraformRun
from harness.rehearsal import RUNNER_CIDRS, Rehearsal, RehearsalError
from harness.runs import RunRecord
from harness.targets.aws import AwsTarget
from harness.targets.base import StartFailed, TargetOptions


def recorded_run(runs_dir: Path, cloud: dict[str, str] | None = None) -> TerraformRun:
    """A run as ``--keep`` leaves it (nothing applied), deployed to real AWS unless ``cloud``
    says otherwise."""
    record = RunRecord(run_id="kept-run", region="eu-west-1", allowed_cidrs=["203.0.113.7/32"])
    run = TerraformRun.create(record, "the-key", cloud=RealAws(), runs_dir=runs_dir)
    if cloud is not None:
        path = run.workdir / "run.json"
        data = json.loads(path.read_text())
        data["cloud"] = cloud
        path.write_text(json.dumps(data))
    return run


def reuse(runs_dir: Path, *, rehearse: bool) -> StartFailed:
    target = AwsTarget(
        TargetOptions(reuse=True, rehearse=rehearse, runs_dir=runs_dir, progress=lambda _: None)
    )
    with pytest.raises(StartFailed) as failed, target.deployed():
        pytest.fail("the target started")
    return failed.value


def test_a_rehearsal_never_reuses_a_real_deployment(tmp_path: Path) -> None:
    run = recorded_run(tmp_path)
    failed = reuse(tmp_path, rehearse=True)
    assert failed.unavailable
    assert "kept-run, was deployed to aws: drop --rehearse" in str(failed)
    # Nothing was planned or destroyed: the kept run is still recorded, as it was.
    assert (run.workdir / "run.json").is_file()
    assert (tmp_path / "latest").resolve() == run.workdir


def test_a_real_run_never_reuses_a_rehearsed_deployment(tmp_path: Path) -> None:
    mirror = str(tmp_path / "mirror")
    run = recorded_run(
        tmp_path,
        cloud={
            "kind": "rehearsal",
            "emulator_url": "http://127.0.0.1:9",
            "provider_mirror": mirror,
        },
    )
    failed = reuse(tmp_path, rehearse=False)
    assert failed.unavailable
    assert "kept-run, was deployed to rehearsal: add --rehearse" in str(failed)
    assert (run.workdir / "run.json").is_file()


def test_a_rehearsal_allows_loopback_only_and_never_asks_for_a_public_address(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_lookup(*args: object, **kwargs: object) -> None:
        raise AssertionError("the public address was asked for")

    monkeypatch.setattr("harness.cloud.detect_public_ip", no_lookup)
    rehearsal = Rehearsal("http://127.0.0.1:9", provider_mirror=tmp_path)
    assert runner_cidrs((), rehearsal) == ["127.0.0.1/32"] == list(RUNNER_CIDRS)
    assert runner_cidrs(["10.0.0.0/8"], rehearsal) == ["10.0.0.0/8"]


def test_real_aws_allows_the_runners_public_address(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("harness.cloud.detect_public_ip", lambda: "203.0.113.7")
    assert runner_cidrs((), RealAws()) == ["203.0.113.7/32"]
    assert runner_cidrs(["198.51.100.0/24"], RealAws()) == ["198.51.100.0/24"]


def test_a_rehearsal_without_a_provider_mirror_says_how_to_make_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("harness.rehearsal.find_mirror", lambda version: None)
    with pytest.raises(RehearsalError, match="terraform providers mirror") as refused:
        Rehearsal("http://127.0.0.1:9")
    assert "TF_PROVIDER_MIRROR=DIR" in str(refused.value)
