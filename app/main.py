"""The application: ``uvicorn app.main:app`` (served as it ships by ``python -m app.server``)."""

from __future__ import annotations

import logging
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from pydantic import BaseModel

from app.auth import API_KEY_HEADER, API_KEY_SCHEME, API_KEY_SECURITY_SCHEME
from app.config import Settings, settings
from app.errors import install_error_handlers
from app.middleware import AccessLogMiddleware, BodySizeLimitMiddleware
from app.models import State, update_request_model
from app.routes import add_routes
from app.state import StateService
from app.store import LogStore

logger = logging.getLogger("app")

DESCRIPTION = """
A shared state (a counter and a message) that clients read and update; every update is
recorded in a SQLite log that can be read page by page.
"""


def configure_logging(level: str) -> None:
    """Log the service's own lines to stderr, beside uvicorn's."""
    if not logger.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        logger.addHandler(handler)
        logger.propagate = False
    logger.setLevel(level)
    # uvicorn's access log prints the query string, where a careless client may put its API
    # key; the service logs each request itself, path only (AccessLogMiddleware).
    logging.getLogger("uvicorn.access").disabled = True
    # No format of ours shows a record's thread or process: not collecting them makes every
    # record cheaper (the logging HOWTO's "Optimization"), and the access log makes one per
    # request.
    logging.logThreads = False
    logging.logProcesses = False
    logging.logMultiprocessing = False


def create_app(config: Settings | None = None) -> FastAPI:
    """The service, configured by ``config`` (the environment's settings by default)."""
    config = config or settings
    configure_logging(config.LOG_LEVEL)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        store = LogStore(config.DATABASE_PATH, synchronous=config.SQLITE_SYNCHRONOUS)
        try:
            app.state.store = store
            app.state.service = StateService(store)
            logger.info(
                "log database %s holds %d updates; state %s",
                config.DATABASE_PATH,
                store.count(),
                app.state.service.state.model_dump(),
            )
            if config.api_key is None:
                logger.warning("API_KEY is not set: POST /update accepts any client")
            else:
                logger.info("POST /update requires the %s header", API_KEY_HEADER)
            yield
        finally:
            service = getattr(app.state, "service", None)
            if service is not None:
                service.close()  # commits what is queued before the store goes
            store.close()

    app = FastAPI(
        title="State API",
        version="1.0.0",
        description=DESCRIPTION,
        lifespan=lifespan,
        # "/status/" is not a path of this API: a 404 like any other, not a 307 whose
        # Location echoes the Host header and the query string (where a key may have strayed).
        redirect_slashes=False,
        # The service exports no OpenTelemetry data. Off, FastAPI skips asking for a
        # provider on every request (a lookup in the environment each time), and it never
        # records request bodies or validation errors, where a key may have strayed.
        telemetry={"tracing": False, "metrics": False, "logs": False, "operation_spans": False},
    )
    app.state.settings = config
    install_error_handlers(app)
    update_model = update_request_model(config.MAX_MESSAGE_LENGTH)
    add_routes(app.router, update_model)
    app.add_middleware(BodySizeLimitMiddleware, max_bytes=config.MAX_BODY_BYTES)
    app.add_middleware(AccessLogMiddleware)

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = truthful_openapi(
                app,
                auth_enabled=config.api_key is not None,
                exact_models={"UpdateRequest": update_model, "State": State},
            )
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
    return app


def truthful_openapi(
    app: FastAPI, *, auth_enabled: bool, exact_models: dict[str, type[BaseModel]]
) -> dict[str, Any]:
    """FastAPI's document, less what this service never answers (422), with the API-key
    scheme only when a key is configured, and ``exact_models`` as pydantic writes them."""
    schema = get_openapi(
        title=app.title,
        version=app.version,
        description=app.description,
        routes=app.routes,
    )
    for path_item in schema["paths"].values():
        for operation in path_item.values():
            responses = operation.get("responses", {})
            responses.pop("422", None)
            if not auth_enabled:
                operation.pop("security", None)
                responses.pop("401", None)
    components = schema.get("components", {})
    # FastAPI passes bounds through floats: 2**63 - 1 would be declared as 2**63.
    ref_template = "#/components/schemas/{model}"
    for name, model in exact_models.items():
        components["schemas"][name] = model.model_json_schema(ref_template=ref_template)
    for unused in ("HTTPValidationError", "ValidationError"):
        components.get("schemas", {}).pop(unused, None)
    if auth_enabled:
        components.setdefault("securitySchemes", {})[API_KEY_SCHEME] = API_KEY_SECURITY_SCHEME
    return schema


app = create_app()
