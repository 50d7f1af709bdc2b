"""Fixtures for the tests of the service's own parts."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import requests
from tenacity import Retrying, retry_if_exception_type, stop_after_delay, wait_fixed

from app.store import LogStore
from harness.ports import free_port


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
    """moto's server, an AWS emulator over real HTTP, on a free loopback port."""
    port = free_port()
    moto_server = Path(sys.executable).parent / "moto_server"
    command = [str(moto_server)] if moto_server.exists() else [sys.executable, "-m", "moto.server"]
    process = subprocess.Popen(
        [*command, "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    endpoint = f"http://127.0.0.1:{port}"
    try:
        for attempt in Retrying(
            stop=stop_after_delay(30),
            wait=wait_fixed(0.05),  # moto answers within a few seconds; poll closely
            retry=retry_if_exception_type(requests.RequestException),
            reraise=True,
        ):
            with attempt:
                if process.poll() is not None:
                    pytest.fail(f"moto_server exited with {process.returncode}")
                requests.get(f"{endpoint}/moto-api/", timeout=2).raise_for_status()
        yield endpoint
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
