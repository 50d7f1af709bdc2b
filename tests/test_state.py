"""The in-memory state and its log, changed together or not at all."""

from __future__ import annotations

import itertools
import threading
from pathlib import Path

import pytest

from app import state as state_module
from app.models import INITIAL_STATE, State
from app.state import StateService
from app.store import LogStore, StoreError
from tests.conftest import failing_writes


def test_starts_from_the_initial_state_on_an_empty_log(store: LogStore) -> None:
    assert StateService(store).state == INITIAL_STATE == State(counter=0, message="initial")


def test_an_update_changes_the_state_and_logs_it(store: LogStore) -> None:
    service = StateService(store)
    old, new, row = service.update({"counter": 5})
    assert old == INITIAL_STATE
    assert new == State(counter=5, message="initial")
    assert service.state == new
    newest = store.newest()
    assert newest == row
    assert (row.old_value, row.new_value) == (old.model_dump(), new.model_dump())


def test_restores_the_newest_state_on_start(db_path: Path) -> None:
    first = LogStore(db_path)
    StateService(first).update({"counter": 3, "message": "kept"})
    StateService(first).update({"counter": 4})
    first.close()
    second = LogStore(db_path)
    assert StateService(second).state == State(counter=4, message="kept")
    second.close()


def test_refuses_to_start_over_a_log_row_that_holds_no_state(store: LogStore) -> None:
    store.append("2026-01-01T00:00:00.000000Z", {}, {"counter": "five"})
    with pytest.raises(StoreError, match="does not hold a valid state"):
        StateService(store)


def test_a_failed_log_write_leaves_the_state_unchanged(store: LogStore, db_path: Path) -> None:
    service = StateService(store)
    service.update({"counter": 1, "message": "before"})
    with failing_writes(db_path), pytest.raises(StoreError):
        service.update({"counter": 2, "message": "lost"})
    assert service.state == State(counter=1, message="before")
    assert store.count() == 1
    _, new, _ = service.update({"counter": 3})
    assert new == State(counter=3, message="before")


def test_a_clock_that_steps_back_does_not_reorder_the_log(
    store: LogStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    service = StateService(store)
    monkeypatch.setattr(state_module, "utc_timestamp", lambda: "2030-01-01T00:00:00.000000Z")
    service.update({"counter": 1})
    monkeypatch.setattr(state_module, "utc_timestamp", lambda: "2020-01-01T00:00:00.000000Z")
    _, _, row = service.update({"counter": 2})
    assert row.timestamp == "2030-01-01T00:00:00.000000Z"
    newest = store.newest()
    assert newest is not None
    assert newest.new_value["counter"] == 2


def test_concurrent_updates_form_one_chain(store: LogStore) -> None:
    service = StateService(store)
    threads = [threading.Thread(target=service.update, args=({"counter": n},)) for n in range(40)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    rows, total = store.page(1, 100)
    assert total == 40
    chain = rows[::-1]  # oldest first
    assert chain[0].old_value == INITIAL_STATE.model_dump()
    for earlier, later in itertools.pairwise(chain):
        assert later.old_value == earlier.new_value
    assert service.state.model_dump() == chain[-1].new_value
