"""How a route reaches the app's parts: the log store through a dependency alias
(``StoreDep``), the state service through ``service_of``, which a route calls on its request
itself rather than pay for a dependency on every call."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from app.state import StateService
from app.store import LogStore


def service_of(request: Request) -> StateService:
    """The service of the app that received ``request``."""
    service: StateService = request.app.state.service
    return service


# A coroutine although it does no I/O: FastAPI runs a plain ``def`` dependency in its thread
# pool, a thread hop per dependency per request.
async def get_store(request: Request) -> LogStore:
    store: LogStore = request.app.state.store
    return store


StoreDep = Annotated[LogStore, Depends(get_store)]
