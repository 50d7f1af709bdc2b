"""The dependencies the routes take, as ``Annotated`` aliases, in one place."""

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
