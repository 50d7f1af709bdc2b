"""The key out of a CI job's log: masked there as soon as it exists (``::add-mask::``), and no
error message carries a URL's query or user part, where a key may ride.

The servers here are real (a closed port on 127.0.0.1, an HTTP server on a free port that
answers 500); the errors are the ones requests and urllib3 raise themselves.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest
import requests

from harness import ci, teardown
from harness.client import ApiClient
from harness.cloud import detect_public_ip
from harness.delivery import DeliveryError, wait_until_asked
from harness.deploy import TerraformRun
from harness.errors import DeploymentError
from harness.hcl import load_directory
from harness.paths import REPO_ROOT, TERRAFORM_DIR
from harness.ports import free_port
from harness.readiness import NotHealthy, wait_for_health
from harness.redact import safe_url, without_url_secrets
from harness.runs import TTL_MINUTES_MAX, TTL_MINUTES_MIN, ttl_minutes
from harness.targets.aws import AwsTarget
from harness.targets.base import StartFailed, TargetOptions, new_api_key
from tests.live import serving

ON_GITHUB = {ci.GITHUB_ACTIONS: "true"}


def secret() -> str:
    """A fresh key-like secret: masks are said once per secret and process."""
    return "Sec-" + new_api_key()


# -- ::add-mask:: ----------------------------------------------------------------------------


def test_on_github_actions_a_secret_is_masked_once_on_the_given_writer() -> None:
    key = secret()
    lines: list[str] = []
    ci.mask(key, write=lines.append, environ=ON_GITHUB)
    ci.mask(key, write=lines.append, environ=ON_GITHUB)
    assert lines == [f"::add-mask::{key}"]


def test_the_mask_goes_to_stdout_by_default(capsys: pytest.CaptureFixture[str]) -> None:
    key = secret()
    ci.mask(key, environ=ON_GITHUB)
    out, err = capsys.readouterr()
    assert out == f"::add-mask::{key}\n"
    assert err == ""


@pytest.mark.parametrize("environ", [{}, {ci.GITHUB_ACTIONS: "false"}, {"CI": "true"}])
def test_outside_github_actions_nothing_is_written(environ: dict[str, str]) -> None:
    lines: list[str] = []
    ci.mask(secret(), write=lines.append, environ=environ)
    ci.mask(None, write=lines.append, environ=ON_GITHUB)
    ci.mask("", write=lines.append, environ=ON_GITHUB)
    assert lines == []


def test_a_key_with_a_percent_or_a_line_break_stays_one_whole_command() -> None:
    key = secret() + "%0A\nrest"
    lines: list[str] = []
    ci.mask(key, write=lines.append, environ=ON_GITHUB)
    [line] = lines
    assert "\n" not in line
    # The runner unescapes %25, %0D and %0A in a command's value: it reads back the key.
    value = line.removeprefix("::add-mask::")
    assert value.replace("%0A", "\n").replace("%0D", "\r").replace("%25", "%") == key


def test_the_aws_target_masks_its_new_key_before_terraform_runs_and_records_the_ttl(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """--ttl-minutes reaches the run's record (Terraform's ttl_minutes), and the key is masked
    before the first Terraform command: the deploy below stands in for it and fails at once."""
    monkeypatch.setenv(ci.GITHUB_ACTIONS, "true")
    events: list[str] = []

    def deploy(run: TerraformRun, **kwargs: object) -> str:
        events.append("deploy")
        recorded = json.loads((run.workdir / "run.json").read_text())
        events.append(f"ttl={recorded['ttl_minutes']} key={run.api_key()}")
        raise DeploymentError("stopped before terraform init (test)")

    monkeypatch.setattr(TerraformRun, "deploy", deploy)
    monkeypatch.setattr(teardown, "destroy_and_verify", lambda run, **kwargs: None)
    target = AwsTarget(
        TargetOptions(
            region="eu-west-1",
            allowed_cidrs=("203.0.113.7/32",),
            runs_dir=tmp_path,
            ttl_minutes=60,
            progress=lambda _: None,
            ci_output=events.append,
        )
    )
    with pytest.raises(StartFailed, match="stopped before terraform init"), target.deployed():
        pytest.fail("the target started")
    mask, called, facts = events
    key = mask.removeprefix("::add-mask::")
    assert mask.startswith("::add-mask::")
    assert called == "deploy"
    assert facts == f"ttl=60 key={key}"


@pytest.mark.parametrize("given", [True, False], ids=["--api-key", "generated"])
def test_pytest_masks_the_runs_key_on_its_real_stdout(given: bool) -> None:
    """Through pytest's own output capture (the runner reads the process's stdout, not
    pytest's buffers), once, before the first scenario's output: a given key and a new one."""
    key = secret()
    command = [
        sys.executable,
        "-m",
        "pytest",
        "features/",
        "--target=process",
        "-k",
        "status",
        "-q",
        "-p",
        "no:cacheprovider",
        *([f"--api-key={key}"] if given else []),
    ]
    environ = {**os.environ, ci.GITHUB_ACTIONS: "true"}
    done = subprocess.run(  # nosec B603 - this Python, fixed arguments
        command, cwd=REPO_ROOT, env=environ, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stdout + done.stderr
    masks = [line for line in done.stdout.splitlines() if line.startswith("::add-mask::")]
    assert len(masks) == 1, done.stdout
    assert done.stdout.startswith(masks[0]), "masked before anything else is printed"
    masked = masks[0].removeprefix("::add-mask::")
    if given:
        assert masked == key
    else:
        assert len(masked) == len(new_api_key())
        assert masked != key


# -- --ttl-minutes ---------------------------------------------------------------------------


def test_the_ttl_bounds_are_terraforms() -> None:
    """The option refuses exactly what terraform/variables.tf's validation refuses."""
    variable = load_directory(TERRAFORM_DIR).variables()["ttl_minutes"]
    [rule] = variable["validation"]
    bounds = re.findall(r"var\.ttl_minutes\s*([<>]=)\s*(\d+)", rule["condition"])
    assert bounds == [(">=", str(TTL_MINUTES_MIN)), ("<=", str(TTL_MINUTES_MAX))]
    assert "floor(var.ttl_minutes) == var.ttl_minutes" in rule["condition"]
    assert variable["default"] == 120


