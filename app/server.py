"""How the service is served: ``python -m app.server --host H --port P``.

The one place that chooses uvicorn's settings. The image's ENTRYPOINT, ``scripts/run.sh`` and
the harness's process target all start the service through this module, so a setting here
holds wherever the service runs.

- **Connections are accepted in batches.** uvloop runs on libuv, which since 1.45 accepts one
  connection per turn of the loop; with a thousand keep-alive clients a turn takes 100-300 ms,
  so new connections waited in the listen queue for tens of seconds and their first requests
  went unanswered (bench/RESULTS.md, "Overload"). :class:`BatchAcceptLoop` keeps uvloop for
  everything else (asyncio's own loop accepts in batches too, but serves about a fifth fewer
  requests a second here) and accepts every waiting connection, up to ``backlog``, each time
  the listening socket is ready, as asyncio's loop does.
- **A deadline for each request's head** (request line and headers, ``HEADER_TIMEOUT``):
  uvicorn waits for a head without one, so a client sending a byte a second holds a
  connection, and a file descriptor, for as long as it likes. Past the deadline the
  connection is answered 408 and closed.
- **A cap on open connections, below the file limit**, so the file descriptors the service
  itself needs (the SQLite database and its journal) are never taken by clients. A connection
  beyond the cap takes the place of the one that has waited longest for a head (answered 408
  and closed), as nginx reuses its idle connections when it runs out: a client that sends its
  head at once is served even while slow ones fill every place, and a slow one holds its place
  only until enough newer ones arrive. When no connection is waiting for a head, the newcomer
  is answered 503 and closed at once. The soft file limit is first raised to the hard one, as
  far as the system allows.
- **The garbage collector's young generation is collected at 50,000 new objects, not 700.**
  The requests make no cyclic garbage, but a thousand in flight hold some 50,000 objects
  between them (about 50 a connection; ``gc.get_count()`` sampled under load). Collected at
  700 new objects, or at 10,000, a young collection found most of them still in use and
  moved them on, so older collections ran often and full ones (over some 100,000 objects,
  45-60 ms each) every few seconds: 5-9 % of the server's time at 1,000 connections
  against 1 % at 32 (bench/RESULTS.md, "Overload"). Past what a thousand requests hold, a
  collection runs only when garbage does pile up, and cyclic garbage waits for at most
  50,000 objects: 9 MiB when bad input still made it (bench/RESULTS.md, "Memory under
  updates"); app/errors.py and tests/test_no_garbage.py keep every answer free of it.
"""

from __future__ import annotations

import argparse
import asyncio
import errno
import gc
import logging
import resource
import socket
from collections.abc import Callable, Sequence
from typing import Any, ClassVar

import uvicorn
import uvloop
from uvicorn.config import STARTUP_FAILURE
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from app.config import settings

logger = logging.getLogger("uvicorn.error")

#: accept() errors that mean "out of descriptors or memory": listening pauses for a moment
#: instead of spinning on a socket that stays ready. A short one: the descriptors usually
#: run out in the middle of a batch, while the connections closed to make room for it (see
#: GuardedHttpToolsProtocol) are let go of on the loop's next turn. asyncio's own loop
#: pauses a whole second, in which hundreds of connections can queue up.
_OUT_OF_RESOURCES = {errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM}
ACCEPT_RETRY_DELAY = 0.05
#: At most one warning in this many seconds about it, however often it happens.
ACCEPT_WARNING_INTERVAL = 10.0

#: New objects between two collections of the garbage collector's young generation
#: (CPython's default: 700); see the module's docstring.
YOUNG_GC_THRESHOLD = 50_000

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


class _Listeners:
    """What :meth:`BatchAcceptLoop.create_server` returns: the part of ``asyncio.Server`` that
    uvicorn uses (its sockets, ``close`` and ``wait_closed``)."""

    def __init__(self, loop: BatchAcceptLoop, sockets: list[socket.socket]) -> None:
        self._loop = loop
        self.sockets = sockets

    def close(self) -> None:
        for sock in self.sockets:
            self._loop.remove_reader(sock.fileno())
            sock.close()

    async def wait_closed(self) -> None:
        return None


