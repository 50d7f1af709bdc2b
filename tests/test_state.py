"""The in-memory state and its log, changed together or not at all; updates group-committed."""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from pathlib import Path
from typing import Any

import pytest

from app import state as state_module
from app.models import INITIAL_STATE, State
from app.state import Applied, StateService
from app.store import LogStore, StoreError
from tests.conftest import failing_writes

MakeService = Callable[[LogStore], StateService]


@pytest.fixture
def make_service() -> Iterator[MakeService]:
    """StateService(store), each one closed (its writer thread stopped) after the test."""
    made: list[StateService] = []

    def make(store: LogStore) -> StateService:
        made.append(StateService(store))
        return made[-1]

    yield make
    for service in made:
        service.close()


class HeldCommits:
    """Wraps a store's append_many: the first commit waits until released, and every commit's
    rows are counted, so a test can queue updates behind a commit in flight."""

    def __init__(self, store: LogStore, monkeypatch: pytest.MonkeyPatch) -> None:
        self.batches: list[int] = []
        self.entered = threading.Event()
        self.release = threading.Event()
        real = store.append_many

        def held(rows: list[tuple[str, dict[str, Any], dict[str, Any]]]) -> list[int]:
            self.batches.append(len(rows))
            if len(self.batches) == 1:
                self.entered.set()
                assert self.release.wait(10), "the test never released the first commit"
            return real(rows)

        monkeypatch.setattr(store, "append_many", held)


def test_starts_from_the_initial_state_on_an_empty_log(
    store: LogStore, make_service: MakeService
) -> None:
    assert make_service(store).state == INITIAL_STATE == State(counter=0, message="initial")


def test_an_update_changes_the_state_and_logs_it(
    store: LogStore, make_service: MakeService
) -> None:
    service = make_service(store)
    old, new, row = service.update({"counter": 5})
    assert old == INITIAL_STATE
    assert new == State(counter=5, message="initial")
    assert service.state == new
    newest = store.newest()
    assert newest == row
    assert (row.old_value, row.new_value) == (old.model_dump(), new.model_dump())


def test_restores_the_newest_state_on_start(db_path: Path, make_service: MakeService) -> None:
    first = LogStore(db_path)
    make_service(first).update({"counter": 3, "message": "kept"})
    make_service(first).update({"counter": 4})
    first.close()
    second = LogStore(db_path)
    assert make_service(second).state == State(counter=4, message="kept")
    second.close()


def test_refuses_to_start_over_a_log_row_that_holds_no_state(store: LogStore) -> None:
    store.append("2026-01-01T00:00:00.000000Z", {}, {"counter": "five"})
    with pytest.raises(StoreError, match="does not hold a valid state"):
        StateService(store)


def test_a_failed_log_write_leaves_the_state_unchanged(
    store: LogStore, db_path: Path, make_service: MakeService
) -> None:
    service = make_service(store)
    service.update({"counter": 1, "message": "before"})
    with failing_writes(db_path), pytest.raises(StoreError):
        service.update({"counter": 2, "message": "lost"})
    assert service.state == State(counter=1, message="before")
    assert store.count() == 1
    _, new, _ = service.update({"counter": 3})
    assert new == State(counter=3, message="before")


def test_a_clock_that_steps_back_does_not_reorder_the_log(
    store: LogStore, monkeypatch: pytest.MonkeyPatch, make_service: MakeService
) -> None:
    service = make_service(store)
    monkeypatch.setattr(state_module, "utc_timestamp", lambda: "2030-01-01T00:00:00.000000Z")
    service.update({"counter": 1})
    monkeypatch.setattr(state_module, "utc_timestamp", lambda: "2020-01-01T00:00:00.000000Z")
    _, _, row = service.update({"counter": 2})
    assert row.timestamp == "2030-01-01T00:00:00.000000Z"
    newest = store.newest()
    assert newest is not None
    assert newest.new_value["counter"] == 2


