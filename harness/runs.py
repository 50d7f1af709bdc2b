"""One aws run on disk: its record and its directory, and nothing else.

Each run works in ``.runs/RUN_ID/`` (a copy of ``terraform/`` with its own state), so two runs
never collide; ``run.json`` there records what a later ``--reuse`` or ``scripts/destroy.py``
needs. The API key is kept beside it in a file only its owner can read (never in the record).
``.runs/latest`` points at the newest run.

This module depends on no other part of the harness but its paths, its errors and the name
of Terraform's lock file: the clouds, the deploy sequence and the teardown all take a
:class:`RunFiles`.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import shutil
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from harness.errors import DeploymentError
from harness.paths import REPO_ROOT, RUNS_DIR, TERRAFORM_DIR
from harness.terraform import LOCK_FILE

#: Where a long step reports what it is doing, a line at a time.
Progress = Callable[[str], None]

LATEST = "latest"
RECORD = "run.json"
#: The instance's time to live (its dead man's switch), in whole minutes, within the bounds
#: terraform/variables.tf's validation of ttl_minutes sets: a first boot takes minutes; a day.
TTL_MINUTES_MIN = 15
TTL_MINUTES_MAX = 24 * 60


@dataclass
class RunRecord:
    """What is known about one run, kept in ``run.json`` (never the key)."""

    run_id: str
    region: str
    allowed_cidrs: list[str]
    instance_type: str | None = None
    ttl_minutes: int | None = None
    outputs: dict[str, Any] = field(default_factory=dict)
    created_at: float = field(default_factory=time.time)
    #: Where the run's AWS is (:meth:`harness.cloud.Cloud.record`).
    cloud: dict[str, Any] = field(default_factory=dict)


class RunFiles:
    """A run's record and the files of its directory."""

    def __init__(self, record: RunRecord, *, runs_dir: Path = RUNS_DIR) -> None:
        self.record = record
        self.runs_dir = runs_dir
        self.workdir = runs_dir / record.run_id

    @property
    def tf_dir(self) -> Path:
        return self.workdir / "terraform"

    @property
    def key_file(self) -> Path:
        return self.workdir / "api_key"

    @property
    def saved_lock_file(self) -> Path:
        """The lock file of the first init, shared by later runs (same provider package)."""
        return self.runs_dir / LOCK_FILE

    def plugin_cache_dir(self) -> Path:
        """Where every run's providers are kept once (Terraform links them into each run)."""
        return self.runs_dir / ".terraform-plugins"

    def prepare(self, api_key: str) -> None:
        """A fresh copy of terraform/, the record, and the key (owner-only)."""
        if self.workdir.exists():
            raise DeploymentError(
                f"{self.workdir} exists already: is run {self.record.run_id} still deployed?"
            )
        self.workdir.mkdir(parents=True, mode=0o700)
        shutil.copytree(
            TERRAFORM_DIR,
            self.tf_dir,
            ignore=shutil.ignore_patterns(".terraform", "*.tfstate*", "*.tfvars", LOCK_FILE),
        )
        descriptor = os.open(self.key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w") as handle:
            handle.write(api_key)
        self.save()
        latest = self.runs_dir / LATEST
        latest.unlink(missing_ok=True)
        latest.symlink_to(self.record.run_id)

    def save(self) -> None:
        (self.workdir / RECORD).write_text(json.dumps(asdict(self.record), indent=2) + "\n")

    def api_key(self) -> str:
        return self.key_file.read_text()

    def finish_command(self) -> str:
        """The one command that finishes the cleanup of this run by hand: this Python (the
        one with boto3), the script by its full path, so that it runs from anywhere."""
        script = REPO_ROOT / "scripts" / "destroy.py"
        return shlex.join([sys.executable, str(script), "--run-dir", str(self.workdir)])

    def forget(self) -> None:
        """Delete the working directory once everything it describes is gone."""
        latest = self.runs_dir / LATEST
        if latest.is_symlink() and os.readlink(latest) == self.record.run_id:
            latest.unlink()
        shutil.rmtree(self.workdir, ignore_errors=True)


def ttl_minutes(text: str) -> int:
    """A ``--ttl-minutes`` value, checked as Terraform checks ``ttl_minutes``, so that a wrong
    one is refused before anything is created (an argparse ``type=``)."""
    try:
        minutes = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number of minutes") from None
    if not TTL_MINUTES_MIN <= minutes <= TTL_MINUTES_MAX:
        raise argparse.ArgumentTypeError(
            f"{minutes} is out of range: the instance's time to live is {TTL_MINUTES_MIN} "
            f"(a first boot takes minutes) to {TTL_MINUTES_MAX} minutes (one day)"
        )
    return minutes


def read_record(workdir: Path) -> RunRecord:
    """The record kept in ``workdir`` (a run's directory)."""
    try:
        data = json.loads((workdir / RECORD).read_text())
    except FileNotFoundError:
        raise DeploymentError(f"no run recorded in {workdir} ({RECORD} is missing)") from None
    return RunRecord(**data)


def latest_run_dir(runs_dir: Path = RUNS_DIR) -> Path:
    """The working directory of the most recent run still recorded."""
    latest = runs_dir / LATEST
    if not latest.exists():
        raise DeploymentError(
            f"no recorded run in {runs_dir}: deploy with --keep first (or give --run-dir)"
        )
    return latest.resolve()


def region_from(environ: Mapping[str, str] | None = None, default: str = "eu-west-1") -> str:
    """The region AWS's own tools would use: ``$AWS_REGION``, ``$AWS_DEFAULT_REGION``, else
    ``default``."""
    environ = os.environ if environ is None else environ
    return environ.get("AWS_REGION") or environ.get("AWS_DEFAULT_REGION") or default
