"""The Markdown summary: features by targets → passed / failed / skipped, why not passed, and
one line per target with how long each phase of its deployment took.

Nothing in the table changes from one run to the next unless an outcome does (no ports, no
run ids), so the committed copy shows a change of outcome as a one-line diff; only the last
section, the phases' durations, changes with every run.
"""

from __future__ import annotations

import os
from collections import Counter
from pathlib import Path

from harness.paths import REPO_ROOT
from harness.report.results import Result, targets
from harness.timeline import Timeline, summary_line

#: Allure's statuses, in the order a cell lists them.
STATUSES = ("passed", "failed", "broken", "skipped", "unknown")


def render(
    results: list[Result],
    *,
    summary_path: Path,
    html_path: Path,
    timelines: dict[str, Timeline] | None = None,
) -> str:
    """The summary's Markdown; links are relative to ``summary_path``'s folder; ``timelines``
    are the deployments' phases, by target."""
    names = targets(results)
    here = summary_path.parent
    html = _relative(html_path, here)
    lines = [
        "# Acceptance summary",
        "",
        "What the scenarios of `features/` did on each target in the last run of the test command",
        "(`scripts/test.sh`, which writes this file). One count per scenario, and per example of",
        "a scenario outline. Every step, with the request and the answer behind it, is in the HTML",
        f"report: [`{html}`]({html}) (not committed; see the README).",
        "",
    ]
    if not results:
        return "\n".join([*lines, "No scenario ran.", ""])
    lines += [
        "| feature | " + " | ".join(names) + " |",
        "|---" * (len(names) + 1) + "|",
    ]
    by_feature: dict[tuple[str, str], list[Result]] = {}
    for result in results:
        by_feature.setdefault((result.feature_file, result.feature), []).append(result)
    for (feature_file, feature), found in sorted(by_feature.items()):
        cells = [_cell([r for r in found if r.target == name]) for name in names]
        link = _relative(Path(feature_file), here) if feature_file else ""
        title = f"[{feature}]({link})" if link else feature
        lines.append(f"| {title} | " + " | ".join(cells) + " |")
    totals = [_cell([r for r in results if r.target == name]) for name in names]
    lines.append("| **all** | " + " | ".join(totals) + " |")

    others = sorted(
        (r for r in results if r.status != "passed"),
        key=lambda r: (names.index(r.target), r.feature_file, r.scenario, r.example),
    )
    if others:
        lines += ["", "## Not passed", "", "| target | feature | scenario | status | why |"]
        lines.append("|---|---|---|---|---|")
        for r in others:
            scenario = f"{r.scenario} ({r.example})" if r.example else r.scenario
            lines.append(
                f"| {r.target} | {r.feature} | {_escape(scenario)} | {r.status} "
                f"| {_escape(_first_line(r.message))} |"
            )
    lived = [(name, timelines[name]) for name in names if timelines and timelines.get(name)]
    if lived:
        lines += [
            "",
            "## How long each deployment took",
            "",
            "Each phase of the deployment the scenarios ran against, in the order it began (the",
            "timeline is drawn in the HTML report, under Global Attachments).",
            "",
            "| target | phases |",
            "|---|---|",
        ]
        lines += [f"| {name} | {_escape(summary_line(timeline))} |" for name, timeline in lived]
    return "\n".join([*lines, ""])


def _cell(results: list[Result]) -> str:
    if not results:
        return "—"
    counts = Counter(r.status for r in results)
    return ", ".join(f"{counts[s]} {s}" for s in STATUSES if counts[s])


def _first_line(message: str) -> str:
    line = message.strip().splitlines()[0] if message.strip() else ""
    return line if len(line) <= 160 else line[:157] + "..."


def _escape(text: str) -> str:
    return text.replace("|", "\\|")


def _relative(path: Path, start: Path) -> str:
    absolute = path if path.is_absolute() else REPO_ROOT / path
    return Path(os.path.relpath(absolute, start)).as_posix()
