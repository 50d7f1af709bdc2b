"""Every error is answered as JSON (ErrorResponse): never a 422, never a stack trace."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from fastapi import FastAPI, Request, status
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from app.models import ErrorResponse, FieldError
from app.store import StoreError

logger = logging.getLogger(__name__)


class InvalidParameter(Exception):
    """A request parameter that passed its type check but is not valid: answered 400."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


def error_response(
    status_code: int,
    detail: str,
    errors: list[FieldError] | None = None,
    headers: Mapping[str, str] | None = None,
) -> JSONResponse:
    body = ErrorResponse(detail=detail, errors=errors or [])
    return JSONResponse(body.model_dump(), status_code=status_code, headers=headers)


def _field_name(loc: tuple[Any, ...]) -> str:
    # ("body", "counter") -> "counter"; ("body",) or ("body", 12) -> "body";
    # ("query", "page") -> "page".
    if len(loc) >= 2 and isinstance(loc[1], str):
        return ".".join(str(part) for part in loc[1:])
    return str(loc[0]) if loc else "body"


def _validation_errors(exc: RequestValidationError) -> list[FieldError]:
    # Only the location and pydantic's message: the rejected input is never echoed back.
    return [
        FieldError(field=_field_name(tuple(error.get("loc", ()))), message=str(error["msg"]))
        for error in exc.errors()
    ]


def _is_json(content_type: str) -> bool:
    media_type = content_type.split(";", 1)[0].strip().lower()
    return media_type == "application/json" or media_type.endswith("+json")


def _drop_tracebacks(exc: BaseException) -> None:
    """Let an answered error, and those it was raised from, go without the collector.

    FastAPI answers a body that is not JSON with ``raise validation_error from e`` in the
    frame that holds both: each error's traceback holds that frame, which holds the error, a
    cycle of some 70 objects a request that reference counting cannot free, so bad input piled
    up garbage until the collector came (app/server.py collects the young generation rarely).
    Nothing reads the tracebacks of an answered error: no answer carries one and no log line
    prints one.
    """
    pending: list[BaseException | None] = [exc]
    seen: set[int] = set()
    while pending:
        error = pending.pop()
        if error is None or id(error) in seen:
            continue
        seen.add(id(error))
        error.__traceback__ = None
        pending += [error.__cause__, error.__context__]


Handler = Callable[[Request, Exception], Awaitable[JSONResponse]]


def _answered(handler: Handler) -> Handler:
    """``handler``, after which the error it answered is let go (:func:`_drop_tracebacks`)."""

    async def answer(request: Request, exc: Exception) -> JSONResponse:
        try:
            return await handler(request, exc)
        finally:
            _drop_tracebacks(exc)

    return answer


async def _on_validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = _validation_errors(exc)
    content_type = request.headers.get("content-type", "")
    if request.method == "POST" and not _is_json(content_type):
        # FastAPI does not parse a body that is not declared JSON: say why, not what it saw.
        errors = [FieldError(field="content-type", message="must be application/json")]
    return error_response(status.HTTP_400_BAD_REQUEST, "the request is not valid", errors)


async def _on_invalid_parameter(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, InvalidParameter)
    errors = [FieldError(field=exc.field, message=exc.message)]
    return error_response(status.HTTP_400_BAD_REQUEST, "the request is not valid", errors)


async def _on_http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    return error_response(exc.status_code, str(exc.detail), headers=exc.headers)


async def _on_store_error(request: Request, exc: Exception) -> JSONResponse:
    # The one place a failing log database becomes an answer: 503, so that the client may
    # retry, and nothing changed (an update is applied only once its row is written).
    logger.error("log database error on %s %s: %s", request.method, request.url.path, exc)
    if request.method == "POST":
        detail = "the update could not be recorded, so the state was not changed"
    else:
        detail = "the log database cannot be read"
    return error_response(status.HTTP_503_SERVICE_UNAVAILABLE, detail)


async def _on_unexpected_error(request: Request, exc: Exception) -> JSONResponse:
    logger.error("unexpected %s on %s %s", type(exc).__name__, request.method, request.url.path)
    return error_response(status.HTTP_500_INTERNAL_SERVER_ERROR, "internal error")


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(RequestValidationError, _answered(_on_validation_error))
    app.add_exception_handler(InvalidParameter, _answered(_on_invalid_parameter))
    app.add_exception_handler(StarletteHTTPException, _answered(_on_http_error))
    app.add_exception_handler(StoreError, _answered(_on_store_error))
    # Not let go: starlette raises an unexpected error again once it is answered (500), for
    # the server to report it.
    app.add_exception_handler(Exception, _on_unexpected_error)
