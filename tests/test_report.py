"""The report of an acceptance run, end to end: two real sessions on two targets write into one
results directory; the summary and the HTML are made from it, as the test command makes them;
the key is nowhere in any of it; headless Chromium shows the features, their status and the
request behind a step, with nothing loaded from the network."""

from __future__ import annotations

import base64
import binascii
import re
import struct
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from harness.redact import REDACTED
from harness.report import pages
from harness.report.browser import open_page
from harness.report.results import read, targets
from harness.targets.base import new_api_key
from tests.live import running_server

pytestmark = pytest.mark.slow  # nested pytest sessions and a browser

ROOT = Path(__file__).resolve().parents[1]
#: Recognisable, with letters in both cases, so that a swapped case is a different key.
KEY = "Key-" + new_api_key()
#: The shortest piece of the key the search looks for (long enough not to occur by chance).
PIECE = 12
BASE64 = re.compile(rb"[A-Za-z0-9+/]{24,}={0,2}")


@dataclass(frozen=True)
class Report:
    results: Path
    html: Path
    summary: str
    sessions: dict[str, subprocess.CompletedProcess[str]]


def nested_session(
    results: Path, *args: str, timeout: float = 300
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pytest", *args, f"--alluredir={results}", "-p", "no:cacheprovider"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def build_report(results: Path, work: Path) -> tuple[Path, str]:
    """The HTML report and the summary of ``results``, as the test command makes them."""
    summary = work / "summary.md"
    html_dir = work / "html"
    build = subprocess.run(
        [
            sys.executable,
            "-m",
            "harness.report",
            "build",
            f"--results={results}",
            f"--html-dir={html_dir}",
            f"--summary={summary}",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert build.returncode == 0, build.stdout + build.stderr
    return html_dir / "index.html", summary.read_text()


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> Report:
    work = tmp_path_factory.mktemp("report")
    results = work / "allure-results"
    sessions = {
        # The process target can restart the service; it runs the auth scenarios with the key,
        # and a test of the parts whose client talks to a server outside any scenario.
        "process": nested_session(
            results,
            "features/test_auth.py",
            "features/test_persistence.py",
            "tests/test_bad_input.py::test_a_malformed_request_is_refused_with_a_json_error"
            "[counter-string]",
            "--target=process",
            f"--api-key={KEY}",
        )
    }
    (work / "server").mkdir()
    with running_server(work / "server", api_key=KEY) as server:
        # The url target cannot restart (a skip, with its reason); one scenario fails on purpose.
        sessions["url"] = nested_session(
            results,
            "features/test_status.py",
            "features/test_persistence.py",
            "tests/rehearsal/failing_scenario.py",
            "--target=url",
            f"--base-url={server.base_url}",
            f"--api-key={KEY}",
        )
    html, summary = build_report(results, work)
    return Report(results, html, summary, sessions)


def test_each_session_adds_its_target_to_the_one_results_directory(report: Report) -> None:
    process, url = report.sessions["process"], report.sessions["url"]
    assert process.returncode == 0, process.stdout + process.stderr
    assert url.returncode == 1, url.stdout + url.stderr  # the scenario that fails on purpose
    found = read(report.results)
    assert targets(found) == ["process", "url"]
    on_process = {r.status for r in found if r.target == "process"}
    assert on_process == {"passed"}, [r for r in found if r.status != "passed"]


def test_the_summary_counts_each_feature_on_each_target_and_says_why_not_passed(
    report: Report,
) -> None:
    lines = report.summary.splitlines()
    assert "| feature | process | url |" in lines
    row = {line.split("|")[1].strip(): line for line in lines if line.startswith("| [")}
    assert row["[Status](" + _link(report, "status") + ")"].endswith("| — | 6 passed |")
    assert row["[API key](" + _link(report, "auth") + ")"].endswith("| 15 passed | — |")
    durability = row["[Durability across restarts](" + _link(report, "persistence") + ")"]
    assert durability.endswith("| 1 passed | 1 skipped |")
    assert "| **all** | 16 passed | 6 passed, 1 failed, 1 skipped |" in lines
    assert any(
        line.startswith("| url | Durability across restarts | The state and the log survive")
        and "the url target cannot restart the service" in line
        for line in lines
    ), report.summary
    assert any(
        line.startswith("| url | A scenario that fails on purpose |") and "| failed |" in line
        for line in lines
    ), report.summary


def _link(report: Report, feature: str) -> str:
    match = re.search(rf"\]\(([^)]*features/{feature}\.feature)\)", report.summary)
    assert match, f"no link to {feature}.feature in:\n{report.summary}"
    return match.group(1)


def test_the_key_appears_nowhere_in_the_results_the_summary_or_the_html(report: Report) -> None:
    written = assert_no_key(report)
    assert f"'{REDACTED}'".encode() in written  # the api_key step argument, scrubbed by the writer


def assert_no_key(report: Report) -> bytes:
    """The key is readable nowhere in the report's files; returns all they hold."""
    files = [*sorted(report.results.iterdir()), report.html]
    blobs = [(path.name, path.read_bytes()) for path in files]
    blobs.append(("summary.md", report.summary.encode()))
    leaks = [name for name, blob in _unpacked(blobs) if _has_key(blob)]
    assert leaks == [], f"the key is readable in {leaks}"
    # It was there to be found: sent by the scenarios, and written down redacted.
    written = b"".join(blob for _, blob in blobs)
    assert f"X-API-KEY: {REDACTED}".encode() in written
    return written


def _unpacked(blobs: list[tuple[str, bytes]]) -> Iterator[tuple[str, bytes]]:
    """Each file, and whatever it carries base64-encoded (the HTML report embeds everything)."""
    for name, blob in blobs:
        yield name, BASE64.sub(b" ", blob)
        for found in BASE64.finditer(blob):
            try:
                yield f"{name} (embedded)", base64.b64decode(found.group(0), validate=True)
            except (binascii.Error, ValueError):
                continue


def _has_key(blob: bytes) -> bool:
    text = blob.decode("latin-1").lower()
    return any(KEY[i : i + PIECE].lower() in text for i in range(len(KEY) - PIECE + 1))


def test_the_html_report_shows_features_status_and_a_steps_request_offline(
    report: Report, tmp_path: Path
) -> None:
    with open_page(report.html) as page:
        overview = pages.overview(page)
        for shown in ("API key", "Status", "Durability across restarts", "process", "url"):
            assert shown in overview, f"{shown!r} is not on the first page:\n{overview}"
        assert re.search(r"Failed\s+1", overview), overview
        assert re.search(r"Skipped\s+1", overview), overview
        first = page.screenshot(tmp_path / "overview.png")

        pages.open_scenario(page, "API key", "An update with the key is accepted")
        step = pages.open_step(page, "When the client sets the counter to 2", shows="HTTP 200")
        shown_step = step.text
        second = page.screenshot(tmp_path / "step.png")
        remote = page.remote_requests()

    assert re.search(r"POST http://127\.0\.0\.1:\d+/update", shown_step), shown_step
    assert f"X-API-KEY: {REDACTED}" in shown_step
    assert '"counter": 2' in shown_step
    assert remote == [], f"the report asked the network for {remote}"
    for picture in (first, second):
        assert _png_size(picture) == (1400, 1000) or _png_size(picture)[0] >= 1000, picture


def _png_size(path: Path) -> tuple[int, int]:
    header = path.read_bytes()[:24]
    assert header[:8] == b"\x89PNG\r\n\x1a\n", f"{path} is not a PNG"
    width, height = struct.unpack(">II", header[16:24])
    return width, height


#: The rehearsed aws target as the report names it.
AWS = "aws (rehearsed)"
#: Every kind of resource the teardown check looks at, as its verdict names them.
LOOKED_AT = (
    "ec2:instance",
    "ec2:volume",
    "ec2:security-group",
    "ec2:security-group-rule",
    "ec2:network-interface",
    "ec2:elastic-ip",
    "any service",
    "elsewhere",
)


@pytest.fixture(scope="module")
def aws_report(tmp_path_factory: pytest.TempPathFactory, rehearsal_tools: None) -> Report:
    """A rehearsed aws deployment (real Terraform against the emulator, the instance in a
    sandbox) that runs the restart scenario with the key, and its report."""
    work = tmp_path_factory.mktemp("aws-report")
    results = work / "allure-results"
    sessions = {
        "aws": nested_session(
            results,
            "features/test_persistence.py",
            "--target=aws",
            "--rehearse",
            f"--api-key={KEY}",
            f"--runs-dir={work / 'runs'}",
            "--teardown-timeout=10",
            timeout=1200,
        )
    }
    html, summary = build_report(results, work)
    return Report(results, html, summary, sessions)


@pytest.mark.rehearsal
def test_the_report_shows_the_rehearsed_aws_deployments_life_and_its_reboot(
    aws_report: Report, tmp_path: Path
) -> None:
    session = aws_report.sessions["aws"]
    assert session.returncode == 0, session.stdout + session.stderr
    found = read(aws_report.results)
    assert [(r.scenario, r.target, r.status) for r in found] == [
        ("The state and the log survive a restart", AWS, "passed")
    ]
    phases = next(line for line in aws_report.summary.splitlines() if line.startswith(f"| {AWS} |"))
    for phase in ("init", "plan/apply", "first boot", "delivery", "reboot", "destroy"):
        assert f" {phase} " in phases, phases
    assert_no_key(aws_report)

    with open_page(aws_report.html) as page:
        pages.overview(page)
        listed = pages.global_attachments(page)
        timeline = pages.open_global_attachment(page, f"{AWS}: timeline")
        picture = timeline.find_element("css selector", pages.IMAGE)
        size = page.driver.execute_script(
            "return [arguments[0].naturalWidth, arguments[0].naturalHeight]", picture
        )
        verdict = pages.open_global_attachment(page, f"{AWS}: teardown check")
        page.wait_for(pages.ATTACHMENT, text="looked at:")
        verdict_text = verdict.text
        page.screenshot(tmp_path / "globals.png")
        page.driver.get(aws_report.html.resolve().as_uri())  # back to the first page
        pages.overview(page)
        pages.open_scenario(page, "Durability across restarts", "The state and the log survive")
        scenario = page.text()
        remote = page.remote_requests()

    for name in ("timeline", "first boot log", "what Terraform created", "teardown check"):
        assert f"{AWS}: {name}" in listed, listed
    # A picture, drawn, not a broken image (a broken one is 0 by 0).
    assert size[0] >= 600, size
    assert size[1] >= 200, size
    assert "PASSED: nothing carries the run's tags any more" in verdict_text, verdict_text
    for kind in LOOKED_AT:
        assert f"{kind} " in verdict_text, verdict_text
    assert AWS in scenario, scenario
    assert "Passed" in scenario, scenario
    assert "When the service restarts" in scenario, scenario
    assert remote == [], f"the report asked the network for {remote}"
