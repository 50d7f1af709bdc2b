"""One line per request in the service's access log: method, matched route, status, time."""

from __future__ import annotations

import logging
import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

access_logger = logging.getLogger("app.access")


class AccessLogMiddleware:
    """One line per request: method, route (never the raw path or query string), status,
    duration."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status_code = 500

        async def send_and_record(message: Message) -> None:
            nonlocal status_code
            if message["type"] == "http.response.start":
                status_code = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_and_record)
        finally:
            # The route the router matched, never the raw path: a client may put its key in
            # a path ("/update/KEY") as easily as in a query string.
            route = scope.get("route")
            if access_logger.isEnabledFor(logging.INFO):
                # The record is made and handed over directly: Logger.info would first walk
                # the stack for a caller's file and line, which no access line shows.
                record = access_logger.makeRecord(
                    access_logger.name,
                    logging.INFO,
                    __file__,
                    0,
                    "%s %s %d %.1fms",
                    (
                        scope["method"],
                        getattr(route, "path", None) or "(unknown path)",
                        status_code,
                        (time.perf_counter() - started) * 1000,
                    ),
                    None,
                )
                access_logger.handle(record)
