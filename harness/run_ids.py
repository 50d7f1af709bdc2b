"""Run ids: what one may look like, and when one given on a command line is refused.

A run id is a ``RunId`` tag value, part of Terraform's resource names (``state-api-RUN-``),
of Docker's container, volume and image names, and a directory under ``.runs/``; the rule
below fits all of them and is the one terraform/variables.tf validates. The workflow's
``gh-<run id>-<attempt>`` fits it.
"""

from __future__ import annotations

import re
from pathlib import Path

#: terraform/variables.tf's validation of var.run_id, word for word.
RUN_ID_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,39}")
#: Names the runs directory uses for itself.
RESERVED = frozenset({"latest"})


def check_run_id_format(run_id: str) -> str:
    """``run_id`` when it may name a run; ValueError saying why not otherwise."""
    if not RUN_ID_PATTERN.fullmatch(run_id):
        raise ValueError(
            f"run id {run_id!r} is not valid: 1 to 40 letters, digits or . _ - characters, "
            "starting with a letter or digit (e.g. gh-123456789-1)"
        )
    if run_id in RESERVED:
        raise ValueError(f"run id {run_id!r} is not valid: the runs directory uses that name")
    return run_id


def check_new_run_id(run_id: str, runs_dir: Path) -> str:
    """``run_id`` when it is valid and no run of that id is recorded in ``runs_dir``."""
    check_run_id_format(run_id)
    if (runs_dir / run_id).exists():
        raise ValueError(
            f"run id {run_id!r} is taken: {runs_dir / run_id} exists (destroy that run with "
            f"state-api-destroy --run-dir {runs_dir / run_id}, or choose another id)"
        )
    return run_id
