"""Refusing a request body over the limit before anything parses it."""

from __future__ import annotations

from fastapi import status
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.errors import error_response
from app.models import FieldError


class BodySizeLimitMiddleware:
    """Answers 400 to a request body over the limit, declared or streamed, before any parsing."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        declared = headers.get(b"content-length")
        if declared is None and b"transfer-encoding" not in headers:
            # HTTP/1.1: no length and no chunking is no body (every GET): nothing to count.
            await self.app(scope, receive, send)
            return
        if declared is not None and (not declared.isdigit() or int(declared) > self.max_bytes):
            await self._reject(scope, receive, send)
            return
        chunks: list[bytes] = []
        size = 0
        more_body = True
        disconnect: Message | None = None
        while more_body:
            message = await receive()
            if message["type"] != "http.request":
                # The client went away before the body's end: the app must see the body as
                # unfinished and the disconnect after it, as uvicorn gave them (Starlette's
                # Request then raises ClientDisconnect), never a short body marked complete.
                disconnect = message
                break
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_bytes:
                await self._reject(scope, receive, send)
                return
            chunks.append(chunk)
            more_body = message.get("more_body", False)
        # Replayed in order: the body read so far, then the disconnect if the client left.
        buffered: list[Message] = [
            {"type": "http.request", "body": b"".join(chunks), "more_body": more_body}
        ]
        if disconnect is not None:
            buffered.append(disconnect)

        async def replay() -> Message:
            return buffered.pop(0) if buffered else await receive()

        await self.app(scope, replay, send)

    async def _reject(self, scope: Scope, receive: Receive, send: Send) -> None:
        response = error_response(
            status.HTTP_400_BAD_REQUEST,
            "the request body is too large",
            [FieldError(field="body", message=f"at most {self.max_bytes} bytes are accepted")],
            headers={"Connection": "close"},
        )
        await response(scope, receive, send)
