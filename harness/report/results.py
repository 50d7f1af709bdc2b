"""The Allure results of a run, read back: one record per scenario (and example) per target."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.targets import TARGETS

#: The label (and parameter) that names the target a result ran on (plugin.py writes it).
TARGET = "target"
#: The label that names the feature file, relative to the repository.
FEATURE_FILE = "feature_file"


@dataclass(frozen=True)
class Result:
    """One scenario (or one example of an outline) on one target."""

    feature: str
    feature_file: str
    scenario: str
    parameters: tuple[tuple[str, str], ...]
    target: str
    status: str
    message: str
    stop: int

    @property
    def example(self) -> str:
        """The example's values, as ``name=value, ...`` (empty for a plain scenario)."""
        return ", ".join(f"{name}={value}" for name, value in self.parameters)


def read(results_dir: Path) -> list[Result]:
    """Every scenario result in ``results_dir``; a scenario run twice on one target (a rerun)
    counts once, as its latest run."""
    latest: dict[tuple[str, str], Result] = {}
    for path in sorted(results_dir.glob("*-result.json")):
        raw: dict[str, Any] = json.loads(path.read_text())
        labels = _labels(raw)
        if TARGET not in labels:
            continue  # not a scenario of this harness
        result = Result(
            feature=labels.get("feature", raw.get("fullName", "?").split(":")[0]),
            feature_file=labels.get(FEATURE_FILE, ""),
            scenario=raw.get("name", "?"),
            parameters=tuple(
                (p["name"], str(p.get("value", "")))
                for p in raw.get("parameters", [])
                if p.get("name") != TARGET
            ),
            target=labels[TARGET],
            status=raw.get("status", "unknown"),
            message=(raw.get("statusDetails") or {}).get("message", ""),
            stop=int(raw.get("stop", 0)),
        )
        key = (raw.get("historyId", path.name), result.target)
        if key not in latest or latest[key].stop <= result.stop:
            latest[key] = result
    return list(latest.values())


def targets(results: list[Result]) -> list[str]:
    """The targets present, in the harness's own order (unknown names after, sorted)."""
    present = {r.target for r in results}
    known = [name for name in TARGETS if name in present]
    return known + sorted(present - set(known))


def _labels(raw: dict[str, Any]) -> dict[str, str]:
    return {
        str(label.get("name")): str(label.get("value"))
        for label in raw.get("labels", [])
        if label.get("name")
    }
