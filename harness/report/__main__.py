"""Make the report of a run, or the README's pictures of it.

    python -m harness.report build         # reports/summary.md and reports/allure-report/index.html
    python -m harness.report screenshots   # reports/screenshot.png and screenshot-step.png

Exit codes: 0 done; 1 the report or the screenshots could not be made (the reason is
printed); 2 nothing to report (no scenario results in the results directory).
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

from harness.report import (
    HTML_DIR,
    HTML_REPORT,
    RESULTS_DIR,
    SCREENSHOTS_DIR,
    SUMMARY,
    life,
    summary,
)
from harness.report import results as results_module
from harness.report.browser import BrowserUnavailable, open_page
from harness.report.html import ReportError, render
from harness.report.pages import screenshots

logger = logging.getLogger(__name__)

#: What the README's second picture shows: one step, its request and its answer.
STEP_SHOWN = ("API key", "An update with the key is accepted", "When the client sets the counter")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m harness.report", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    build = commands.add_parser("build", help="write the Markdown summary and the HTML report")
    build.add_argument(
        "--results", type=Path, default=RESULTS_DIR, help="the Allure results (%(default)s)"
    )
    build.add_argument(
        "--html-dir", type=Path, default=HTML_DIR, help="where the HTML goes (%(default)s)"
    )
    build.add_argument("--summary", type=Path, default=SUMMARY, help="the summary (%(default)s)")
    build.add_argument(
        "--name", default="state-api: the acceptance scenarios", help="the report's title"
    )
    shots = commands.add_parser("screenshots", help="photograph the HTML report for the README")
    shots.add_argument("--html", type=Path, default=HTML_REPORT, help="the report (%(default)s)")
    shots.add_argument(
        "--output", type=Path, default=SCREENSHOTS_DIR, help="where the PNGs go (%(default)s)"
    )
    args = parser.parse_args(argv)
    if args.command == "build":
        return _build(args.results, args.html_dir, args.summary, args.name)
    return _screenshots(args.html, args.output)


def _build(results_dir: Path, html_dir: Path, summary_path: Path, name: str) -> int:
    found = results_module.read(results_dir) if results_dir.is_dir() else []
    if not found:
        logger.error("no scenario results in %s: nothing to report", results_dir)
        return 2
    try:
        page = render(results_dir, html_dir, targets=results_module.targets(found), name=name)
    except ReportError as exc:
        logger.error("%s", exc)
        return 1
    timelines = life.read_phases(results_dir)
    summary_path.write_text(
        summary.render(found, summary_path=summary_path, html_path=page, timelines=timelines)
    )
    logger.info("report: %s (%.1f MB); summary: %s", page, page.stat().st_size / 1e6, summary_path)
    return 0


def _screenshots(html: Path, output: Path) -> int:
    if not html.exists():
        logger.error("%s does not exist: run scripts/test.sh (or build) first", html)
        return 1
    feature, scenario, step = STEP_SHOWN
    try:
        with open_page(html) as page:
            screenshots(page, output, feature=feature, scenario=scenario, step=step)
    except BrowserUnavailable as exc:
        logger.error("%s", exc)
        return 1
    made = sorted(output.glob("screenshot*.png"))
    logger.info("screenshots: %s", ", ".join(str(p) for p in made))
    return 0


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stderr)
    raise SystemExit(main())
