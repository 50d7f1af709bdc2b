"""The API-key guard for the routes that change state, and the dependency aliases."""

from __future__ import annotations

import hmac
from collections.abc import Callable, Coroutine
from typing import Annotated, Any

from fastapi import Depends, HTTPException, Request, Response, Security, status
from fastapi.routing import APIRoute
from fastapi.security import APIKeyHeader

from app.config import Settings
from app.state import StateService
from app.store import LogStore

API_KEY_HEADER = "X-API-KEY"

api_key_header = APIKeyHeader(
    name=API_KEY_HEADER,
    auto_error=False,
    description="Required by POST /update when the service is started with API_KEY set.",
)


# The dependencies are coroutines although they do no I/O: FastAPI runs a plain ``def``
# dependency in its thread pool, a thread hop per dependency per request.
async def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def service_of(request: Request) -> StateService:
    """The service of the app that received ``request``."""
    service: StateService = request.app.state.service
    return service


async def get_service(request: Request) -> StateService:
    return service_of(request)


async def get_store(request: Request) -> LogStore:
    store: LogStore = request.app.state.store
    return store


SettingsDep = Annotated[Settings, Depends(get_settings)]
ServiceDep = Annotated[StateService, Depends(get_service)]
StoreDep = Annotated[LogStore, Depends(get_store)]


async def require_api_key(
    settings: SettingsDep, provided: Annotated[str | None, Security(api_key_header)]
) -> None:
    """Reject the request unless it carries the configured key; a no-op when none is set."""
    check_api_key(settings, provided)


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


ApiKeyDep = Depends(require_api_key)


class KeyFirstRoute(APIRoute):
    """A route that checks the API key before anything reads its body.

    FastAPI parses a JSON body before it runs any dependency, so without this a client with no
    key would learn from a 400 that its body was not JSON. The dependency stays declared on
    the route as well: it is what puts the key scheme into the OpenAPI document.
    """

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()
        if not any(depends.dependency is require_api_key for depends in self.dependencies):
            return handler

        async def key_first(request: Request) -> Response:
            check_api_key(request.app.state.settings, request.headers.get(API_KEY_HEADER))
            return await handler(request)

        return key_first
