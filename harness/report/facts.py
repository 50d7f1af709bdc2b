"""When and against what a scenario ran: the commit of the tree and the deployment."""

from __future__ import annotations

import functools
import shutil
import subprocess

from harness.paths import REPO_ROOT
from harness.targets import Target


@functools.cache
def of_tree() -> dict[str, str]:
    """The commit the tree is at, ``-dirty`` when it has changes; nothing outside git."""
    git = shutil.which("git")
    if git is None:
        return {}
    try:
        commit = _git(git, "rev-parse", "--short=12", "HEAD")
        changed = _git(git, "status", "--porcelain", "--untracked-files=no")
    except (OSError, subprocess.SubprocessError):
        return {}
    return {"commit": commit + ("-dirty" if changed else "")}


def of_target(target: Target) -> dict[str, str]:
    """The deployment's URL and what the target says it was (run id, image)."""
    return {"url": target.endpoint.base_url, **target.facts()}


def _git(git: str, *args: str) -> str:
    completed = subprocess.run(  # nosec B603 - git from PATH, fixed arguments, no shell
        [git, *args], cwd=REPO_ROOT, capture_output=True, text=True, timeout=30, check=True
    )
    return completed.stdout.strip()