def test_concurrent_updates_form_one_chain(store: LogStore, make_service: MakeService) -> None:
    service = make_service(store)
    threads = [threading.Thread(target=service.update, args=({"counter": n},)) for n in range(40)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    found = store.page(1, 100)
    assert found.total == 40
    chain = found.rows[::-1]  # oldest first
    assert chain[0].old_value == INITIAL_STATE.model_dump()
    for earlier, later in itertools.pairwise(chain):
        assert later.old_value == earlier.new_value
    assert service.state.model_dump() == chain[-1].new_value


def test_updates_queued_behind_a_commit_share_the_next_one_in_order(
    store: LogStore, monkeypatch: pytest.MonkeyPatch, make_service: MakeService
) -> None:
    commits = HeldCommits(store, monkeypatch)
    service = make_service(store)
    first = service.submit({"counter": 0})
    assert commits.entered.wait(10)
    queued = [service.submit({"counter": n, "message": f"m{n}"}) for n in range(1, 21)]
    # Nothing is answered, and the state does not change, before its commit is done.
    assert not first.done()
    assert not any(future.done() for future in queued)
    assert service.state == INITIAL_STATE
    commits.release.set()
    answers: list[Applied] = [future.result(10) for future in [first, *queued]]
    assert commits.batches == [1, 20], "the 20 queued updates should share one commit"
    # The log's order is the order of submission, and each answer is its own row.
    rows = store.page(1, 100).rows[::-1]
    assert [row.id for _, _, row in answers] == [row.id for row in rows]
    assert [row.new_value["counter"] for row in rows] == list(range(21))
    for (old, new, _), stored in zip(answers, rows, strict=True):
        assert (old.model_dump(), new.model_dump()) == (stored.old_value, stored.new_value)
    assert service.state == State(counter=20, message="m20")


def test_a_failed_commit_fails_every_update_in_it_and_changes_nothing(
    store: LogStore, db_path: Path, monkeypatch: pytest.MonkeyPatch, make_service: MakeService
) -> None:
    service = make_service(store)
    service.update({"counter": 1, "message": "kept"})
    commits = HeldCommits(store, monkeypatch)
    futures: list[Future[Applied]] = [service.submit({"counter": 2})]
    assert commits.entered.wait(10)
    with failing_writes(db_path):
        futures += [service.submit({"counter": n}) for n in range(3, 8)]
        commits.release.set()
        for future in futures:
            with pytest.raises(StoreError):
                future.result(10)
    assert service.state == State(counter=1, message="kept")
    assert store.count() == 1
    assert service.update({"counter": 9})[1] == State(counter=9, message="kept")


def test_an_error_while_applying_fails_the_updates_instead_of_hanging_them(
    store: LogStore, monkeypatch: pytest.MonkeyPatch, make_service: MakeService
) -> None:
    service = make_service(store)

    def broken_clock() -> str:
        raise RuntimeError("no clock")

    monkeypatch.setattr(state_module, "utc_timestamp", broken_clock)
    with pytest.raises(StoreError, match="no clock"):
        service.submit({"counter": 1}).result(10)
    assert service.state == INITIAL_STATE
    assert store.count() == 0
    monkeypatch.undo()
    assert service.update({"counter": 2})[1].counter == 2


def test_close_commits_what_is_queued_then_refuses_more(
    store: LogStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    commits = HeldCommits(store, monkeypatch)
    service = StateService(store)
    futures = [service.submit({"counter": n}) for n in range(5)]
    assert commits.entered.wait(10)
    closing = threading.Thread(target=service.close)
    closing.start()
    commits.release.set()
    closing.join(10)
    assert not closing.is_alive()
    assert [future.result(0)[1].counter for future in futures] == list(range(5))
    assert store.count() == 5
    with pytest.raises(StoreError, match="shutting down"):
        service.submit({"counter": 6})
    service.close()  # twice is fine
