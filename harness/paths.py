"""The repository's root, and the places in it that several modules share (terraform/,
.runs/). A place only one module uses (reports/, the sandbox) is named in that module."""

from __future__ import annotations

import os
from pathlib import Path

#: The repository's root (the tree whose application is built and deployed).
REPO_ROOT = Path(__file__).resolve().parents[1]
#: The deployment's Terraform configuration.
TERRAFORM_DIR = REPO_ROOT / "terraform"
#: Where each aws run keeps its own copy of terraform/ and its state.
RUNS_DIR = REPO_ROOT / ".runs"


def repo_path(path: str | os.PathLike[str]) -> str:
    """``path`` relative to the repository (with forward slashes) where it is inside it, else
    as it was given."""
    absolute = Path(path).resolve()
    if not absolute.is_relative_to(REPO_ROOT):
        return os.fspath(path)
    return absolute.relative_to(REPO_ROOT).as_posix()
