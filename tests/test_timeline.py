"""The deployment's life as the harness records it and the report reads it back: phases in
the order they began, a failed one marked, the picture and the summary line made from them."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest

from harness.redact import REDACTED, Redactor
from harness.report import life, summary
from harness.report.results import Result
from harness.report.writer import RedactingFileLogger
from harness.timeline import SCENARIOS, Phase, Timeline, duration, summary_line


def test_phases_are_kept_in_the_order_they_began_and_a_failed_one_says_so() -> None:
    timeline = Timeline()
    with timeline.phase("outer"), timeline.phase("inner"):
        pass
    with pytest.raises(RuntimeError), timeline.phase("broken"):
        raise RuntimeError("boom")

    assert [(p.name, p.ok) for p in timeline.phases] == [
        ("outer", True),
        ("inner", True),
        ("broken", False),
    ]
    outer, inner, _ = timeline.phases
    assert outer.start <= inner.start <= inner.stop <= outer.stop


def test_the_summary_line_gives_each_phase_its_duration() -> None:
    timeline = Timeline(
        [Phase("init", 0, 4.25), Phase("plan/apply", 4.25, 25.6), Phase("destroy", 30, 215, False)]
    )

    assert summary_line(timeline) == "init 4.2s · plan/apply 21s · destroy 3m05s (failed)"
    assert duration(0.04) == "0.0s"


def _writer(tmp_path: Path, secret: str) -> RedactingFileLogger:
    return RedactingFileLogger(tmp_path, redactor=Redactor([secret]))


def test_the_life_is_written_as_global_attachments_of_its_environment_and_read_back(
    tmp_path: Path,
) -> None:
    secret = "Key-notInAnyReport-0123456789"
    timeline = Timeline(
        [Phase("init", 100, 104), Phase(SCENARIOS, 104, 110), Phase("destroy", 110, 120)]
    )
    timeline.note("first boot log", f"boot said {secret}\n")

    names = life.attach(_writer(tmp_path, secret), "aws (rehearsed)", timeline)

    assert names == [
        "aws (rehearsed): timeline",
        "aws (rehearsed): phases.json",
        "aws (rehearsed): first boot log",
    ]
    pictures = list(tmp_path.glob("*-attachment.png"))
    assert len(pictures) == 1
    header = pictures[0].read_bytes()[:24]
    assert header[:8] == b"\x89PNG\r\n\x1a\n"
    assert struct.unpack(">II", header[16:24])[0] >= 600
    written = b"".join(path.read_bytes() for path in tmp_path.iterdir())
    assert secret.encode() not in written
    assert f"boot said {REDACTED}".encode() in written
    assert b'"environment": "aws (rehearsed)"' in written
    read = life.read_phases(tmp_path)
    assert list(read) == ["aws (rehearsed)"]
    assert read["aws (rehearsed)"].durations() == [("init", 4), (SCENARIOS, 6), ("destroy", 10)]


def test_an_empty_timeline_attaches_nothing(tmp_path: Path) -> None:
    assert life.attach(_writer(tmp_path, "x" * 12), "url", Timeline()) == []
    assert list(tmp_path.iterdir()) == []


def test_the_summary_has_one_line_per_target_with_its_phases(tmp_path: Path) -> None:
    result = Result("Status", "features/status.feature", "s", (), "local", "passed", "", 0)
    timeline = Timeline([Phase("image build", 0, 2), Phase(SCENARIOS, 2, 12)])

    text = summary.render(
        [result],
        summary_path=tmp_path / "summary.md",
        html_path=tmp_path / "index.html",
        timelines={"local": timeline},
    )

    assert "| local | image build 2.0s · scenarios 10s |" in text.splitlines()
