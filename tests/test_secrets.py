"""The API key never leaves the server: not in its output (at DEBUG, the most it says), not in
any answer's body or headers, not in its database, not on its command line, wherever a client
puts the key: the right header, the wrong header, the query string, the path, the body."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import requests

from harness.client import API_KEY_HEADER, ApiClient
from harness.targets.base import new_api_key
from harness.targets.process import ServiceProcess
from tests.live import running_server, server_output

pytestmark = pytest.mark.slow  # real servers

#: Recognisable, with letters in both cases, so that a swapped case is a different key.
KEY = "Key-" + new_api_key()

Send = Callable[[ApiClient], requests.Response]

REQUESTS: dict[str, Send] = {
    "update with the key": lambda c: c.update({"counter": 1}),
    "invalid update with the key": lambda c: c.update({"counter": "one"}),
    "oversize update with the key": lambda c: c.update({"message": "x" * 20_000}),
    "update with a wrong key": lambda c: c.update({"counter": 2}, key="not-" + KEY),
    "update with the key in another case": lambda c: c.update({"counter": 2}, key=KEY.swapcase()),
    "update with the key less a character": lambda c: c.update({"counter": 2}, key=KEY[:-1]),
    "update with the key in the query string": lambda c: c.update(
        {"counter": 2}, key=None, params={"api_key": KEY, API_KEY_HEADER: KEY}
    ),
    "update with the key in the body": lambda c: c.update(
        {"counter": 2, API_KEY_HEADER: KEY}, key=None
    ),
    "update with the key as the message, unauthenticated": lambda c: c.update(
        {"message": KEY}, key=None
    ),
    "update with the key as a bearer token": lambda c: c.update(
        {"counter": 2}, key=None, headers={"Authorization": f"Bearer {KEY}"}
    ),
    "update with the key in a cookie": lambda c: c.update(
        {"counter": 2}, key=None, headers={"Cookie": f"{API_KEY_HEADER}={KEY}"}
    ),
    "update with the key as a form": lambda c: c.update(
        raw=f"{API_KEY_HEADER}={KEY}",
        key=None,
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    ),
    "update with the key in the path": lambda c: c.request(
        "POST", f"/update/{KEY}", json={"counter": 2}
    ),
    "status with the key in the query string": lambda c: c.request("GET", f"/status?key={KEY}"),
    "logs with the key in the query string": lambda c: c.request("GET", f"/logs?page={KEY}"),
    "status with a trailing slash and the key": lambda c: c.request(
        "GET", f"/status/?api_key={KEY}", allow_redirects=False
    ),
    "an unknown path that is the key": lambda c: c.request("GET", f"/{KEY}"),
    "a wrong method with the key": lambda c: c.request(
        "DELETE", f"/update?api_key={KEY}", headers={API_KEY_HEADER: KEY}
    ),
    "the docs with the key in the query string": lambda c: c.request("GET", f"/docs?key={KEY}"),
    "the document with the key header": lambda c: c.request(
        "GET", "/openapi.json", headers={API_KEY_HEADER: KEY}
    ),
}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServiceProcess]:
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("LOG_LEVEL", "DEBUG")  # the server reads its environment when it starts
        with running_server(tmp_path_factory.mktemp("secrets"), KEY) as running:
            yield running


@pytest.fixture(scope="module")
def client(server: ServiceProcess) -> ApiClient:
    return ApiClient(server.base_url, KEY)


@pytest.mark.parametrize("name", list(REQUESTS))
def test_no_answer_contains_the_key(client: ApiClient, name: str) -> None:
    response = REQUESTS[name](client)
    assert response.status_code < 500, response.text
    assert KEY not in response.text
    for header, value in response.headers.items():
        assert KEY not in value, f"the {header} header holds the key"
    assert KEY.lower() not in response.text.lower()


def test_the_key_worked_where_it_belongs(client: ApiClient) -> None:
    """Proof that the server was really keyed with KEY: otherwise nothing above means much."""
    assert client.update({"counter": 3}).status_code == 200
    assert client.update({"counter": 4}, key=KEY.swapcase()).status_code == 401


def test_the_server_output_never_holds_the_key(client: ApiClient, server: ServiceProcess) -> None:
    for send in REQUESTS.values():
        send(client)
    output = server_output(server)
    assert "DEBUG" in output or "app.access" in output, "the server logged nothing to check"
    assert "POST /update" in output
    leaking = [line for line in output.splitlines() if KEY.lower() in line.lower()]
    assert not leaking, leaking


def test_the_database_never_holds_the_key(client: ApiClient, server: ServiceProcess) -> None:
    for send in REQUESTS.values():
        send(client)
    files = list(server.database.parent.glob(server.database.name + "*"))
    assert files, "no database files to check"
    for path in files:
        assert KEY.encode() not in path.read_bytes(), path


def test_the_key_is_not_on_the_command_line(server: ServiceProcess) -> None:
    cmdline = Path(f"/proc/{server.pid}/cmdline")
    if not cmdline.exists():
        pytest.skip("no /proc on this system")
    assert KEY.encode() not in cmdline.read_bytes()
