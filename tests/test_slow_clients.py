"""The server's own limits (app/server.py): a deadline for each request's head, and a cap on
open connections that answers 503. Behaviour, not speed: the socket timeouts below only bound
how long a broken limit would hang the test."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
import uvicorn
from starlette.types import Receive, Scope, Send

from app.server import protocol_class
from harness.ports import free_port
from harness.targets.process import ServiceProcess
from tests.live import running_server

#: How long a test waits for an answer before calling the limit broken.
PATIENCE = 20.0


def read_all(sock: socket.socket) -> bytes:
    """Everything the server sends until it closes the connection."""
    sock.settimeout(PATIENCE)
    chunks = []
    while chunk := sock.recv(4096):
        chunks.append(chunk)
    return b"".join(chunks)


def read_answer(sock: socket.socket, body: bytes = b"ok") -> bytes:
    """One answer ending in ``body``, the connection kept open."""
    sock.settimeout(PATIENCE)
    answer = b""
    while not answer.endswith(body):
        chunk = sock.recv(4096)
        assert chunk, f"closed after {answer!r}"
        answer += chunk
    return answer


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServiceProcess]:
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("HEADER_TIMEOUT", "1")
        with running_server(tmp_path_factory.mktemp("slow")) as running:
            yield running


def test_a_head_slower_than_the_deadline_is_answered_408_and_closed(
    server: ServiceProcess,
) -> None:
    with socket.create_connection(("127.0.0.1", server.port), timeout=PATIENCE) as sock:
        sock.sendall(b"GET /status HTTP/1.1\r\nHo")
        answer = read_all(sock)
    assert answer.startswith(b"HTTP/1.1 408 "), answer


def test_an_idle_keep_alive_connection_past_the_deadline_is_closed(
    server: ServiceProcess,
) -> None:
    with socket.create_connection(("127.0.0.1", server.port), timeout=PATIENCE) as sock:
        sock.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
        first = read_answer(sock, b'{"status":"ok"}')
        assert first.startswith(b"HTTP/1.1 200 "), first
        # A trickle of the next head: the deadline counts from the first answer.
        sock.sendall(b"GET /hea")
        rest = read_all(sock)
    assert rest.startswith(b"HTTP/1.1 408 "), rest


def test_a_head_sent_in_pieces_within_the_deadline_is_answered(server: ServiceProcess) -> None:
    with socket.create_connection(("127.0.0.1", server.port), timeout=PATIENCE) as sock:
        for piece in (b"GET /health HTTP/1.1\r\n", b"Host: x\r\n", b"Connection: close\r\n\r\n"):
            sock.sendall(piece)
            time.sleep(0.1)
        answer = read_all(sock)
    assert answer.startswith(b"HTTP/1.1 200 "), answer


#: Set by the double when it holds a request to /hold; set by a test to let it finish.
holding = threading.Event()
released = threading.Event()


async def answer_ok(scope: Scope, receive: Receive, send: Send) -> None:
    """A test double of an app: answers 200 ``ok``; a request to /hold only once the test
    sets ``released``."""
    if scope["path"] == "/hold":
        holding.set()
        while not released.is_set():
            await asyncio.sleep(0.01)
    await send(
        {"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"2")]}
    )
    await send({"type": "http.response.body", "body": b"ok"})


@contextmanager
def capped_server(max_connections: int) -> Iterator[int]:
    """The double behind the service's protocol, with a cap of ``max_connections``; yields
    its port."""
    port = free_port()
    config = uvicorn.Config(
        answer_ok,
        lifespan="off",
        host="127.0.0.1",
        port=port,
        loop="asyncio",
        http=protocol_class(head_timeout=PATIENCE, max_connections=max_connections),
        log_level="warning",
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=lambda: asyncio.run(server.serve()), daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + PATIENCE
        while not server.started:
            assert time.monotonic() < deadline, "the server did not start"
            time.sleep(0.05)
        yield port
    finally:
        released.set()
        server.should_exit = True
        thread.join(PATIENCE)


def test_beyond_the_cap_a_newcomer_takes_the_place_of_the_longest_waiting_head() -> None:
    with (
        capped_server(max_connections=2) as port,
        socket.create_connection(("127.0.0.1", port), timeout=PATIENCE) as slow,
        socket.create_connection(("127.0.0.1", port), timeout=PATIENCE) as kept,
    ):
        slow.sendall(b"GET / HTTP/1.1\r\nHo")
        kept.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        assert read_answer(kept).startswith(b"HTTP/1.1 200 ")
        kept.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        assert read_answer(kept).startswith(b"HTTP/1.1 200 ")
        # Both places are taken; the slow head has waited longest.
        with socket.create_connection(("127.0.0.1", port), timeout=PATIENCE) as newcomer:
            newcomer.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            assert read_answer(newcomer).startswith(b"HTTP/1.1 200 ")
        assert read_all(slow).startswith(b"HTTP/1.1 408 ")


def test_beyond_the_cap_with_no_head_waiting_a_newcomer_is_answered_503() -> None:
    holding.clear()
    released.clear()
    with (
        capped_server(max_connections=1) as port,
        socket.create_connection(("127.0.0.1", port), timeout=PATIENCE) as busy,
    ):
        busy.sendall(b"GET /hold HTTP/1.1\r\nHost: x\r\n\r\n")
        assert holding.wait(PATIENCE), "the server did not take the request"
        with socket.create_connection(("127.0.0.1", port), timeout=PATIENCE) as newcomer:
            assert read_all(newcomer).startswith(b"HTTP/1.1 503 ")
        released.set()
        assert read_answer(busy).startswith(b"HTTP/1.1 200 ")
