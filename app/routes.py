"""The endpoints: status, update, logs and health."""

# No "from __future__ import annotations": FastAPI must see the update model, which is a
# local variable of add_routes, as an object rather than a name it cannot resolve.

from typing import Annotated, Any, cast

from fastapi import APIRouter, Body, Query, Request, Response
from pydantic import BaseModel

from app.auth import KEY_REQUIRED, KeyFirstRoute
from app.cursor import MAX_CURSOR_LENGTH, InvalidCursor
from app.deps import StoreDep, service_of
from app.errors import InvalidParameter
from app.models import (
    MAX_LOGS_LIMIT,
    ErrorResponse,
    HealthResponse,
    LogEntry,
    LogPage,
    State,
    StatusResponse,
    UpdateRequestBase,
    UpdateResponse,
)
from app.state import utc_timestamp

VALIDATION_ERROR: dict[int | str, dict[str, Any]] = {
    400: {
        "model": ErrorResponse,
        "description": "The request is not valid; nothing changed.",
    }
}
UNAUTHORIZED: dict[int | str, dict[str, Any]] = {
    401: {
        "model": ErrorResponse,
        "description": "Missing or wrong API key; nothing changed.",
    }
}
UNAVAILABLE: dict[int | str, dict[str, Any]] = {
    503: {"model": ErrorResponse, "description": "The log database cannot be used."}
}


def json_response(model: BaseModel) -> Response:
    """``model`` as a JSON answer, serialised by pydantic in one pass."""
    return Response(model.model_dump_json(), media_type="application/json")


def add_routes(router: APIRouter, update_model: type[UpdateRequestBase]) -> None:
    """Add the routes to ``router`` (the app's own: an included router is one more level of
    matching on every request); the update body model carries the configured message limit."""
    router.route_class = KeyFirstRoute

    # The hottest route: the service is read from the request rather than through a
    # dependency, and the answer is serialised once, here, rather than dumped, validated again
    # against response_model and serialised by FastAPI (together a third of its time under
    # load). response_model still declares the body in the OpenAPI document.
    @router.get("/status", response_model=StatusResponse)
    async def read_status(request: Request) -> Response:
        """The current state, the server's time (UTC) and its uptime."""
        service = service_of(request)
        answer = StatusResponse(
            state=service.state,
            timestamp=utc_timestamp(),
            uptime_seconds=service.uptime_seconds(),
        )
        return json_response(answer)

    @router.post(
        "/update",
        response_model=UpdateResponse,
        responses={**VALIDATION_ERROR, **UNAUTHORIZED, **UNAVAILABLE},
        openapi_extra=KEY_REQUIRED,
    )
    async def update_state(
        request: Request,
        body: Annotated[update_model, Body()],  # type: ignore[valid-type]
    ) -> Response:
        """Set the counter and/or the message; the change is logged before it is answered."""
        changes = cast(UpdateRequestBase, body).changes()
        # Waits, without holding a thread, for the commit that holds this update; a StoreError
        # (nothing recorded, nothing changed) is answered 503 by its handler (app/errors.py).
        old, new, row = await service_of(request).apply(changes)
        return json_response(
            UpdateResponse(state=new, old_state=old, log_id=row.id, timestamp=row.timestamp)
        )

    @router.get("/logs", response_model=LogPage, responses={**VALIDATION_ERROR, **UNAVAILABLE})
    def read_logs(
        request: Request,
        store: StoreDep,
        page: Annotated[
            int, Query(ge=1, description="Page number, from 1; not with `cursor`.")
        ] = 1,
        limit: Annotated[int, Query(ge=1, le=MAX_LOGS_LIMIT, description="Rows per page.")] = 10,
        cursor: Annotated[
            str | None,
            Query(
                max_length=MAX_CURSOR_LENGTH,
                description=(
                    "The `next_cursor` of the page before: the rows after it, newest first "
                    "(keyset paging). Opaque; one this log did not issue is refused with 400."
                ),
            ),
        ] = None,
    ) -> Response:
        """The update history, newest first, one page at a time: by `page` number, or by
        `cursor`, whose cost does not grow with the depth."""
        if cursor is not None and "page" in request.query_params:
            raise InvalidParameter("cursor", "give either page or cursor, not both")
        if cursor is None:
            found = store.page(page, limit)
        else:
            try:
                position = store.cursors.decode(cursor)
            except InvalidCursor as exc:
                raise InvalidParameter("cursor", str(exc)) from None
            found = store.page_after(position, limit)
        last = found.rows[-1] if found.rows else None
        return json_response(
            LogPage(
                items=[
                    LogEntry(
                        id=row.id,
                        timestamp=row.timestamp,
                        old_value=State.model_validate(row.old_value),
                        new_value=State.model_validate(row.new_value),
                    )
                    for row in found.rows
                ],
                page=None if cursor is not None else page,
                limit=limit,
                total=found.total,
                pages=-(-found.total // limit),
                next_cursor=(
                    store.cursors.encode(last.timestamp, last.id)
                    if last is not None and found.more
                    else None
                ),
            )
        )

    @router.get("/health", response_model=HealthResponse, responses={**UNAVAILABLE})
    def read_health(store: StoreDep) -> HealthResponse:
        """200 when the service can read its database: for health checks and readiness waits."""
        store.check()  # a StoreError is answered 503 by its handler (app/errors.py)
        return HealthResponse(status="ok")
