"""Which cloud a run uses, real AWS or the offline rehearsal: decided here and nowhere else,
from the command line's flags for a new run, from its record for a recorded one.

The rehearsal needs Docker and an AWS emulator, real AWS neither: it is imported here only,
and only when asked for.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from harness.cloud import Cloud, RealAws
from harness.errors import TargetUnavailable
from harness.runs import Progress

#: How a user starts an emulator that outlives one command.
EMULATOR_COMMAND = "python -m harness.rehearsal.emulator"


def choose(
    *,
    rehearse: bool,
    emulator_url: str | None,
    progress: Progress,
    outlives_the_command: str | None = None,
) -> Cloud:
    """The cloud the flags ask for. With ``--rehearse`` and no ``--emulator-url`` an emulator
    is started for this command and ends with it (:meth:`Cloud.close`) — refused when the
    run must outlive the command (``outlives_the_command`` says why it must)."""
    if not rehearse:
        if emulator_url:
            raise TargetUnavailable("--emulator-url needs --rehearse")
        return RealAws()
    from harness.rehearsal import Rehearsal

    if emulator_url is not None:
        return Rehearsal(emulator_url)
    if outlives_the_command:
        raise TargetUnavailable(
            f"{outlives_the_command} needs --emulator-url: the emulator a command starts ends "
            f"with it (start one that outlives it with: {EMULATOR_COMMAND})"
        )
    return Rehearsal.with_own_emulator(progress)


def from_record(record: Mapping[str, Any]) -> Cloud:
    """The cloud a recorded run was deployed to."""
    kind = record.get("kind", RealAws.kind)
    if kind == RealAws.kind:
        return RealAws()
    from harness.rehearsal import Rehearsal

    if kind == Rehearsal.kind:
        mirror = record.get("provider_mirror")
        return Rehearsal(
            str(record["emulator_url"]), provider_mirror=Path(mirror) if mirror else None
        )
    raise ValueError(f"unknown cloud {kind!r} in the run's record")


def check_existing_deployment(base_url: str, *, rehearse: bool) -> None:
    """A deployment given by URL: in a rehearsal, only one on this machine."""
    if rehearse:
        from harness.rehearsal import require_loopback

        require_loopback(base_url, "--base-url in a rehearsal")
