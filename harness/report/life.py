"""A deployment's life in the report: its timeline drawn as a picture, the phases as data, and
what it said (first boot's log, what Terraform created, the teardown check's verdict), as
global attachments of the target's environment in Allure.

They are written when the deployment has been stopped and checked, which is after the last
scenario's result: so not as a scenario's attachments, but as Allure's global ones
(``*-globals.json``, which Allure Report 3 shows under "Global Attachments", per
environment). Everything goes through the redacting writer (harness/report/writer.py).
"""

from __future__ import annotations

import io
import json
import time
import uuid
from pathlib import Path
from typing import Any

from harness.report.writer import RedactingFileLogger
from harness.timeline import SCENARIOS, Timeline, duration

#: The attachment that holds the phases as data (the summary reads it back).
PHASES = "phases.json"
TIMELINE = "timeline"
#: Bar colours: a phase that ended well, one that failed, the scenarios (the long wait).
COLOURS = {"ok": "#4c78a8", "failed": "#e45756", "scenarios": "#9ecae9"}


def attachment_name(target: str, what: str) -> str:
    """An attachment of ``target`` as the report names it: ``aws (rehearsed): timeline``."""
    return f"{target}: {what}"


def picture(timeline: Timeline, target: str) -> bytes:
    """The timeline as a PNG: one bar per phase, from when it began to when it ended, each
    with its duration; a failed phase in red."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot

    phases = timeline.phases
    origin = min(phase.start for phase in phases)
    end = max(phase.stop for phase in phases) - origin
    figure, axes = pyplot.subplots(figsize=(10, 0.45 * len(phases) + 1.4), dpi=100)
    try:
        for row, phase in enumerate(phases):
            colour = (
                COLOURS["failed"]
                if not phase.ok
                else COLOURS["scenarios"]
                if phase.name == SCENARIOS
                else COLOURS["ok"]
            )
            left = phase.start - origin
            width = max(phase.seconds, end / 400)  # a phase of no time still shows
            axes.barh(row, width, left=left, color=colour, height=0.6)
            label = f"{duration(phase.seconds)}" + ("" if phase.ok else " (failed)")
            axes.text(left + width + end / 100, row, label, va="center", fontsize=9)
        axes.set_yticks(range(len(phases)), [phase.name for phase in phases])
        axes.invert_yaxis()
        axes.set_xlim(0, end * 1.15 or 1)
        axes.set_xlabel("seconds since the deployment began")
        when = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(origin))
        axes.set_title(f"{target}: the deployment's life ({duration(end)} in all, from {when})")
        axes.grid(axis="x", alpha=0.3)
        figure.tight_layout()
        buffer = io.BytesIO()
        figure.savefig(buffer, format="png")
    finally:
        pyplot.close(figure)
    return buffer.getvalue()


def attach(writer: RedactingFileLogger, target: str, timeline: Timeline) -> list[str]:
    """Write the timeline (picture and data) and the notes as global attachments of the
    environment ``target``; returns the names written (none for an empty timeline)."""
    if not timeline:
        return []
    items: list[tuple[str, bytes, str, str]] = [
        (TIMELINE, picture(timeline, target), "image/png", "png"),
        (
            PHASES,
            json.dumps({"target": target, **timeline.as_dict()}, indent=2).encode(),
            "application/json",
            "json",
        ),
    ]
    items += [(name, text.encode(), "text/plain", "txt") for name, text in timeline.notes.items()]
    attachments: list[dict[str, Any]] = []
    for what, body, mime, extension in items:
        source = f"{uuid.uuid4()}-attachment.{extension}"
        writer.report_attached_data(body, source)
        attachments.append(
            {
                "name": attachment_name(target, what),
                "source": source,
                "type": mime,
                "timestamp": int(time.time() * 1000),
                "environment": target,
            }
        )
    writer.write_globals({"attachments": attachments, "errors": []})
    return [item["name"] for item in attachments]


def read_phases(results_dir: Path) -> dict[str, Timeline]:
    """Each target's latest timeline in ``results_dir`` (from the phases attachments)."""
    found: dict[str, tuple[int, Timeline]] = {}
    for path in sorted(results_dir.glob("*-globals.json")):
        try:
            document = json.loads(path.read_text())
        except (OSError, ValueError):
            continue
        for item in document.get("attachments", []):
            if not str(item.get("name", "")).endswith(f": {PHASES}"):
                continue
            try:
                data = json.loads((results_dir / item["source"]).read_text())
                timeline = Timeline.from_dict(data)
            except (OSError, ValueError, KeyError, TypeError):
                continue
            target = str(data.get("target", ""))
            stamp = int(item.get("timestamp", 0))
            if target and (target not in found or found[target][0] <= stamp):
                found[target] = (stamp, timeline)
    return {target: timeline for target, (_, timeline) in found.items()}
