"""Crashes and clean stops, against a real server: a process, and the service's container.

SIGKILL in the middle of a stream of updates, then a start over the same data: every update
that was answered 200 is in the log, and the state restored is the newest row's. A SIGTERM
stops the service within a few seconds, with no error in its output.
"""

from __future__ import annotations

import itertools
import re
import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from harness.client import API_KEY_HEADER, ApiClient
from harness.readiness import wait_for_health
from harness.targets.base import StartFailed, TargetOptions
from harness.targets.local import LocalTarget
from tests.live import new_server, server_output

pytestmark = pytest.mark.slow  # real servers and containers

STREAMS = 4
#: Updates answered before the crash: enough that it lands mid-stream, not at the start.
ANSWERED_BEFORE_KILL = 150
#: A behavioural bound, not a benchmark: uvicorn's graceful shutdown takes well under 1 s here.
SIGTERM_BOUND = 5.0
ERRORS = re.compile(r"\bERROR\b|Traceback|CRITICAL")


class UpdateStream:
    """Threads posting updates until stopped; remembers every update answered 200."""

    def __init__(self, base_url: str, api_key: str | None, threads: int = STREAMS) -> None:
        self.url = f"{base_url}/update"
        self.headers = {API_KEY_HEADER: api_key} if api_key else {}
        self.answered: dict[int, dict[str, Any]] = {}  # log_id -> the state it answered
        self.failures = 0
        self._numbers = itertools.count(1)
        self._lock = threading.Condition()
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._run, daemon=True) for _ in range(threads)]

    def __enter__(self) -> UpdateStream:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=15)

    def _run(self) -> None:
        session = requests.Session()
        while not self._stop.is_set():
            with self._lock:
                n = next(self._numbers)
            body = {"counter": n, "message": f"stream {n}"}
            try:
                answer = session.post(self.url, json=body, headers=self.headers, timeout=5)
            except requests.RequestException:
                with self._lock:
                    self.failures += 1
                session = requests.Session()
                time.sleep(0.02)
                continue
            if answer.status_code == 200:
                with self._lock:
                    self.answered[answer.json()["log_id"]] = answer.json()["state"]
                    self._lock.notify_all()

    def wait_for(self, count: int, timeout: float = 30.0) -> None:
        """Until ``count`` updates have been answered (woken by each answer, not polling)."""
        with self._lock:
            reached = self._lock.wait_for(lambda: len(self.answered) >= count, timeout)
        assert reached, f"only {len(self.answered)} updates answered"


def assert_nothing_answered_was_lost(client: ApiClient, stream: UpdateStream) -> None:
    rows = client.all_logs()
    by_id = {row["id"]: row["new_value"] for row in rows}
    lost = [log_id for log_id, state in stream.answered.items() if by_id.get(log_id) != state]
    assert not lost, f"{len(lost)} updates answered 200 are not in the log: {lost[:10]}"
    assert client.current_state() == rows[-1]["new_value"], "the state is not the newest row's"
    for before, after in itertools.pairwise(rows):
        assert after["old_value"] == before["new_value"], f"row {after['id']} breaks the chain"


# -- a process ---------------------------------------------------------------------------------


def test_sigkill_mid_stream_loses_no_answered_update(tmp_path: Path) -> None:
    server = new_server(tmp_path)
    server.start()
    try:
        with UpdateStream(server.base_url, server.api_key) as stream:
            stream.wait_for(ANSWERED_BEFORE_KILL)
            server.kill()
        assert len(stream.answered) >= ANSWERED_BEFORE_KILL
        server.start()
        client = ApiClient(server.base_url, server.api_key)
        assert_nothing_answered_was_lost(client, stream)
        assert client.update({"counter": 0}).status_code == 200, "no update after the restart"
    finally:
        server.stop()


def test_sigterm_stops_cleanly_and_quickly(tmp_path: Path) -> None:
    server = new_server(tmp_path)
    server.start()
    try:
        with UpdateStream(server.base_url, server.api_key, threads=2) as stream:
            stream.wait_for(50)
            started = time.monotonic()
            code = server.stop(timeout=SIGTERM_BOUND * 3)
            took = time.monotonic() - started
    finally:
        server.stop()
    output = server_output(server)
    assert took < SIGTERM_BOUND, f"SIGTERM took {took:.2f}s\n{output}"
    # uvicorn re-raises the signal once it has shut down, so that its exit tells why it stopped.
    assert code in (0, -signal.SIGTERM), output
    assert not ERRORS.findall(output), output
    assert "Application shutdown complete" in output, output
    assert "Finished server process" in output, output


# -- the container (the `local` target) --------------------------------------------------------


@pytest.fixture
def container() -> Iterator[LocalTarget]:
    target = LocalTarget(TargetOptions())
    try:
        with target.deployed():
            yield target
    except StartFailed as exc:
        if not exc.unavailable:
            raise
        pytest.skip(f"no container here: {exc}")


def test_docker_kill_mid_stream_loses_no_answered_update(container: LocalTarget) -> None:
    base_url, api_key = container.endpoint.base_url, container.endpoint.api_key
    with UpdateStream(base_url, api_key) as stream:
        stream.wait_for(ANSWERED_BEFORE_KILL, timeout=60)
        container.docker.run("kill", "--signal", "KILL", container.container)
    container.docker.run("start", container.container, timeout=60)
    wait_for_health(base_url, timeout=60)
    client = ApiClient(base_url, api_key)
    assert_nothing_answered_was_lost(client, stream)


def test_docker_stop_is_clean_and_quick(container: LocalTarget) -> None:
    client = ApiClient(container.endpoint.base_url, container.endpoint.api_key)
    assert client.update({"counter": 1}).status_code == 200
    started = time.monotonic()
    container.docker.run("stop", "--time", "30", container.container, timeout=60)
    took = time.monotonic() - started
    logs = container.docker.logs(container.container, tail=200)
    exit_code = container.docker.inspect(container.container)["State"]["ExitCode"]
    assert took < SIGTERM_BOUND, f"docker stop took {took:.2f}s\n{logs}"
    assert exit_code == 0, logs
    assert not ERRORS.findall(logs), logs
