"""The service's garbage-collector setting (app/server.py): the young generation is collected
later than the interpreter's default, the older ones as the interpreter has them."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from app import server


@pytest.fixture
def thresholds() -> Iterator[tuple[int, int, int]]:
    before = gc.get_threshold()
    yield before
    gc.set_threshold(*before)


def test_the_young_generation_is_collected_later_and_the_others_as_before(
    thresholds: tuple[int, int, int],
) -> None:
    server.tune_gc()

    assert gc.get_threshold() == (server.YOUNG_GC_THRESHOLD, thresholds[1], thresholds[2])
    assert thresholds[0] < server.YOUNG_GC_THRESHOLD


def test_the_server_sets_it_before_it_serves(
    monkeypatch: pytest.MonkeyPatch, thresholds: tuple[int, int, int]
) -> None:
    order: list[str] = []
    monkeypatch.setattr(server, "tune_gc", lambda: order.append("gc"))
    # Not this test process's file limit: main() raises it for the server it starts.
    monkeypatch.setattr(server, "raise_file_limit", lambda: 1024)

    class Server:
        started = True

        def __init__(self, config: object) -> None:
            pass

        def run(self) -> None:
            order.append("serve")

    monkeypatch.setattr("uvicorn.Server", Server)
    assert server.main(["--port", "0"]) == 0
    assert order == ["gc", "serve"]
