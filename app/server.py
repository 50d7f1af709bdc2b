"""How the service is served: ``python -m app.server --host H --port P``.

The one place that chooses uvicorn's settings. The image's ENTRYPOINT, ``scripts/run.sh`` and
the harness's process target all start the service through this module, so a setting here
holds wherever the service runs.

- **The event loop is asyncio's, not uvloop.** libuv (under uvloop) accepts one connection
  per turn of the loop since libuv 1.45; with a thousand keep-alive clients a turn takes
  100-300 ms, so new connections waited in the listen queue for tens of seconds and their
  first requests went unanswered. asyncio's loop accepts up to ``backlog`` connections each
  time the listening socket is ready (bench/RESULTS.md, "Overload").
- **A deadline for each request's head** (request line and headers, ``HEADER_TIMEOUT``):
  uvicorn waits for a head without one, so a client sending a byte a second holds a
  connection, and a file descriptor, for as long as it likes. Past the deadline the
  connection is answered 408 and closed.
- **A cap on open connections, below the file limit**: a connection beyond it is answered 503
  and closed at once, so the file descriptors the service itself needs (the SQLite database
  and its journal) are never taken by clients. The soft file limit is first raised to the
  hard one, as far as the system allows.
"""

from __future__ import annotations

import argparse
import asyncio
import resource
from collections.abc import Sequence
from typing import ClassVar

import uvicorn
from uvicorn.config import STARTUP_FAILURE
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from app.config import settings

#: File descriptors kept for the service's own use (the database, its journal, the listening
#: socket, stdio, the ones a request may open): never handed to a client connection.
RESERVED_FILES = 64

REQUEST_TIMEOUT = (
    b"HTTP/1.1 408 Request Timeout\r\n"
    b"content-type: text/plain; charset=utf-8\r\n"
    b"content-length: 24\r\nconnection: close\r\n\r\n"
    b"request head too slow.\r\n"
)
TOO_MANY_CONNECTIONS = (
    b"HTTP/1.1 503 Service Unavailable\r\n"
    b"content-type: text/plain; charset=utf-8\r\n"
    b"content-length: 22\r\nretry-after: 1\r\nconnection: close\r\n\r\n"
    b"too many connections.\r\n"
)


class GuardedHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol, with a deadline for each request's head and a cap on
    the connections open at once (both set by :func:`protocol_class`)."""

    head_timeout: ClassVar[float] = 10.0
    max_connections: ClassVar[int] = 1024

    _head_deadline: asyncio.TimerHandle | None = None
    _refused = False

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        if len(self.connections) >= self.max_connections:
            # Never registered with the server: uvicorn's own bookkeeping stays untouched.
            self._refused = True
            transport.write(TOO_MANY_CONNECTIONS)
            transport.close()
            return
        super().connection_made(transport)
        self._arm_head_deadline()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm_head_deadline()
        if not self._refused:
            super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if not self._refused:
            super().data_received(data)

    def on_headers_complete(self) -> None:
        self._disarm_head_deadline()
        super().on_headers_complete()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        # The next head's clock starts when the server is ready to read it; a pipelined
        # request already started has its head complete.
        if not self.transport.is_closing() and not self.pipeline:
            self._arm_head_deadline()

    def _arm_head_deadline(self) -> None:
        self._disarm_head_deadline()
        self._head_deadline = self.loop.call_later(self.head_timeout, self._head_too_slow)

    def _disarm_head_deadline(self) -> None:
        if self._head_deadline is not None:
            self._head_deadline.cancel()
            self._head_deadline = None

    def _head_too_slow(self) -> None:
        self._head_deadline = None
        if self.transport.is_closing():
            return
        if self.cycle is not None and not self.cycle.response_complete:
            return  # a request is being answered: its head arrived in time
        self.transport.write(REQUEST_TIMEOUT)
        self.transport.close()


def raise_file_limit() -> int:
    """Raise the soft limit on open files to the hard one; returns the soft limit now."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and soft < hard:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
            soft = hard
        except (ValueError, OSError):
            pass  # the limit stays as it was; the cap below follows it
    return soft


def protocol_class(head_timeout: float, max_connections: int) -> type[GuardedHttpToolsProtocol]:
    """The protocol with its two limits set."""
    return type(
        "GuardedHttpToolsProtocol",
        (GuardedHttpToolsProtocol,),
        {"head_timeout": head_timeout, "max_connections": max_connections},
    )


def uvicorn_config(host: str, port: int) -> uvicorn.Config:
    """uvicorn's configuration of the service (see the module's docstring for why)."""
    open_files = raise_file_limit()
    return uvicorn.Config(
        "app.main:app",
        host=host,
        port=port,
        loop="asyncio",
        http=protocol_class(settings.HEADER_TIMEOUT, max(open_files - RESERVED_FILES, 1)),
        # The service writes its own access line (app/middleware/access_log.py).
        access_log=False,
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Serve until SIGINT or SIGTERM. Exit codes: 0 stopped; 2 bad arguments; 3 the server
    did not start (uvicorn's own code for it)."""
    parser = argparse.ArgumentParser(prog="python -m app.server", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on")
    parser.add_argument("--port", type=int, default=5000, help="TCP port to listen on")
    args = parser.parse_args(argv)
    server = uvicorn.Server(uvicorn_config(args.host, args.port))
    server.run()
    return 0 if server.started else STARTUP_FAILURE


if __name__ == "__main__":
    raise SystemExit(main())
