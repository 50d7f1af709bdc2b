"""Request and response bodies, with the limits the OpenAPI document declares."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    field_validator,
    model_validator,
)
from pydantic.config import JsonDict

INT64_MIN = -(2**63)
INT64_MAX = 2**63 - 1
MAX_LOGS_LIMIT = 100

Timestamp = Annotated[
    str,
    Field(
        description="UTC, ISO 8601, ending in Z",
        json_schema_extra={"format": "date-time"},
        examples=["2025-01-01T12:00:00.000000Z"],
    ),
]


def _whole_float_as_int(value: Any) -> Any:
    """``2.0`` is the integer 2: JSON has one number type, and JSON Schema 2020-12 (which the
    OpenAPI 3.1 document speaks) counts a number with a zero fraction as an integer. Anything
    else is left to strict validation: ``"5"``, ``true`` and ``1.5`` stay refused."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


Counter = Annotated[
    int,
    Field(strict=True, ge=INT64_MIN, le=INT64_MAX),
    BeforeValidator(_whole_float_as_int),
]


class State(BaseModel):
    """The shared state."""

    model_config = ConfigDict(extra="forbid")

    counter: Counter
    message: str


INITIAL_STATE = State(counter=0, message="initial")


class UpdateRequestBase(BaseModel):
    """Fields common to every update request; the message limit is added per configuration."""

    model_config = ConfigDict(extra="forbid")

    counter: Counter | None = None
    message: str | None = None

    @field_validator("message")
    @classmethod
    def _message_is_encodable(cls, value: str | None) -> str | None:
        # JSON may carry a lone surrogate ("\ud800"), which no UTF-8 response could echo.
        if value is not None:
            try:
                value.encode("utf-8")
            except UnicodeEncodeError:
                raise ValueError("message must be valid Unicode (no lone surrogates)") from None
        return value

    @model_validator(mode="after")
    def _at_least_one_field(self) -> UpdateRequestBase:
        if self.counter is None and self.message is None:
            raise ValueError("give at least one of counter or message, not null")
        return self

    def changes(self) -> dict[str, Any]:
        """The fields this request sets."""
        return {k: v for k, v in self.model_dump().items() if v is not None}


def update_request_model(max_message_length: int) -> type[UpdateRequestBase]:
    """The update request body, with the configured message limit in its schema."""

    # Schema-driven clients read "at least one non-null field" from this anyOf.
    at_least_one: JsonDict = {
        "minProperties": 1,
        "anyOf": [
            {"required": ["counter"], "properties": {"counter": {"type": "integer"}}},
            {"required": ["message"], "properties": {"message": {"type": "string"}}},
        ],
    }

    class UpdateRequest(UpdateRequestBase):
        """Set the counter, the message, or both."""

        model_config = ConfigDict(
            extra="forbid", title="UpdateRequest", json_schema_extra=at_least_one
        )

        message: Annotated[str, Field(strict=True, max_length=max_message_length)] | None = None

    return UpdateRequest


class StatusResponse(BaseModel):
    """The current state, the time, and how long the service has run."""

    state: State
    timestamp: Timestamp
    uptime_seconds: float = Field(ge=0)


class UpdateResponse(BaseModel):
    """The state after the update, the one before it, and the log row that records it."""

    state: State
    old_state: State
    log_id: int = Field(ge=1)
    timestamp: Timestamp


class LogEntry(BaseModel):
    """One recorded update."""

    id: int = Field(ge=1)
    timestamp: Timestamp
    old_value: State
    new_value: State


class LogPage(BaseModel):
    """One page of the update log, newest first."""

    items: list[LogEntry]
    page: int | None = Field(
        ge=1, description="The page asked for by number; null when it was asked for by cursor."
    )
    limit: int = Field(ge=1, le=MAX_LOGS_LIMIT)
    total: int = Field(ge=0, description="Rows in the whole log, now.")
    pages: int = Field(ge=0, description="Pages of `limit` rows the whole log makes, now.")
    next_cursor: str | None = Field(
        description=(
            "Pass as `cursor` to read the rows after this page's last (keyset paging: as cheap "
            "for the last page as the first, and stable while updates arrive); null when none "
            "follow."
        ),
    )


class HealthResponse(BaseModel):
    """The service can read its database."""

    status: str = Field(examples=["ok"])


class FieldError(BaseModel):
    """What is wrong with one field of the request."""

    field: str = Field(description="The offending field: a body field, query parameter or 'body'.")
    message: str


class ErrorResponse(BaseModel):
    """Every error answer: a summary, and the offending fields for validation errors."""

    detail: str
    errors: list[FieldError] = Field(default_factory=list)