class BatchAcceptLoop(uvloop.Loop):
    """uvloop's loop, whose TCP servers accept every waiting connection (up to the backlog)
    each time the listening socket is ready."""

    _last_accept_warning = float("-inf")

    async def create_server(  # type: ignore[override]
        self,
        protocol_factory: Callable[[], asyncio.Protocol],
        host: str | None = None,
        port: int | None = None,
        *,
        backlog: int = 100,
        ssl: Any = None,
        **kwargs: Any,
    ) -> Any:
        if ssl is not None or kwargs.get("sock") is not None or host is None or port is None:
            # Not how app.server listens: uvloop's own server.
            where: dict[str, Any] = {"host": host, "port": port}
            return await super().create_server(
                protocol_factory, **where, backlog=backlog, ssl=ssl, **kwargs
            )
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        sock = socket.create_server((host, port), family=family, backlog=backlog)
        sock.setblocking(False)
        self._listen(sock, protocol_factory, backlog)
        return _Listeners(self, [sock])

    def _listen(
        self, sock: socket.socket, protocol_factory: Callable[[], asyncio.Protocol], backlog: int
    ) -> None:
        self.add_reader(sock.fileno(), self._accept, sock, protocol_factory, backlog)

    def _accept(
        self, sock: socket.socket, protocol_factory: Callable[[], asyncio.Protocol], backlog: int
    ) -> None:
        for _ in range(backlog):
            try:
                conn, _ = sock.accept()
            except (BlockingIOError, InterruptedError, ConnectionAbortedError):
                return
            except OSError as exc:
                if exc.errno not in _OUT_OF_RESOURCES:
                    raise
                if self.time() - self._last_accept_warning >= ACCEPT_WARNING_INTERVAL:
                    self._last_accept_warning = self.time()
                    logger.warning("accept() failed (%s): not listening for a moment", exc)
                self.remove_reader(sock.fileno())
                self.call_later(ACCEPT_RETRY_DELAY, self._listen, sock, protocol_factory, backlog)
                return
            conn.setblocking(False)
            self.create_task(self._connect(conn, protocol_factory))

    async def _connect(
        self, conn: socket.socket, protocol_factory: Callable[[], asyncio.Protocol]
    ) -> None:
        try:
            await self.connect_accepted_socket(protocol_factory, conn)
        except OSError:
            conn.close()  # the client left before it could be served


class GuardedHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol, with a deadline for each request's head and a cap on
    the connections open at once (both set by :func:`protocol_class`)."""

    head_timeout: ClassVar[float] = 10.0
    max_connections: ClassVar[int] = 1024
    #: The server's connections waiting for a head, the longest-waiting first (a dict keeps
    #: its insertion order); one per server, made by protocol_class.
    waiting_for_head: ClassVar[dict[GuardedHttpToolsProtocol, None]] = {}

    _head_deadline: asyncio.TimerHandle | None = None
    _refused = False

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        if len(self.connections) >= self.max_connections and not self._evict_longest_waiting():
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
        self.waiting_for_head[self] = None

    def _disarm_head_deadline(self) -> None:
        if self._head_deadline is not None:
            self._head_deadline.cancel()
            self._head_deadline = None
        self.waiting_for_head.pop(self, None)

    def _evict_longest_waiting(self) -> bool:
        """Close the connection that has waited longest for a head; False if none waits.
        It leaves the server's connections when the loop next turns: until then they hold
        one more than the cap, within the descriptors kept in reserve."""
        for longest in self.waiting_for_head:
            longest._head_too_slow()
            return True
        return False

    def _head_too_slow(self) -> None:
        self._disarm_head_deadline()
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
        {
            "head_timeout": head_timeout,
            "max_connections": max_connections,
            "waiting_for_head": {},
        },
    )


def tune_gc() -> None:
    """Collect the young generation at YOUNG_GC_THRESHOLD new objects; the older generations'
    thresholds stay the interpreter's."""
    _, middle, old = gc.get_threshold()
    gc.set_threshold(YOUNG_GC_THRESHOLD, middle, old)


def uvicorn_config(host: str, port: int) -> uvicorn.Config:
    """uvicorn's configuration of the service (see the module's docstring for why)."""
    open_files = raise_file_limit()
    return uvicorn.Config(
        "app.main:app",
        host=host,
        port=port,
        loop="app.server:BatchAcceptLoop",
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
    tune_gc()
    server = uvicorn.Server(uvicorn_config(args.host, args.port))
    server.run()
    return 0 if server.started else STARTUP_FAILURE


if __name__ == "__main__":
    raise SystemExit(main())
