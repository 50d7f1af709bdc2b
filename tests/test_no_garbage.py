"""Bad input leaves nothing for the garbage collector: an answered error is freed as soon as
its answer is sent (app/errors.py), so a stream of malformed requests cannot pile up memory
while the collector waits for its threshold (app/server.py collects the young generation
rarely)."""

from __future__ import annotations

import gc
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr

from app.config import Settings
from app.main import create_app

KEY = "garbage-test-key"
JSON = {"X-API-KEY": KEY, "Content-Type": "application/json"}

#: Requests the service refuses, each by a different path through FastAPI and app/errors.py.
REFUSED: dict[str, Callable[[TestClient], Any]] = {
    "not JSON": lambda c: c.post("/update", content="{not json", headers=JSON),
    "JSON cut short": lambda c: c.post("/update", content='{"counter": 1, "mess', headers=JSON),
    "wrong type": lambda c: c.post("/update", json={"counter": "x", "message": "m"}, headers=JSON),
    "not an object": lambda c: c.post("/update", json=[1], headers=JSON),
    "form body": lambda c: c.post(
        "/update",
        content="counter=1",
        headers={"X-API-KEY": KEY, "Content-Type": "application/x-www-form-urlencoded"},
    ),
    "wrong key": lambda c: c.post(
        "/update", json={"counter": 1, "message": "m"}, headers={"X-API-KEY": "wrong"}
    ),
    "bad limit": lambda c: c.get("/logs?limit=-4"),
    "bad cursor": lambda c: c.get("/logs?cursor=zzz"),
    "unknown path": lambda c: c.get("/nowhere"),
    "wrong method": lambda c: c.delete("/status"),
}


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    settings = Settings(DATABASE_PATH=tmp_path / "logs.db", API_KEY=SecretStr(KEY))
    with TestClient(create_app(settings)) as test_client:
        yield test_client


@pytest.fixture
def collector_held_off() -> Iterator[None]:
    """No automatic collection while the test runs: what reference counting leaves, stays."""
    gc.collect()
    gc.disable()
    yield
    gc.enable()
    gc.collect()


#: Where the service's own errors are defined: its stack, from the JSON decoder up. Errors of
#: other kinds are left out: the test client's machinery (a thread and anyio's streams between
#: it and the app) leaves its own in cycles, and so may whatever else runs in this process.
SERVICE_STACK = {"app", "fastapi", "starlette", "json", "pydantic", "pydantic_core"}


def the_services(thing: object) -> bool:
    """An error of the service's stack (``type``, not ``isinstance``: the garbage may hold
    weak proxies whose objects are gone)."""
    kind = type(thing)
    return issubclass(kind, BaseException) and kind.__module__.split(".")[0] in SERVICE_STACK


def unreachable_errors() -> list[BaseException]:
    """The service's exceptions in the garbage that only the collector can free (the garbage
    is freed on the way)."""
    gc.set_debug(gc.DEBUG_SAVEALL)
    try:
        gc.collect()
    finally:
        gc.set_debug(0)
    found = [thing for thing in gc.garbage if the_services(thing)]
    gc.garbage.clear()
    gc.collect()
    return found


@pytest.mark.parametrize("request_", REFUSED.values(), ids=REFUSED.keys())
@pytest.mark.usefixtures("collector_held_off")
def test_a_refused_request_leaves_no_error_in_a_reference_cycle(
    client: TestClient, request_: Callable[[TestClient], Any]
) -> None:
    first = request_(client)  # whatever a first request of its kind caches, cached
    assert 400 <= first.status_code < 500
    unreachable_errors()

    for _ in range(5):
        request_(client)

    assert [type(error).__name__ for error in unreachable_errors()] == []
