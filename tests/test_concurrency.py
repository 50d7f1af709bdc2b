"""500 concurrent updates against a real server: every one logged once, the log one unbroken
chain of changes, and the state the newest row's."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import requests

from harness.client import API_KEY_HEADER, ApiClient
from harness.targets.process import ServiceProcess
from tests.live import running_server, server_output

pytestmark = pytest.mark.slow  # a real server

UPDATES = 500
WORKERS = 40


@pytest.fixture
def server(tmp_path: Path) -> Iterator[ServiceProcess]:
    with running_server(tmp_path) as running:
        yield running


def test_concurrent_updates_form_one_chain(server: ServiceProcess) -> None:
    client = ApiClient(server.base_url, server.api_key)
    client.set_state(counter=-1, message="before the crowd")
    rows_before = client.all_logs()
    sessions = threading.local()

    def send(n: int) -> requests.Response:
        if not hasattr(sessions, "session"):
            sessions.session = requests.Session()
        # Odd updates set both fields, even ones the counter alone: partial updates interleave.
        body: dict[str, Any] = {"counter": n}
        if n % 2:
            body["message"] = f"update {n}"
        session: requests.Session = sessions.session
        return session.post(
            f"{server.base_url}/update",
            json=body,
            headers={API_KEY_HEADER: server.api_key or ""},
            timeout=30,
        )

    with ThreadPoolExecutor(max_workers=WORKERS) as pool:
        answers = list(pool.map(send, range(UPDATES)))

    failed = [(a.status_code, a.text) for a in answers if a.status_code != 200]
    assert not failed, f"{len(failed)} updates failed, e.g. {failed[:3]}\n{server_output(server)}"
    rows = client.all_logs()
    new_rows = rows[len(rows_before) :]
    assert len(rows) == len(rows_before) + UPDATES
    assert client.log_total() == len(rows)

    # One unbroken chain: each change starts where the one before it (by id) ended.
    previous = rows_before[-1]["new_value"]
    for row in new_rows:
        assert row["old_value"] == previous, f"row {row['id']} does not follow the row before it"
        previous = row["new_value"]
    assert sorted(row["new_value"]["counter"] for row in new_rows) == list(range(UPDATES))
    timestamps = [row["timestamp"] for row in rows]
    assert timestamps == sorted(timestamps), "log timestamps went backwards"

    # Each answer is exactly the row it names.
    by_id = {row["id"]: row for row in new_rows}
    answered_ids = [answer.json()["log_id"] for answer in answers]
    assert sorted(answered_ids) == sorted(by_id)
    for n, answer in enumerate(answers):
        body = answer.json()
        row = by_id[body["log_id"]]
        assert (body["old_state"], body["state"]) == (row["old_value"], row["new_value"])
        assert body["state"]["counter"] == n

    assert client.current_state() == new_rows[-1]["new_value"]
