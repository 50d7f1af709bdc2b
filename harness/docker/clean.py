"""Removing what the harness made in Docker: one run's resources, or every run's."""

from __future__ import annotations

from harness.docker.cli import Docker
from harness.labels import RUN_ID_KEY, harness_selector


def run_ids(docker: Docker) -> set[str]:
    """The run ids of every container, volume and network the harness made."""
    selector = harness_selector()
    found: set[str] = set()
    for kind, names in (
        ("container", docker.containers(selector)),
        ("volume", docker.volumes(selector)),
        ("network", docker.networks(selector)),
    ):
        for name in names:
            found.add(docker.label(kind, name, RUN_ID_KEY))
    return found - {""}


def clean(docker: Docker, run_ids_to_remove: set[str]) -> list[str]:
    """Remove everything labelled with each of the run ids; returns them, sorted."""
    removed = sorted(run_ids_to_remove)
    for run_id in removed:
        docker.remove_run(run_id)
    return removed
