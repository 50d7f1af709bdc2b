"""An update whose body never arrives whole changes nothing; one that arrives slowly, but
whole, is applied. Against a real server, over raw sockets: no HTTP library would send a body
shorter than it declared.

The server's own access log says when it has finished with a request (its line is written
once the application returns), so each test waits for that line rather than for a guess of
how long the server needs, and then reads the state and the log.
"""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator
from typing import Any

import pytest
from tenacity import retry, retry_if_exception_type, stop_after_delay, wait_fixed

from harness.client import API_KEY_HEADER, ApiClient
from harness.targets.process import ServiceProcess
from tests.live import running_server, server_output

pytestmark = pytest.mark.slow  # a real server

#: An update that, applied, would be seen at once: the counter and the message both change.
BODY = json.dumps({"counter": 4242, "message": "half a request"}).encode()
BASELINE = {"counter": 7, "message": "steady"}
#: What the access log writes for each update the application finished with.
ACCESS_LINE = "POST /update "


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServiceProcess]:
    with running_server(tmp_path_factory.mktemp("unfinished-body")) as running:
        yield running


@pytest.fixture
def client(server: ServiceProcess) -> ApiClient:
    client = ApiClient(server.base_url, server.api_key)
    client.set_state(**BASELINE)
    return client


def head(server: ServiceProcess, framing: str) -> bytes:
    """A POST /update's request line and headers, with the key and ``framing`` (the
    Content-Length or Transfer-Encoding header)."""
    assert server.api_key is not None
    return (
        "POST /update HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        f"{API_KEY_HEADER}: {server.api_key}\r\n{framing}\r\n\r\n"
    ).encode()


def updates_handled(server: ServiceProcess) -> int:
    return server_output(server).count(ACCESS_LINE)


@retry(
    stop=stop_after_delay(10),
    wait=wait_fixed(0.05),
    retry=retry_if_exception_type(AssertionError),
    reraise=True,
)
def wait_until_handled(server: ServiceProcess, count: int) -> None:
    assert updates_handled(server) >= count, "the server has not finished with the update"


def exchange(
    server: ServiceProcess, pieces: list[bytes], *, pause: float = 0.0, hang_up: bool = False
) -> bytes:
    """Send ``pieces`` one after the other, ``pause`` seconds apart, and, with ``hang_up``,
    close the sending side of the connection; then everything the server answers until it
    closes its own."""
    host, port = server.base_url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        for n, piece in enumerate(pieces):
            if n and pause:
                time.sleep(pause)
            sock.sendall(piece)
        if hang_up:
            sock.shutdown(socket.SHUT_WR)
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    return answer


def snapshot(client: ApiClient) -> tuple[dict[str, Any], int]:
    return client.current_state(), client.log_total()


def test_a_body_shorter_than_its_declared_length_changes_nothing(
    server: ServiceProcess, client: ApiClient
) -> None:
    before = snapshot(client)
    handled = updates_handled(server)
    answer = exchange(
        server, [head(server, f"Content-Length: {len(BODY) + 50}") + BODY], hang_up=True
    )
    wait_until_handled(server, handled + 1)
    assert not answer.startswith(b"HTTP/1.1 200 "), answer[:300]
    assert snapshot(client) == before
    # A client that goes away is no error of the service's.
    assert "Traceback" not in server_output(server), server_output(server)[-3000:]


def test_a_chunked_body_without_its_last_chunk_changes_nothing(
    server: ServiceProcess, client: ApiClient
) -> None:
    before = snapshot(client)
    handled = updates_handled(server)
    # The whole JSON in one chunk, but never the zero-length chunk that ends the body.
    chunk = f"{len(BODY):x}\r\n".encode() + BODY + b"\r\n"
    answer = exchange(server, [head(server, "Transfer-Encoding: chunked") + chunk], hang_up=True)
    wait_until_handled(server, handled + 1)
    assert not answer.startswith(b"HTTP/1.1 200 "), answer[:300]
    assert snapshot(client) == before
    # A client that goes away is no error of the service's.
    assert "Traceback" not in server_output(server), server_output(server)[-3000:]


def test_a_slow_body_that_arrives_whole_is_applied(
    server: ServiceProcess, client: ApiClient
) -> None:
    _, total = snapshot(client)
    thirds = [BODY[: len(BODY) // 3], BODY[len(BODY) // 3 : -5], BODY[-5:]]
    pieces = [head(server, f"Content-Length: {len(BODY)}\r\nConnection: close"), *thirds]
    answer = exchange(server, pieces, pause=0.3)
    assert answer.startswith(b"HTTP/1.1 200 "), answer[:300]
    assert snapshot(client) == ({"counter": 4242, "message": "half a request"}, total + 1)


def test_a_slow_chunked_body_that_arrives_whole_is_applied(
    server: ServiceProcess, client: ApiClient
) -> None:
    _, total = snapshot(client)
    half = len(BODY) // 2
    chunks = [
        f"{half:x}\r\n".encode() + BODY[:half] + b"\r\n",
        f"{len(BODY) - half:x}\r\n".encode() + BODY[half:] + b"\r\n",
        b"0\r\n\r\n",
    ]
    framing = "Transfer-Encoding: chunked\r\nConnection: close"
    answer = exchange(server, [head(server, framing), *chunks], pause=0.3)
    assert answer.startswith(b"HTTP/1.1 200 "), answer[:300]
    assert snapshot(client) == ({"counter": 4242, "message": "half a request"}, total + 1)
