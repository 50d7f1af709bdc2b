"""Fixtures for the tests of the service's own parts."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from app.store import LogStore
from harness.docker import Docker
from harness.provider import find_mirror, pinned_version
from harness.rehearsal.emulator import Emulator
from harness.terraform import TerraformNotFound, terraform_command


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "nested" / "dir" / "logs.db"


@pytest.fixture
def store(db_path: Path) -> Iterator[LogStore]:
    log_store = LogStore(db_path)
    yield log_store
    log_store.close()


@contextmanager
def failing_writes(path: Path, message: str = "disk is full") -> Iterator[None]:
    """Make every INSERT into the log fail inside SQLite itself, as a full disk would."""
    conn = sqlite3.connect(path)
    try:
        conn.execute(
            "CREATE TRIGGER fail_writes BEFORE INSERT ON logs "
            f"BEGIN SELECT RAISE(ABORT, '{message}'); END"
        )
        conn.commit()
        yield
    finally:
        conn.execute("DROP TRIGGER IF EXISTS fail_writes")
        conn.commit()
        conn.close()


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    """moto's server, an AWS emulator over real HTTP, on a free loopback port (behind the
    rehearsal's front, as the cloud path's rehearsal reaches it)."""
    with Emulator() as emulator:
        yield emulator.url


@pytest.fixture(scope="session")
def docker_engine() -> Docker:
    """A Docker engine that answers; a test that needs one is skipped, saying why, where none
    does (asked when the test runs, never when the module is imported)."""
    docker = Docker()
    problem = docker.engine_problem()
    if problem is not None:
        pytest.skip(f"needs a Docker engine: {problem} (sudo scripts/ensure_docker.sh)")
    return docker


@pytest.fixture(scope="session")
def rehearsal_tools(docker_engine: Docker) -> None:
    """What the cloud path's rehearsal needs besides Docker: Terraform, and the pinned AWS
    provider from a mirror (the registry cannot be reached from these machines)."""
    try:
        terraform_command()
    except TerraformNotFound as exc:
        pytest.skip(str(exc))
    if find_mirror(pinned_version()) is None:
        pytest.skip(
            f"no mirror of the AWS provider {pinned_version()} on this machine "
            "(set TF_PROVIDER_MIRROR; the registry cannot be reached here)"
        )
