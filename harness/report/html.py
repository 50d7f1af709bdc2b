"""The HTML report: Allure Report 3 renders the results as one self-contained file.

Allure's Awesome report 3.18 always writes a Google Analytics tag into its page
(allure-framework/allure3#476), which would call out to Google whenever the report is opened.
The report must open with no network and tell nobody about itself: the tag is taken out, and
a Content-Security-Policy lets the page load nothing but what it carries inline.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

from harness.paths import REPO_ROOT

#: Allure Report 3, as package-lock.json pins it (scripts/bootstrap_node.sh installs it).
ALLURE = REPO_ROOT / "node_modules" / ".bin" / "allure"
CONFIG = REPO_ROOT / "allurerc.mjs"
#: The variable allurerc.mjs reads the targets from (one Allure environment each).
TARGETS_VARIABLE = "REPORT_TARGETS"

#: Only what the file carries: inline scripts and styles, data: and blob: URLs.
CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'none'",
        "script-src 'unsafe-inline' 'unsafe-eval' data: blob:",
        "style-src 'unsafe-inline' data: blob:",
        "img-src data: blob:",
        "font-src data:",
        "connect-src data: blob:",
        "media-src data: blob:",
        "worker-src data: blob:",
        "frame-src data: blob:",
    ]
)
_ANALYTICS = re.compile(
    r"<script[^>]*googletagmanager\.com[^>]*>\s*</script>\s*"
    r"<script>\s*window\.dataLayer.*?</script>",
    re.DOTALL,
)


class ReportError(Exception):
    """The report could not be made; the message says why."""


def render(results_dir: Path, output_dir: Path, *, targets: list[str], name: str) -> Path:
    """Render ``results_dir`` into ``output_dir``/index.html, one environment per target."""
    if not ALLURE.exists():
        raise ReportError(f"{ALLURE} is missing: run scripts/bootstrap_node.sh (needs npm)")
    if output_dir.exists():
        shutil.rmtree(output_dir)
    env = {**os.environ, TARGETS_VARIABLE: json.dumps(targets)}
    command = [
        str(ALLURE),
        "generate",
        "--config",
        str(CONFIG),
        "--output",
        str(output_dir),
        "--report-name",
        name,
        str(results_dir),
    ]
    completed = subprocess.run(  # nosec B603 - the pinned allure from node_modules, no shell
        command, cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=600, check=False
    )
    page = output_dir / "index.html"
    if completed.returncode != 0 or not page.exists():
        output = completed.stdout + completed.stderr
        raise ReportError(f"allure generate failed ({completed.returncode}):\n{output}")
    page.write_text(offline(page.read_text(encoding="utf-8")), encoding="utf-8")
    return page


def offline(page: str) -> str:
    """The page without its analytics tag, and allowed to load nothing from outside."""
    page, removed = _ANALYTICS.subn("", page)
    if removed != 1 or "googletagmanager" in page or "gtag(" in page:
        raise ReportError(
            "the report's analytics tag was not found where Allure 3.18 writes it: "
            "check harness/report/html.py against the new Allure version"
        )
    meta = f'<meta http-equiv="Content-Security-Policy" content="{CONTENT_SECURITY_POLICY}">'
    head = page.find("<head>")
    if head < 0:
        raise ReportError("the report has no <head>")
    cut = head + len("<head>")
    return page[:cut] + meta + page[cut:]
