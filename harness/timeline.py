"""A deployment's life as it happened: the phases the harness went through, with their times,
and what the deployment said at those moments (its first boot's log, what Terraform created,
the teardown check's verdict).

Each target keeps one :class:`Timeline`; the deploy sequence, the targets' start, restart and
stop, and the teardown check record into it as they run (never afterwards, from logs), and
the report draws it (harness/report/life.py).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from typing import Any

# The phases, in the order a deployment goes through them.
INIT = "init"
APPLY = "plan/apply"
#: What happens to the instance once the apply has created it: nothing on AWS (the provider
#: waited for it to run), its sandbox's start in the rehearsal.
INSTANCE = "instance running"
#: From the instance running (the apply's end) until its user data asks for the application.
FIRST_BOOT = "first boot"
DELIVERY = "delivery"
#: From the application received until /health answers: Docker installed, the image built.
IMAGE_BUILD = "image build, until healthy"
#: --reuse: the plan that says whether the tree would change the kept deployment.
PLAN = "plan"
#: A local target's image, or a process's start, until /health answers.
BUILD = "image build"
START = "start, until healthy"
#: --reuse: the kept deployment's wait for /health.
HEALTHY = "until healthy"
SCENARIOS = "scenarios"
RESTART = "restart"
REBOOT = "reboot"
STOP = "stop"
DESTROY = "destroy"
TEARDOWN_CHECK = "teardown check"

# What a deployment said, by name.
FIRST_BOOT_LOG = "first boot log"
CREATED = "what Terraform created"
TEARDOWN_VERDICT = "teardown check"


@dataclass(frozen=True)
class Phase:
    """One phase: its name, when it started and ended (seconds since the epoch), and whether
    it ended well (False: it raised, or was interrupted)."""

    name: str
    start: float
    stop: float
    ok: bool = True

    @property
    def seconds(self) -> float:
        return self.stop - self.start


@dataclass
class Timeline:
    """The phases of one deployment, in the order they began, and its notes."""

    phases: list[Phase] = field(default_factory=list)
    notes: dict[str, str] = field(default_factory=dict)

    @contextmanager
    def phase(self, name: str) -> Iterator[None]:
        """Record the block as the phase ``name`` (not ok if it raises)."""
        start = time.time()
        index = len(self.phases)
        self.phases.append(Phase(name, start, start, ok=False))  # in order of beginning
        ok = False
        try:
            yield
            ok = True
        finally:
            self.phases[index] = Phase(name, start, time.time(), ok=ok)

    def note(self, name: str, text: str) -> None:
        """Keep what the deployment said (the latest text under ``name`` wins)."""
        self.notes[name] = text

    def __bool__(self) -> bool:
        return bool(self.phases)

    def durations(self) -> list[tuple[str, float]]:
        """Each phase's name and seconds, in order."""
        return [(phase.name, phase.seconds) for phase in self.phases]

    def as_dict(self) -> dict[str, Any]:
        """The phases as plain data (what the report keeps beside the picture)."""
        return {"phases": [asdict(phase) for phase in self.phases]}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Timeline:
        return cls(phases=[Phase(**phase) for phase in data.get("phases", [])])


def summary_line(timeline: Timeline) -> str:
    """``init 4s · plan/apply 21s · …``: each phase and how long it took (a restart counted
    once per phase, as often as it happened)."""
    return " · ".join(
        f"{name} {duration(seconds)}" + ("" if phase.ok else " (failed)")
        for phase, (name, seconds) in zip(timeline.phases, timeline.durations(), strict=True)
    )


def duration(seconds: float) -> str:
    """``4.2s``, ``21s``, ``3m05s``."""
    if seconds < 10:
        return f"{seconds:.1f}s"
    if seconds < 120:
        return f"{seconds:.0f}s"
    return f"{seconds // 60:.0f}m{seconds % 60:02.0f}s"
