"""Real servers for the tests: uvicorn subprocesses on loopback, and small HTTP servers that
play a test double's part (a handler class) on loopback.

Each test module wraps ``running_server`` in a fixture of the scope it needs; nothing here is
a fixture itself, so no module depends on another's.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from harness.ports import free_port
from harness.targets.base import new_api_key
from harness.targets.process import ServiceProcess


def new_server(workdir: Path, api_key: str | None = None, *, auth: bool = True) -> ServiceProcess:
    """A server, not started yet, over ``workdir``/logs.db on a free port, with ``api_key`` or
    a fresh one (none at all when ``auth`` is false); what it prints goes to
    ``workdir``/server.log."""
    return ServiceProcess(
        workdir / "logs.db",
        free_port(),
        (api_key or new_api_key()) if auth else None,
        log_path=workdir / "server.log",
    )


@contextmanager
def running_server(
    workdir: Path, api_key: str | None = None, *, auth: bool = True
) -> Iterator[ServiceProcess]:
    """A started server (see new_server), stopped with SIGTERM on the way out, whatever
    happened."""
    server = new_server(workdir, api_key, auth=auth)
    server.start()
    try:
        yield server
    finally:
        server.stop()


def server_output(server: ServiceProcess) -> str:
    """Everything the server printed so far (stdout and stderr)."""
    return server.log_path.read_text(errors="replace")


@contextmanager
def serving(handler: type[BaseHTTPRequestHandler]) -> Iterator[str]:
    """``handler`` served on a free 127.0.0.1 port in a thread; yields its base URL, and stops
    it on the way out. Its connections are TCP_NODELAY: BaseHTTPRequestHandler sends an
    answer's head and body in two writes, and the second would otherwise wait for the
    client's delayed ACK of the first (40 ms an answer on a kept-alive connection)."""
    quick = type(handler.__name__, (handler,), {"disable_nagle_algorithm": True})
    server = ThreadingHTTPServer(("127.0.0.1", 0), quick)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
