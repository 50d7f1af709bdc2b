"""The API-key guard for the routes that change state."""

from __future__ import annotations

import hmac
from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import HTTPException, Request, Response, status
from fastapi.routing import APIRoute

from app.config import Settings

API_KEY_HEADER = "X-API-KEY"
API_KEY_SCHEME = "APIKeyHeader"

#: The OpenAPI security scheme of the key (declared only when a key is configured).
API_KEY_SECURITY_SCHEME: dict[str, str] = {
    "type": "apiKey",
    "description": "Required by POST /update when the service is started with API_KEY set.",
    "in": "header",
    "name": API_KEY_HEADER,
}

#: ``openapi_extra`` of a route that needs the key: KeyFirstRoute checks it, and the OpenAPI
#: document says so.
KEY_REQUIRED: dict[str, Any] = {"security": [{API_KEY_SCHEME: []}]}


def check_api_key(settings: Settings, provided: str | None) -> None:
    """Raise 401 unless ``provided`` is the configured key; a no-op when none is set."""
    expected = settings.api_key
    if expected is None:
        return
    # compare_digest on bytes: constant time, and no TypeError on non-ASCII input.
    if provided is None or not hmac.compare_digest(provided.encode(), expected.encode()):
        raise HTTPException(
            status_code=status.HTTP_401_UNAUTHORIZED,
            detail=f"missing or invalid API key in the {API_KEY_HEADER} header",
        )


class KeyFirstRoute(APIRoute):
    """A route that, when declared with ``openapi_extra=KEY_REQUIRED``, checks the API key
    before anything reads its body.

    FastAPI parses a JSON body before it runs any dependency, so a key dependency would let a
    client with no key learn from a 400 that its body was not JSON. The check is made here,
    once, rather than as a dependency as well: resolving a security dependency costs more
    than the rest of an update's handling on the event loop.
    """

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()
        if self.openapi_extra is not KEY_REQUIRED:
            return handler

        async def key_first(request: Request) -> Response:
            check_api_key(request.app.state.settings, request.headers.get(API_KEY_HEADER))
            return await handler(request)

        return key_first
