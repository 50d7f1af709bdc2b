"""scripts/deploy.py: once the run exists, every way out but success destroys what the apply
made (unless --keep-on-failure). The Terraform steps are replaced by failures here (a test
double of the run's deploy); the real ones are rehearsed in test_aws_rehearsal.py."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness.deploy import TerraformRun
from scripts import deploy as deploy_script


class Boom(Exception):
    """An error nobody planned for, such as the JSONDecodeError of a garbled output."""


@pytest.fixture
def destroyed(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    calls: list[str] = []
    monkeypatch.setattr(
        deploy_script,
        "destroy_and_verify",
        lambda run, teardown_timeout=0: calls.append(run.record.run_id),
    )
    return calls


def run_main(tmp_path: Path, *extra: str) -> int:
    return deploy_script.main(
        [
            "--allowed-cidr=203.0.113.7/32",
            "--region=eu-west-1",
            "--run-id=run-script-test",
            f"--runs-dir={tmp_path}",
            *extra,
        ]
    )


@pytest.mark.parametrize(
    ("failure", "code"), [(Boom("garbled"), 1), (KeyboardInterrupt(), 130)], ids=["error", "signal"]
)
def test_any_failure_after_the_run_exists_destroys(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    destroyed: list[str],
    failure: BaseException,
    code: int,
) -> None:
    def fail(run: TerraformRun, **options: object) -> str:
        raise failure

    monkeypatch.setattr(TerraformRun, "deploy", fail)

    assert run_main(tmp_path) == code
    assert destroyed == ["run-script-test"]


def test_keep_on_failure_leaves_it_and_says_how_to_remove_it(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    destroyed: list[str],
    capsys: pytest.CaptureFixture[str],
) -> None:
    def fail(run: TerraformRun, **options: object) -> str:
        raise Boom("garbled")

    monkeypatch.setattr(TerraformRun, "deploy", fail)

    assert run_main(tmp_path, "--keep-on-failure") == 1
    assert destroyed == []
    assert "destroy.py --run-dir" in capsys.readouterr().err
    assert json.loads((tmp_path / "run-script-test" / "run.json").read_text())["run_id"]


def test_rehearse_needs_an_emulator_that_outlives_the_command(tmp_path: Path) -> None:
    with pytest.raises(SystemExit) as exit_info:
        run_main(tmp_path, "--rehearse")

    assert exit_info.value.code == 2