@pytest.mark.parametrize("good", [str(TTL_MINUTES_MIN), "60", str(TTL_MINUTES_MAX)])
def test_a_ttl_within_terraforms_bounds_is_taken(good: str) -> None:
    assert ttl_minutes(good) == int(good)


@pytest.mark.parametrize(
    "bad", [str(TTL_MINUTES_MIN - 1), str(TTL_MINUTES_MAX + 1), "0", "-5", "1.5", "an hour", ""]
)
def test_a_ttl_terraform_would_refuse_is_refused_before_anything_is_made(bad: str) -> None:
    with pytest.raises(Exception, match="minutes") as refused:
        ttl_minutes(bad)
    assert type(refused.value).__name__ == "ArgumentTypeError"


# -- no URL's query or user part in an error ----------------------------------------------------

SECRET = secret()


def assert_no_secret(message: str) -> None:
    assert SECRET.lower() not in message.lower(), message
    assert "[redacted]" not in message  # stripped, not marked


def test_every_url_in_a_message_loses_its_user_part_query_and_fragment() -> None:
    message = (
        f"for url: https://user:{SECRET}@Example.test:8443/a/b?api_key={SECRET}#{SECRET} and "
        f"Max retries exceeded with url: /update?key={SECRET} (Caused by x) and "
        f"http://[::1]:5000/logs?token={SECRET}"
    )
    cleaned = without_url_secrets(message)
    assert_no_secret(cleaned)
    assert "https://example.test:8443/a/b and" in cleaned
    assert "with url: /update (Caused by x)" in cleaned
    assert cleaned.endswith("http://[::1]:5000/logs")
    assert safe_url("http://127.0.0.1:5000") == "http://127.0.0.1:5000"
    assert without_url_secrets("no url here: /path?x") == "no url here: /path?x"


def test_a_connection_error_of_the_client_carries_no_query() -> None:
    client = ApiClient(f"http://127.0.0.1:{free_port()}", None, timeout=2)
    with pytest.raises(requests.ConnectionError) as failed:
        client.request("GET", f"/logs?api_key={SECRET}")
    assert "/logs" in str(failed.value)
    assert_no_secret(str(failed.value))
    assert failed.value.__suppress_context__  # the original, URL and all, is not shown


class _Broken(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(500)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        """Quiet: the test reads the client's error, not the server's log."""


@pytest.fixture
def broken_server() -> Iterator[str]:
    """A real HTTP server on 127.0.0.1 that answers every GET with 500."""
    with serving(_Broken) as url:
        yield url


def test_an_http_error_of_the_client_carries_no_user_part(broken_server: str) -> None:
    client = ApiClient(broken_server.replace("http://", f"http://user:{SECRET}@"), None)
    with pytest.raises(requests.HTTPError) as failed:
        client.log_total()
    assert "500 Server Error" in str(failed.value)
    assert f"{broken_server}/logs" in str(failed.value)
    assert_no_secret(str(failed.value))


def test_waiting_for_health_names_the_url_without_its_query() -> None:
    base_url = f"http://user:{SECRET}@127.0.0.1:{free_port()}/?token={SECRET}"
    progress: list[str] = []
    with pytest.raises(NotHealthy) as failed:
        wait_for_health(base_url, timeout=0.3, progress=progress.append)
    assert "did not become healthy" in str(failed.value)
    assert_no_secret(str(failed.value) + "\n".join(progress))


def test_a_failed_delivery_names_the_url_without_its_query(broken_server: str) -> None:
    with pytest.raises(DeliveryError) as failed:
        wait_until_asked(
            f"{broken_server}/?token={SECRET}",
            b"bundle",
            timeout=0.5,
            progress=lambda _: None,
        )
    assert "did not ask for its application" in str(failed.value)
    assert_no_secret(str(failed.value))


def test_the_public_ip_lookup_names_its_url_without_its_query() -> None:
    with pytest.raises(Exception, match="could not detect") as failed:
        detect_public_ip(f"http://127.0.0.1:{free_port()}/?token={SECRET}", timeout=2)
    assert_no_secret(str(failed.value))
