"""Run ids given on a command line: what passes, what is refused, and how (pytest's
--run-id, scripts/deploy.py's --run-id)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from harness.hcl import load_directory
from harness.paths import TERRAFORM_DIR
from harness.run_ids import RUN_ID_PATTERN, check_new_run_id, check_run_id_format
from harness.targets.base import new_run_id
from scripts import deploy as deploy_script

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize(
    "run_id",
    ["gh-19876543210-1", "gh-19876543210-12", "run-0123456789ab", "a", "A.b_c-9", "x" * 40],
)
def test_valid_run_ids_pass(run_id: str) -> None:
    assert check_run_id_format(run_id) == run_id


def test_the_default_run_id_is_valid() -> None:
    assert check_run_id_format(new_run_id())


@pytest.mark.parametrize(
    "run_id",
    ["", "x" * 41, "-x", ".x", "_x", "a b", "a/b", "a:b", "ünï", "a\nb", "latest", "gh-1-$(id)"],
)
def test_invalid_run_ids_are_refused_saying_what_fits(run_id: str) -> None:
    with pytest.raises(ValueError, match="is not valid"):
        check_run_id_format(run_id)


def test_the_rule_is_terraforms_own() -> None:
    """terraform/variables.tf validates var.run_id with the same expression."""
    variables = (TERRAFORM_DIR / "variables.tf").read_text()
    assert f'"^{RUN_ID_PATTERN.pattern}$"' in variables
    assert "run_id" in load_directory(TERRAFORM_DIR).variables()


def test_a_run_id_whose_directory_exists_is_refused(tmp_path: Path) -> None:
    (tmp_path / "gh-1-1").mkdir()

    with pytest.raises(ValueError, match="taken"):
        check_new_run_id("gh-1-1", tmp_path)
    assert check_new_run_id("gh-1-2", tmp_path) == "gh-1-2"


def test_deploy_refuses_a_bad_run_id_before_anything(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        deploy_script.main(["--run-id=bad id", f"--runs-dir={tmp_path}"])

    assert exited.value.code == 2
    assert "run id 'bad id' is not valid" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


def test_deploy_refuses_a_run_id_already_recorded(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "gh-5-1").mkdir()

    with pytest.raises(SystemExit) as exited:
        deploy_script.main(["--run-id=gh-5-1", f"--runs-dir={tmp_path}"])

    assert exited.value.code == 2
    assert "is taken" in capsys.readouterr().err


def test_pytest_refuses_a_bad_run_id_as_a_usage_error(tmp_path: Path) -> None:
    completed = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "features/test_status.py",
            "--target=process",
            "--run-id=no good",
            "--collect-only",
            "-q",
            "-p",
            "no:cacheprovider",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    assert completed.returncode == pytest.ExitCode.USAGE_ERROR, completed.stdout
    assert "--run-id: run id 'no good' is not valid" in completed.stderr
    assert "Traceback" not in completed.stderr
