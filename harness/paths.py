"""Where things are in the repository: the one place that knows its layout."""

from __future__ import annotations

from pathlib import Path

#: The repository's root (the tree whose application is built and deployed).
REPO_ROOT = Path(__file__).resolve().parents[1]
#: The deployment's Terraform configuration.
TERRAFORM_DIR = REPO_ROOT / "terraform"
#: Where each aws run keeps its own copy of terraform/ and its state.
RUNS_DIR = REPO_ROOT / ".runs"
