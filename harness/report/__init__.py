"""The acceptance run as a report that reads as the spec: Allure results, per target, with
every request and answer (the key redacted), rendered as one HTML file and a Markdown summary.
"""

from __future__ import annotations

from harness.paths import REPO_ROOT

#: Where the test command writes reports (ignored by git, but for the two files below).
REPORTS_DIR = REPO_ROOT / "reports"
#: The results of one test-command run, every session and target together.
RESULTS_DIR = REPORTS_DIR / "allure-results"
#: Where Allure writes the report: index.html there is the whole report, in one file.
HTML_DIR = REPORTS_DIR / "allure-report"
HTML_REPORT = HTML_DIR / "index.html"
#: Committed: the feature-by-target table the README links to.
SUMMARY = REPORTS_DIR / "summary.md"
#: Committed: the pictures of the report the README shows (screenshot.png and
#: screenshot-step.png), made by `python -m harness.report screenshots`.
SCREENSHOTS_DIR = REPORTS_DIR
