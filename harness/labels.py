"""The labels and tags of everything a run makes: one schema, for Docker's labels and AWS's
tags alike (the teardown check and .ci/run look for them).

- ``Project``: always ``state-api``.
- ``RunId``: the run's own id (``run-`` and 12 hex digits), unique per deployment.
- ``ManagedBy``: ``harness`` on whatever the harness makes, containers and AWS resources; a
  bare ``terraform apply`` of terraform/ writes its variable's default there instead.
"""

from __future__ import annotations

PROJECT = "state-api"
MANAGED_BY = "harness"

PROJECT_KEY = "Project"
RUN_ID_KEY = "RunId"
MANAGED_BY_KEY = "ManagedBy"

#: The label naming the EC2 instance a rehearsal's sandbox container plays; the local
#: target's containers never carry it.
INSTANCE_LABEL = f"{PROJECT}.instance-id"


def run_labels(run_id: str) -> dict[str, str]:
    """Every label (tag) of what the run ``run_id`` makes."""
    return {PROJECT_KEY: PROJECT, RUN_ID_KEY: run_id, MANAGED_BY_KEY: MANAGED_BY}


def run_selector(run_id: str) -> dict[str, str]:
    """The labels (tags) that pick out one run's resources, and nothing else."""
    return {PROJECT_KEY: PROJECT, RUN_ID_KEY: run_id}


def harness_selector() -> dict[str, str]:
    """The labels that pick out everything the harness made, whatever the run."""
    return {PROJECT_KEY: PROJECT, MANAGED_BY_KEY: MANAGED_BY}
